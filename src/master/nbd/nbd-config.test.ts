import { describe, expect, it } from "vitest";
import { isClientLog, nbdServerArgs, planNbdExports, renderNbdServerConfig } from "./nbd-config.js";

describe("renderNbdServerConfig", () => {
  it("exports every image read-only by label and a writable copy to one client", () => {
    const plan = planNbdExports({
      listenAddress: "10.77.0.1",
      runDir: "/run/recon",
      images: [
        { label: "debian-12", isoPath: "/run/recon/http/isos/debian-12.iso" },
        { label: "rescue", isoPath: "/var/lib/recon/images/rescue/isos/rescue.iso" },
      ],
      writableCopies: [{ label: "debian-12-rw-525400ab0001", path: "/var/lib/recon/images/debian-12-rw-525400ab0001/rootfs.img" }],
    });
    expect(renderNbdServerConfig(plan)).toBe(`# Written by recon (src/master/nbd/nbd-config.ts); rewritten at each start.
[generic]
    listenaddr = 10.77.0.1
    port = 10809
    allowlist = false

[debian-12]
    exportname = /run/recon/http/isos/debian-12.iso
    readonly = true
    transactionlog = /run/recon/nbd/debian-12.trlog
    prerun = mv -f /run/recon/nbd/debian-12.trlog "$(mktemp /run/recon/nbd/debian-12.trlog.XXXXXX)" 2>/dev/null; exit 0

[rescue]
    exportname = /var/lib/recon/images/rescue/isos/rescue.iso
    readonly = true
    transactionlog = /run/recon/nbd/rescue.trlog
    prerun = mv -f /run/recon/nbd/rescue.trlog "$(mktemp /run/recon/nbd/rescue.trlog.XXXXXX)" 2>/dev/null; exit 0

[debian-12-rw-525400ab0001]
    exportname = /var/lib/recon/images/debian-12-rw-525400ab0001/rootfs.img
    readonly = false
    transactionlog = /run/recon/nbd/debian-12-rw-525400ab0001.trlog
    prerun = mkdir /run/recon/nbd/debian-12-rw-525400ab0001.holder 2>/dev/null || { echo held >> /run/recon/nbd/debian-12-rw-525400ab0001.holder.refused; exit 1; }; mv -f /run/recon/nbd/debian-12-rw-525400ab0001.trlog "$(mktemp /run/recon/nbd/debian-12-rw-525400ab0001.trlog.XXXXXX)" 2>/dev/null; exit 0
    postrun = rmdir /run/recon/nbd/debian-12-rw-525400ab0001.holder
`);
  });

  it("refuses names and paths nbd-server would misread", () => {
    const base = { listenAddress: "10.77.0.1", port: 10809 };
    const one = (name: string, path: string) => ({ ...base, exports: [{ name, path, readonly: true, transactionLog: "/run/x.trlog" }] });
    expect(() => renderNbdServerConfig(one("generic", "/a.iso"))).toThrow(/cannot be an NBD export name/);
    expect(() => renderNbdServerConfig(one("a]b", "/a.iso"))).toThrow(/cannot be an NBD export name/);
    expect(() => renderNbdServerConfig(one("ok", "rel.iso"))).toThrow(/not an absolute path/);
    expect(() => renderNbdServerConfig(one("ok", "/a b.iso"))).toThrow(/not an absolute path/);
    const twice = { ...base, exports: [...one("x", "/a.iso").exports, ...one("x", "/b.iso").exports] };
    expect(() => renderNbdServerConfig(twice)).toThrow(/two NBD exports named x/);
    // The log path goes into the prerun command through printf and a shell: nothing either would read.
    for (const log of ["/run/a%s.trlog", "/run/$(id).trlog", "/run/a'b.trlog"]) {
      expect(() => renderNbdServerConfig({ ...base, exports: [{ name: "ok", path: "/a.iso", readonly: true, transactionLog: log }] })).toThrow(
        /not a plain absolute path/,
      );
    }
  });

  it("knows each client's renamed log by its mktemp suffix", () => {
    expect(isClientLog("debian-12.trlog", "debian-12.trlog.aB3xY9")).toBe(true);
    expect(isClientLog("debian-12.trlog", "debian-12.trlog")).toBe(false);
    expect(isClientLog("debian-12.trlog", "debian-12-rw-5254.trlog.aB3xY9")).toBe(false);
    expect(isClientLog("debian-12.trlog", "debian-12.trlog.aB3xY9.old")).toBe(false);
  });

  it("runs with the config file and a pid file only", () => {
    expect(nbdServerArgs("/run/recon/nbd/nbd-server.conf", "/run/recon/nbd/nbd-server.pid")).toEqual([
      "-C",
      "/run/recon/nbd/nbd-server.conf",
      "-p",
      "/run/recon/nbd/nbd-server.pid",
    ]);
  });
});
