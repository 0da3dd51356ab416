import { describe, expect, it } from "vitest";
import { ROOT_TRANSPORTS, type RootTransport } from "../model/root-transport.js";
import { nbdExportName, nfsExportPath, rootKernelArgs, rootSource, rwCopyLabel, torrentRootUrl, type RootContext } from "./root-transport.js";

const ctx: RootContext = {
  host: "10.77.0.1",
  address: "10.77.0.1",
  label: "debian-12",
  isoUrl: "http://10.77.0.1/isos/debian-12.iso",
  volumeId: "RECON",
  mac: "52:54:00:AB:00:01",
};

describe("rootKernelArgs", () => {
  it("gives each transport's whole kernel arguments (dracut 059 syntax)", () => {
    const all = Object.fromEntries(ROOT_TRANSPORTS.map((root) => [root, rootKernelArgs(root, ctx).join(" ")]));
    expect(all).toEqual({
      http: "root=live:http://10.77.0.1/isos/debian-12.iso rd.live.ram=1",
      nbd: "root=live:CDLABEL=RECON netroot=nbd:10.77.0.1:debian-12 rd.live.ram=0",
      "nbd-rw": "root=nbd:10.77.0.1:debian-12-rw-525400ab0001:ext4:rw rw",
      nfs: "root=nfs4:10.77.0.1:/run/recon-nfs/debian-12:ro rootovl",
    });
  });

  it("uses the HTTP host with its port for http, the bare address for the others", () => {
    const withPort = { ...ctx, host: "10.77.0.1:8080", isoUrl: "http://10.77.0.1:8080/isos/debian-12.iso" };
    expect(rootKernelArgs("http", withPort)[0]).toBe("root=live:http://10.77.0.1:8080/isos/debian-12.iso");
    expect(rootKernelArgs("nbd", withPort)[1]).toBe("netroot=nbd:10.77.0.1:debian-12");
  });

  it("refuses a value outside the model with a typed error", () => {
    expect(() => rootKernelArgs("iscsi" as RootTransport, ctx)).toThrow(expect.objectContaining({ code: "CONFIG_INVALID" }));
  });
});

describe("rootSource", () => {
  it("names the server, the transport and the export the console says the node boots from", () => {
    const all = Object.fromEntries(ROOT_TRANSPORTS.map((root) => [root, rootSource(root, ctx)]));
    expect(all).toEqual({
      http: "http://10.77.0.1/isos/debian-12.iso",
      nbd: "nbd://10.77.0.1/debian-12 (read-only, blocks on demand)",
      "nbd-rw": "nbd://10.77.0.1/debian-12-rw-525400ab0001 (read-write copy of debian-12)",
      nfs: "nfs://10.77.0.1/run/recon-nfs/debian-12 (read-only, overlay in RAM)",
    });
    expect(() => rootSource("iscsi" as RootTransport, ctx)).toThrow(expect.objectContaining({ code: "CONFIG_INVALID" }));
  });
});

describe("export names", () => {
  it("names the read-only export by the label and the writable copy as a new label per node", () => {
    expect(nbdExportName("debian-12")).toBe("debian-12");
    expect(rwCopyLabel("debian-12", "52:54:00:AB:00:01")).toBe("debian-12-rw-525400ab0001");
    expect(rwCopyLabel("debian-12", "52:54:00:ab:00:01")).not.toBe("debian-12");
    expect(nfsExportPath("debian-12")).toBe("/run/recon-nfs/debian-12");
  });
});

describe("missing context", () => {
  it("says which piece the boot decision lacks instead of rendering an empty label", () => {
    const { volumeId: _v, mac: _m, ...bare } = ctx;
    expect(rootKernelArgs("http", bare)).toHaveLength(2);
    expect(() => rootKernelArgs("nbd", bare)).toThrow(/was not given the image's volumeId/);
    expect(() => rootKernelArgs("nbd-rw", bare)).toThrow(/was not given the image's mac/);
    expect(rootKernelArgs("nfs", bare)[0]).toBe("root=nfs4:10.77.0.1:/run/recon-nfs/debian-12:ro");
  });
});

describe("peer assist (#14 item 5)", () => {
  const withTorrent = { ...ctx, torrentUrl: torrentRootUrl("10.77.0.1", "debian-12") };
  it("gives root http the image's torrent for the initrd's URL handler, the ISO in RAM its root (no second copy)", () => {
    expect(rootKernelArgs("http", withTorrent).join(" ")).toBe("root=live:torrent://10.77.0.1/torrent/debian-12.torrent rd.live.ram=1");
    expect(rootSource("http", withTorrent)).toBe(
      "torrent://10.77.0.1/torrent/debian-12.torrent (BitTorrent from the other peers, web seed http://10.77.0.1/isos/debian-12.iso)",
    );
  });
  it("leaves the other transports as they are", () => {
    for (const root of ["nbd", "nbd-rw", "nfs"] as const) expect(rootKernelArgs(root, withTorrent)).toEqual(rootKernelArgs(root, ctx));
  });
});
