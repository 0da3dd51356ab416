/**
 * `dmidecode -t 0,1,2,3,4,17,38` text → SMBIOS records. Tolerant: unknown record types are
 * skipped, missing keys are null, "No Module Installed" slots are left out of the DIMMs.
 */
import type { Dimm, Firmware, SystemVendor } from "../schema.js";
import { clean, isoDate, sizeToBytes, toInt, type Parsed } from "./common.js";

export interface DmiRecord {
  handle: string;
  type: number;
  title: string;
  fields: Map<string, string>;
  /** Multi-line fields ("Characteristics:", "Flags:") as their item lines. */
  lists: Map<string, string[]>;
}

export interface DmiProcessor {
  socket: string | null;
  manufacturer: string | null;
  version: string | null;
  max_speed_mhz: number | null;
  current_speed_mhz: number | null;
  core_count: number | null;
  thread_count: number | null;
  populated: boolean;
}

export interface DmiBmc {
  /** SMBIOS type 38 (IPMI Device Information). */
  interface_type: string | null;
  specification_version: string | null;
  base_address: string | null;
}

export interface DmiInfo {
  system_vendor: SystemVendor;
  firmware: Firmware;
  baseboard: { manufacturer: string | null; product_name: string | null; serial_number: string | null };
  chassis: { manufacturer: string | null; type: string | null; serial_number: string | null };
  processors: DmiProcessor[];
  dimms: Dimm[];
  ipmi: DmiBmc | null;
  /** How many records were read: 0 means the text held no SMBIOS data at all. */
  records: number;
}

const SOURCE = "raw/dmidecode.txt";

export function splitDmiRecords(text: string): DmiRecord[] {
  const records: DmiRecord[] = [];
  for (const block of text.replace(/\r/g, "").split(/\n\s*\n/)) {
    const lines = block.split("\n");
    const headerIndex = lines.findIndex((line) => /^Handle 0x[0-9A-Fa-f]+, DMI type \d+/.test(line));
    if (headerIndex < 0) continue;
    const header = /^Handle (0x[0-9A-Fa-f]+), DMI type (\d+)/.exec(lines[headerIndex]!)!;
    const record: DmiRecord = {
      handle: header[1]!,
      type: Number(header[2]),
      title: (lines[headerIndex + 1] ?? "").trim(),
      fields: new Map(),
      lists: new Map(),
    };
    let listKey: string | null = null;
    for (const line of lines.slice(headerIndex + 2)) {
      if (/^\t\t/.test(line) && listKey) {
        record.lists.get(listKey)!.push(line.trim());
        continue;
      }
      const match = /^\t([^:\t][^:]*):\s?(.*)$/.exec(line);
      if (!match) continue;
      const key = match[1]!.trim();
      const value = match[2]!.trim();
      if (value === "") {
        listKey = key;
        record.lists.set(key, []);
      } else {
        listKey = null;
        if (!record.fields.has(key)) record.fields.set(key, value);
      }
    }
    records.push(record);
  }
  return records;
}

/** "2666 MT/s", "2666 MHz" → 2666; "Unknown" → null. */
function speed(text: string | undefined): number | null {
  const match = /^(\d+)\s*(MT\/s|MHz)$/i.exec(text?.trim() ?? "");
  return match ? Number(match[1]) : null;
}

/** Module sizes: "16 GB", "16384 MB"; "No Module Installed"/"Not Installed" → null. */
function moduleSize(text: string | undefined): number | null {
  return sizeToBytes(text ?? null);
}

export function parseDmidecode(text: string): Parsed<DmiInfo> {
  const records = splitDmiRecords(text);
  const errors = records.length === 0 ? [{ source: SOURCE, message: `no SMBIOS records in the output (${firstLine(text)})` }] : [];
  const first = (type: number) => records.find((record) => record.type === type)?.fields ?? new Map<string, string>();
  const system = first(1);
  const bios = first(0);
  const board = first(2);
  const chassis = first(3);
  const processors: DmiProcessor[] = records
    .filter((record) => record.type === 4)
    .map(({ fields }) => ({
      socket: clean(fields.get("Socket Designation")),
      manufacturer: clean(fields.get("Manufacturer")),
      version: clean(fields.get("Version")),
      max_speed_mhz: speed(fields.get("Max Speed")),
      current_speed_mhz: speed(fields.get("Current Speed")),
      core_count: toInt(fields.get("Core Count")),
      thread_count: toInt(fields.get("Thread Count")),
      populated: !/unpopulated/i.test(fields.get("Status") ?? ""),
    }));
  const dimms: Dimm[] = records
    .filter((record) => record.type === 17)
    .map(({ fields }) => ({
      slot: clean(fields.get("Locator")),
      locator: clean(fields.get("Locator")),
      bank_locator: clean(fields.get("Bank Locator")),
      kind: null,
      size_bytes: moduleSize(fields.get("Size")),
      non_volatile_size_bytes: null,
      configured_speed_mts: null,
      type: clean(fields.get("Type")),
      speed_mts: speed(fields.get("Configured Memory Speed")) ?? speed(fields.get("Configured Clock Speed")) ?? speed(fields.get("Speed")),
      manufacturer: clean(fields.get("Manufacturer")),
      part_number: clean(fields.get("Part Number")),
      serial_number: clean(fields.get("Serial Number")),
    }))
    .filter((dimm) => dimm.size_bytes !== null);
  const ipmiRecord = records.find((record) => record.type === 38)?.fields;
  return {
    value: {
      system_vendor: {
        manufacturer: clean(system.get("Manufacturer")),
        product_name: clean(system.get("Product Name")),
        serial_number: clean(system.get("Serial Number")),
        uuid: clean(system.get("UUID"))?.toLowerCase() ?? null,
        sku: clean(system.get("SKU Number")),
      },
      firmware: {
        vendor: clean(bios.get("Vendor")),
        version: clean(bios.get("Version")),
        build_date: isoDate(clean(bios.get("Release Date"))),
      },
      baseboard: {
        manufacturer: clean(board.get("Manufacturer")),
        product_name: clean(board.get("Product Name")),
        serial_number: clean(board.get("Serial Number")),
      },
      chassis: {
        manufacturer: clean(chassis.get("Manufacturer")),
        type: clean(chassis.get("Type")),
        serial_number: clean(chassis.get("Serial Number")),
      },
      processors,
      dimms,
      ipmi: ipmiRecord
        ? {
            interface_type: clean(ipmiRecord.get("Interface Type")),
            specification_version: clean(ipmiRecord.get("Specification Version")),
            base_address: clean(ipmiRecord.get("Base Address")),
          }
        : null,
      records: records.length,
    },
    errors,
  };
}

function firstLine(text: string): string {
  const lines = text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"));
  return lines[0]?.slice(0, 120) ?? "empty";
}
