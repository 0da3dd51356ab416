import { describe, expect, it } from "vitest";
import { parseSiteConfig } from "../../model/site-config.js";
import type { ImageTree } from "../images.js";
import { planMasterNbd } from "./master-nbd.js";

const images: ImageTree[] = [
  { label: "debian-12", arch: "x86_64", kernelArgs: [], root: "/run/recon/medium", from: "own" },
  { label: "rocky-9", arch: "x86_64", kernelArgs: [], root: "/var/lib/recon/images/rocky-9", from: "data-partition" },
];
const plan = (yaml: string) => planMasterNbd({ config: parseSiteConfig(yaml, "site.yaml"), images, address: "10.77.0.1", runDir: "/run/recon" });

describe("planMasterNbd", () => {
  it("runs no nbd-server when no layer sets an NBD root", () => {
    expect(plan("")).toBeUndefined();
    expect(plan('hosts:\n  "52:54:00:00:00:01": { root: nfs }\n')).toBeUndefined();
  });

  it("exports every served image from its own tree, on the boot address, for the layers that want it", () => {
    const wanted = plan('defaults: { root: http }\nhosts:\n  "52:54:00:00:00:01": { root: nbd }\n  "52:54:00:00:00:02": { root: nbd-rw }\n');
    expect(wanted).toMatchObject({
      wantedBy: ["hosts.52:54:00:00:00:01", "hosts.52:54:00:00:00:02"],
      writableWantedBy: ["hosts.52:54:00:00:00:02"],
      server: {
        listenAddress: "10.77.0.1",
        port: 10809,
        exports: [
          { name: "debian-12", path: "/run/recon/medium/isos/debian-12.iso", readonly: true, transactionLog: "/run/recon/nbd/debian-12.trlog" },
          { name: "rocky-9", path: "/var/lib/recon/images/rocky-9/isos/rocky-9.iso", readonly: true, transactionLog: "/run/recon/nbd/rocky-9.trlog" },
        ],
      },
    });
    expect(wanted!.server.exports.every((entry) => entry.holderLock === undefined)).toBe(true);
  });
});
