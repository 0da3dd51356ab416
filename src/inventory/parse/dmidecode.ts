/**
 * `dmidecode` text → SMBIOS records. Tolerant: unknown record types are skipped, missing keys are
 * null, and every placeholder or dmidecode marker ("<BAD INDEX>", "<OUT OF SPEC>") is null
 * (common.ts isPlaceholder; docs/inventory.md "Placeholders"). Memory (type 17): empty slots and
 * the BIOS flash chip are left out; persistent modules (Optane PMem, NVDIMM) are kind "persistent"
 * with their non-volatile size; an installed module of unknown size is kept with size_bytes null.
 */
import type { Baseboard, Chassis, Dimm, Firmware, PowerSupply, SystemVendor } from "../schema.js";
import { clean, cleanVerbatim, isoDate, sizeToBytes, toInt, type Parsed } from "./common.js";
import { memoryMakerName } from "./jedec.js";

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
  /** "Core Enabled" (cores the firmware left on), else Core Count. */
  core_enabled: number | null;
  /** "Thread Enabled" (SMBIOS 3.6), else Thread Count when the cores are all enabled; else null. */
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
  baseboard: Baseboard;
  chassis: Chassis;
  processors: DmiProcessor[];
  dimms: Dimm[];
  ipmi: DmiBmc | null;
  /** The interface type's short name (KCS, BT, SMIC, SSIF) from type 38. */
  bmc_interface: "KCS" | "BT" | "SMIC" | "SSIF" | null;
  power_supplies: PowerSupply[];
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

/** Dell writes "SKU=0715;ModelName=PowerEdge R640" (or SKU=NotProvided): the SKU part. */
function systemSku(text: string | undefined): string | null {
  const dell = /^SKU=([^;]*);/.exec(text?.trim() ?? "");
  return clean(dell ? dell[1] : text);
}

const EMPTY_SLOT = /^(no module installed|not installed|0\s*[kmg]?b)$/i;

/** One type 17 record as a DIMM, or null for an empty slot or the BIOS flash chip. */
function memoryDevice(fields: Map<string, string>): Dimm | null {
  const sizeText = (fields.get("Size") ?? "").trim();
  const type = clean(fields.get("Type"));
  if (EMPTY_SLOT.test(sizeText)) return null;
  // The BIOS flash chip, which some firmware lists as a memory device (Type: Flash, Form Factor: Chip).
  if (type !== null && /^(flash|rom|eprom|eeprom|feprom)$/i.test(type)) return null;
  const manufacturer = memoryMakerName(clean(fields.get("Manufacturer")));
  const partNumber = clean(fields.get("Part Number"));
  const serialNumber = clean(fields.get("Serial Number"));
  let size = sizeToBytes(clean(sizeText));
  // Size "Unknown" on a module that names its maker, part or serial: installed, size not known.
  if (size === null && manufacturer === null && partNumber === null && serialNumber === null) return null;
  const technology = fields.get("Memory Technology") ?? "";
  const typeText = fields.get("Type") ?? "";
  const nonVolatile = sizeToBytes(clean(fields.get("Non-Volatile Size")));
  const persistent = /persistent|nvdimm/i.test(technology) || /non-volatile/i.test(typeText) || (nonVolatile ?? 0) > 0;
  let kind: Dimm["kind"] = null;
  if (persistent) {
    kind = "persistent";
    // The volatile part of a persistent module ("Volatile Size: None" is 0); its Size is the non-volatile one.
    const volatileText = fields.get("Volatile Size");
    size = volatileText === undefined ? 0 : /^none$/i.test(volatileText.trim()) ? 0 : sizeToBytes(clean(volatileText));
  } else if (/dram/i.test(technology) || (type !== null && /dram|ddr|rdram|sdram|^ram$|hbm/i.test(type))) {
    kind = "dram";
  }
  const rated = speed(fields.get("Speed"));
  const configured = speed(fields.get("Configured Memory Speed")) ?? speed(fields.get("Configured Clock Speed"));
  const locator = cleanVerbatim(fields.get("Locator"));
  return {
    slot: locator,
    locator,
    bank_locator: cleanVerbatim(fields.get("Bank Locator")),
    kind,
    size_bytes: size,
    non_volatile_size_bytes: persistent ? (nonVolatile ?? sizeToBytes(clean(sizeText))) : null,
    type,
    speed_mts: rated,
    // A configured rate above the rated one (32768 MT/s on a 1333 module) is a firmware error.
    configured_speed_mts: configured !== null && rated !== null && configured > rated ? null : configured,
    manufacturer,
    part_number: partNumber,
    serial_number: serialNumber,
  };
}

/** Unique slots: the locator, with the bank locator before it where the locator repeats, then the handle if still not unique. */
function assignSlots(dimms: Array<{ dimm: Dimm; handle: string }>): Dimm[] {
  const count = (values: Array<string | null>) => {
    const map = new Map<string | null, number>();
    for (const value of values) map.set(value, (map.get(value) ?? 0) + 1);
    return map;
  };
  const byLocator = count(dimms.map(({ dimm }) => dimm.locator));
  const slots = dimms.map(({ dimm }) =>
    (byLocator.get(dimm.locator) ?? 0) > 1 || dimm.locator === null
      ? [dimm.bank_locator, dimm.locator].filter((part) => part !== null).join(" / ") || null
      : dimm.locator,
  );
  const bySlot = count(slots);
  return dimms.map(({ dimm, handle }, index) => {
    const slot = slots[index]!;
    return { ...dimm, slot: slot === null || (bySlot.get(slot) ?? 0) > 1 ? `${slot ?? "memory device"} (${handle})` : slot };
  });
}

/** Type 39 status: "Present, OK" → ok; failed/critical/non-recoverable → failed; "Not Present" → absent. */
function supplyStatus(text: string | undefined): PowerSupply["status"] {
  const status = (text ?? "").toLowerCase();
  if (/not present/.test(status)) return "absent";
  if (/fail|critical|non-recoverable/.test(status)) return "failed";
  if (/present, ok/.test(status)) return "ok";
  return null;
}

function powerSupply(fields: Map<string, string>): PowerSupply {
  const watts = /^(\d+)\s*W$/i.exec((fields.get("Max Power Capacity") ?? "").trim());
  return {
    name: clean(fields.get("Name")) ?? clean(fields.get("Location")),
    manufacturer: clean(fields.get("Manufacturer")),
    model: clean(fields.get("Model Part Number")),
    serial_number: clean(fields.get("Serial Number")),
    max_power_w: watts ? Number(watts[1]) : null,
    status: supplyStatus(fields.get("Status")),
    source: "smbios",
  };
}

/** "KCS (Keyboard Control Style)" → KCS. */
function interfaceType(text: string | undefined): DmiInfo["bmc_interface"] {
  const match = /^(KCS|BT|SMIC|SSIF)\b/i.exec(text?.trim() ?? "");
  return match ? (match[1]!.toUpperCase() as DmiInfo["bmc_interface"]) : null;
}

/** "1 U" → 1; "Unspecified" → null. */
function heightU(text: string | undefined): number | null {
  const match = /^(\d+)\s*U$/i.exec(text?.trim() ?? "");
  return match ? Number(match[1]) : null;
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
    .map(({ fields }) => {
      const coreCount = toInt(fields.get("Core Count"));
      const coreEnabled = toInt(fields.get("Core Enabled")) ?? coreCount;
      const threadEnabled = toInt(fields.get("Thread Enabled"));
      const threadCount = toInt(fields.get("Thread Count"));
      const threadsConsistent = threadCount !== null && coreEnabled !== null && coreEnabled === coreCount && threadCount >= coreEnabled;
      return {
        socket: clean(fields.get("Socket Designation")),
        manufacturer: clean(fields.get("Manufacturer")),
        version: clean(fields.get("Version")),
        max_speed_mhz: speed(fields.get("Max Speed")),
        current_speed_mhz: speed(fields.get("Current Speed")),
        core_count: coreCount,
        core_enabled: coreEnabled,
        thread_count: threadEnabled ?? (threadsConsistent ? threadCount : null),
        populated: !/unpopulated/i.test(fields.get("Status") ?? ""),
      };
    });
  const dimms = assignSlots(
    records
      .filter((record) => record.type === 17)
      .map((record) => ({ dimm: memoryDevice(record.fields), handle: record.handle }))
      .filter((entry): entry is { dimm: Dimm; handle: string } => entry.dimm !== null),
  );
  const ipmiRecord = records.find((record) => record.type === 38)?.fields;
  return {
    value: {
      system_vendor: {
        manufacturer: clean(system.get("Manufacturer")),
        product_name: clean(system.get("Product Name")),
        serial_number: clean(system.get("Serial Number")),
        uuid: clean(system.get("UUID"))?.toLowerCase() ?? null,
        sku: systemSku(system.get("SKU Number")),
      },
      firmware: {
        vendor: clean(bios.get("Vendor")),
        version: clean(bios.get("Version")),
        build_date: isoDate(clean(bios.get("Release Date"))),
      },
      baseboard: {
        manufacturer: clean(board.get("Manufacturer")),
        product_name: clean(board.get("Product Name")),
        version: clean(board.get("Version")),
        serial_number: clean(board.get("Serial Number")),
      },
      chassis: {
        type: clean(chassis.get("Type")),
        serial_number: clean(chassis.get("Serial Number")),
        asset_tag: clean(chassis.get("Asset Tag")),
        height_u: heightU(chassis.get("Height")),
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
      bmc_interface: interfaceType(ipmiRecord?.get("Interface Type")),
      power_supplies: records.filter((record) => record.type === 39).map((record) => powerSupply(record.fields)),
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
