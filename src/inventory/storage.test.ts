import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseLspci } from "./parse/lspci.js";
import { parseStorcliJson } from "./parse/storcli.js";
import type { RaidToolController } from "./parse/storcli.js";
import { isStorageClass, storageControllers } from "./storage.js";

const FIXTURES = join(import.meta.dirname, "../../test/fixtures/inventory");
const read = (path: string) => readFileSync(join(FIXTURES, path), "utf8");

describe("storageControllers", () => {
  it("lists the PCI mass-storage functions of a real lspci with their drivers, and nothing else", () => {
    // Captured from a lab VM (virtio-blk disks, the q35 AHCI controller).
    const pci = parseLspci(read("vm-bios-dell/raw/lspci.txt")).value;
    const { controllers, findings } = storageControllers(pci, []);
    expect(controllers.map((c) => `${c.pci_slot} ${c.class_id} ${c.driver} ${c.product}`)).toEqual(
      pci.filter((device) => device.class_id?.startsWith("01")).map((d) => `${d.slot} ${d.class_id} ${d.driver} ${d.product}`),
    );
    expect(controllers.some((c) => c.driver === "ahci" && c.class_id === "0106")).toBe(true);
    expect(controllers.some((c) => c.class_id?.startsWith("02") || c.class_id?.startsWith("06"))).toBe(false);
    expect(controllers.every((c) => c.tool === null && c.virtual_drives.length === 0)).toBe(true);
    expect(findings).toEqual([]);
  });

  it("fills a controller from storcli's report at the same PCI address; one the listing lacks is added", () => {
    const storcli = parseStorcliJson(read("real/storage/netdata-storcli-megaraid-controllers-info.json"), "raw/workload/storcli.out").value;
    const atAddress = storcli[0]!.pci_address!;
    const pci = [
      {
        slot: atAddress,
        vendor_id: "1000",
        product_id: "0079",
        class_id: "0104",
        vendor: "Broadcom / LSI",
        product: "MegaRAID SAS 2108 [Liberator]",
        class: "RAID bus controller",
        subsystem_vendor_id: null,
        subsystem_id: null,
        revision: null,
        driver: "megaraid_sas",
      },
    ];
    const matched = storageControllers(pci, [{ source: "raw/workload/storcli.out", controllers: storcli }]).controllers;
    expect(matched).toHaveLength(1);
    expect(matched[0]).toMatchObject({ pci_slot: atAddress, driver: "megaraid_sas", tool: "storcli", model: "ServeRAID M5015 SAS/SATA Controller" });
    expect(matched[0]!.virtual_drives).toEqual([{ id: "0/0", raid_level: "RAID6", state: "Optl", health: "ok", size_bytes: 63999273317958 }]);

    const unlisted = storageControllers([], [{ source: "raw/workload/storcli.out", controllers: storcli }]).controllers;
    expect(unlisted.map((c) => [c.pci_slot, c.driver, c.tool])).toEqual([[atAddress, null, "storcli"]]);
  });

  it("makes a degraded virtual drive a warning and a failed one critical, with the tool's words", () => {
    // Pure logic: the state words come from storcli's legend (parse/storcli.ts), tested there on real output.
    const tool: RaidToolController = {
      pci_address: null,
      model: "PERC H730P Mini",
      firmware_version: null,
      serial_number: null,
      tool: "perccli",
      virtual_drives: [
        { id: "0/0", raid_level: "RAID1", state: "Dgrd", health: "degraded", size_bytes: null },
        { id: "1/1", raid_level: "RAID0", state: "OfLn", health: "failed", size_bytes: null },
        { id: "2/2", raid_level: "RAID5", state: "Optl", health: "ok", size_bytes: null },
        { id: "3/3", raid_level: "RAID5", state: "Cac", health: null, size_bytes: null },
      ],
    };
    const { controllers, findings } = storageControllers([], [{ source: "raw/workload/perccli.out", controllers: [tool] }]);
    expect(controllers[0]!.pci_slot).toBe("perccli:0");
    expect(findings.map((f) => `${f.severity} ${f.category} ${f.component}: ${f.message} [${f.source}: ${f.evidence}]`)).toEqual([
      "warning storage PERC H730P Mini 0/0: virtual drive 0/0 (RAID1) on PERC H730P Mini is degraded: perccli says Dgrd [raw/workload/perccli.out: 0/0 RAID1 Dgrd]",
      "critical storage PERC H730P Mini 1/1: virtual drive 1/1 (RAID0) on PERC H730P Mini has failed: perccli says OfLn [raw/workload/perccli.out: 1/1 RAID0 OfLn]",
    ]);
  });

  it("tells mass-storage class ids from the rest", () => {
    expect(["0100", "0104", "0106", "0107", "0108", "0180"].every(isStorageClass)).toBe(true);
    expect(["0200", "0300", "0c03", null, "01"].some(isStorageClass)).toBe(false);
  });
});
