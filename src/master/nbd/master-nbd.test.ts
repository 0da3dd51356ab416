import { describe, expect, it } from "vitest";
import { parseSiteConfig } from "../../model/site-config.js";
import type { ImageTree } from "../images.js";
import { planMasterNbd } from "./master-nbd.js";

const images: ImageTree[] = [
  { label: "debian-12", arch: "x86_64", kernelArgs: [], root: "/run/recon/medium", from: "own" },
  { label: "rocky-9", arch: "x86_64", kernelArgs: [], root: "/var/lib/recon/images/rocky-9", from: "data-partition" },
];
const plan = (yaml: string) =>
  planMasterNbd({ config: parseSiteConfig(yaml, "site.yaml"), images, address: "10.77.0.1", runDir: "/run/recon", dataDir: "/var/lib/recon" });

describe("planMasterNbd", () => {
  it("runs no nbd-server when no layer sets an NBD root", () => {
    expect(plan("")).toBeUndefined();
    expect(plan('hosts:\n  "52:54:00:00:00:01": { root: nfs }\n')).toBeUndefined();
  });

  it("exports every served image read-only from its own tree and each nbd-rw node's copy read-write, on the boot address", () => {
    const wanted = plan(
      'defaults: { root: http }\nhosts:\n  "52:54:00:00:00:01": { root: nbd }\n  "52:54:00:00:00:02": { root: nbd-rw }\n  "52:54:00:00:00:03": { root: nbd-rw, image: rocky-9 }\n',
    );
    expect(wanted).toMatchObject({
      wantedBy: ["hosts.52:54:00:00:00:01", "hosts.52:54:00:00:00:02", "hosts.52:54:00:00:00:03"],
      writableCopies: [
        { where: "hosts.52:54:00:00:00:02", mac: "52:54:00:00:00:02", from: "debian-12", label: "debian-12-rw-525400000002" },
        { where: "hosts.52:54:00:00:00:03", mac: "52:54:00:00:00:03", from: "rocky-9", label: "rocky-9-rw-525400000003" },
      ],
      server: {
        listenAddress: "10.77.0.1",
        port: 10809,
        exports: [
          { name: "debian-12", path: "/run/recon/medium/isos/debian-12.iso", readonly: true, transactionLog: "/run/recon/nbd/debian-12.trlog" },
          { name: "rocky-9", path: "/var/lib/recon/images/rocky-9/isos/rocky-9.iso", readonly: true, transactionLog: "/run/recon/nbd/rocky-9.trlog" },
          {
            name: "debian-12-rw-525400000002",
            path: "/var/lib/recon/images/debian-12-rw-525400000002/rootfs.img",
            readonly: false,
            holderLock: "/run/recon/nbd/debian-12-rw-525400000002.holder",
          },
          {
            name: "rocky-9-rw-525400000003",
            path: "/var/lib/recon/images/rocky-9-rw-525400000003/rootfs.img",
            readonly: false,
            holderLock: "/run/recon/nbd/rocky-9-rw-525400000003.holder",
          },
        ],
      },
    });
    expect(wanted!.server.exports.filter((entry) => entry.readonly).every((entry) => entry.holderLock === undefined)).toBe(true);
  });

  it("takes a host's image from its groups too (what its MAC alone resolves to)", () => {
    const wanted = plan('groups:\n  rack: { macs: ["52:54:00:00:00:02"], image: rocky-9 }\nhosts:\n  "52:54:00:00:00:02": { root: nbd-rw }\n');
    expect(wanted!.writableCopies.map((copy) => copy.label)).toEqual(["rocky-9-rw-525400000002"]);
  });

  it("refuses nbd-rw in any layer but hosts.<mac>, naming the layer and the fix", () => {
    for (const [yaml, where] of [
      ["defaults: { root: nbd-rw }\n", "defaults"],
      ['networks:\n  "10.77.0.0/24": { root: nbd-rw }\n', "networks.10.77.0.0/24"],
      ['groups:\n  rack: { macs: ["52:54:00:00:00:02"], root: nbd-rw }\n', "groups.rack"],
      ['ips:\n  "10.77.0.9": { root: nbd-rw }\n', "ips.10.77.0.9"],
    ] as const) {
      expect(() => plan(yaml)).toThrow(
        expect.objectContaining({
          code: "CONFIG_INVALID",
          message: `the site config's ${where} sets root: nbd-rw, but a writable copy belongs to one node`,
          hint: expect.stringContaining("set root: nbd-rw under hosts.<mac>"),
        }),
      );
    }
  });

  it("refuses nbd-rw for an image this master does not serve", () => {
    expect(() => plan('hosts:\n  "52:54:00:00:00:02": { root: nbd-rw, image: alma-9 }\n')).toThrow(
      /sets root: nbd-rw for image alma-9, which this master does not serve/,
    );
  });
});
