/**
 * Storage controllers: every PCI mass-storage function (class 01xx: SCSI, IDE, RAID, SATA AHCI,
 * SAS, NVMe…) with its kernel driver, and — when a workload ran a vendor RAID tool (storcli,
 * perccli, ssacli; docs/workload.md) — that tool's model, firmware, serial and virtual drives,
 * matched by PCI address. Pure. Degraded or failed virtual drives become findings.
 */
import type { RaidToolController } from "./parse/storcli.js";
import type { Finding, PciDevice, StorageController } from "./schema.js";

export interface ToolReport {
  /** The raw file the tool's output was read from (raw/workload/storcli.out). */
  source: string;
  controllers: RaidToolController[];
}

/** PCI base class 01: mass storage controller (PCI Code and ID Assignment Specification). */
export function isStorageClass(classId: string | null): boolean {
  return classId !== null && /^01[0-9a-f]{2}$/i.test(classId);
}

/** A controller record at `slot` with nothing known yet: the PCI listing or a RAID tool fills it. */
function bareController(slot: string): StorageController {
  return {
    pci_slot: slot,
    vendor: null,
    product: null,
    class_id: null,
    driver: null,
    model: null,
    firmware_version: null,
    serial_number: null,
    tool: null,
    virtual_drives: [],
  };
}

export function storageControllers(pci: PciDevice[], reports: ToolReport[]): { controllers: StorageController[]; findings: Finding[] } {
  const controllers: StorageController[] = pci
    .filter((device) => isStorageClass(device.class_id))
    .map((device) => ({ ...bareController(device.slot), vendor: device.vendor, product: device.product, class_id: device.class_id, driver: device.driver }));
  const findings: Finding[] = [];
  for (const report of reports) {
    for (const [index, tool] of report.controllers.entries()) {
      const match = tool.pci_address === null ? undefined : controllers.find((controller) => controller.pci_slot === tool.pci_address);
      // A tool's controller the PCI listing does not show (no lspci in the upload, or an address the tool
      // did not print) is still listed: what the RAID tool says matters more than where it sits.
      const target = match ?? controllers[controllers.push(bareController(tool.pci_address ?? `${tool.tool}:${index}`)) - 1]!;
      target.model = tool.model;
      target.firmware_version = tool.firmware_version;
      target.serial_number = tool.serial_number;
      target.tool = tool.tool;
      target.virtual_drives = tool.virtual_drives;
      const name = tool.model ?? target.product ?? target.pci_slot;
      for (const drive of tool.virtual_drives) {
        if (drive.health !== "degraded" && drive.health !== "failed") continue;
        findings.push({
          category: "storage",
          // schema: critical is broken now (the volume is gone), warning is degraded (redundancy lost).
          severity: drive.health === "failed" ? "critical" : "warning",
          component: `${name} ${drive.id}`,
          message: `virtual drive ${drive.id}${drive.raid_level === null ? "" : ` (${drive.raid_level})`} on ${name} ${drive.health === "failed" ? "has failed" : "is degraded"}: ${tool.tool} says ${drive.state ?? "?"}`,
          source: report.source,
          evidence: `${drive.id} ${drive.raid_level ?? ""} ${drive.state ?? ""}`.replace(/\s+/g, " ").trim(),
          at: null,
        });
      }
    }
  }
  controllers.sort((a, b) => a.pci_slot.localeCompare(b.pci_slot));
  return { controllers, findings };
}
