/**
 * `lspci -vmm -nn -k` → PCI devices. Records are separated by blank lines; with -nn names end
 * in "[id]"; with -k "Driver:" names the bound driver. Slots without a domain get "0000:".
 */
import type { PciDevice } from "../schema.js";
import { clean, type Parsed } from "./common.js";

/** "Ethernet controller [0200]" → { name: "Ethernet controller", id: "0200" }. */
function nameAndId(value: string | undefined): { name: string | null; id: string | null } {
  if (value === undefined) return { name: null, id: null };
  const match = /^(.*?)\s*\[([0-9a-fA-F]{4})\]$/.exec(value.trim());
  if (!match) return { name: clean(value), id: /^[0-9a-fA-F]{4}$/.test(value.trim()) ? value.trim().toLowerCase() : null };
  // pci.ids has no name for the id: lspci prints the bare word "Vendor"/"Device"/"Class".
  const name = /^(Vendor|Device|Class)$/.test(match[1]!.trim()) ? null : clean(match[1]);
  return { name, id: match[2]!.toLowerCase() };
}

export function parsePciSlot(slot: string): string {
  return /^[0-9a-f]{4}:/i.test(slot) ? slot.toLowerCase() : `0000:${slot.toLowerCase()}`;
}

export function parseLspci(text: string): Parsed<PciDevice[]> {
  const devices: PciDevice[] = [];
  for (const block of text.replace(/\r/g, "").split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of block.split("\n")) {
      const match = /^(\w+):\s*(.*)$/.exec(line);
      // The first occurrence wins ("Device:" is the device name; a second one does not occur with -vmm).
      if (match && !fields.has(match[1]!)) fields.set(match[1]!, match[2]!);
    }
    const slot = fields.get("Slot");
    if (!slot) continue;
    const cls = nameAndId(fields.get("Class"));
    const vendor = nameAndId(fields.get("Vendor"));
    const device = nameAndId(fields.get("Device"));
    const subVendor = nameAndId(fields.get("SVendor"));
    const subDevice = nameAndId(fields.get("SDevice"));
    devices.push({
      slot: parsePciSlot(slot.trim()),
      vendor_id: vendor.id,
      product_id: device.id,
      class_id: cls.id,
      vendor: vendor.name,
      product: device.name,
      class: cls.name,
      subsystem_vendor_id: subVendor.id,
      subsystem_id: subDevice.id,
      revision: clean(fields.get("Rev")),
      driver: clean(fields.get("Driver")),
    });
  }
  // Every PCI machine has at least a host bridge: no record at all means lspci did not work.
  const errors = devices.length === 0 ? [{ source: "raw/lspci.txt", message: text.trim() === "" ? "empty output" : "no 'Slot:' records in lspci output" }] : [];
  return { value: devices, errors };
}
