/**
 * Broadcom storcli / Dell perccli `/call show all J` (JSON) → one entry per controller: model,
 * firmware, serial, PCI address and the virtual drives of its "VD LIST". perccli is storcli
 * rebranded and prints the same document.
 *
 * Sizes: storcli writes binary multiples with decimal names ("12.732 TB" for a disk of
 * 0x65ddfffff+1 512-byte sectors, 14 000 519 643 136 bytes = 12.73 TiB; netdata's mpt3sas
 * fixture), perccli2 writes "TiB"; both are read as powers of 1024, to storcli's three decimals.
 */
import type { Problem, VirtualDrive } from "../schema.js";
import { arrayOrEmpty, clean, isRecord, parseJson, sizeToBytes, toInt, type Parsed } from "./common.js";

/** What a vendor RAID tool says of one controller (the schema's storage controller minus its PCI fields). */
export interface RaidToolController {
  /** As 0000:bb:dd.f when the tool printed an address that could be read, else null. */
  pci_address: string | null;
  model: string | null;
  firmware_version: string | null;
  serial_number: string | null;
  tool: "storcli" | "perccli" | "ssacli";
  virtual_drives: VirtualDrive[];
}

/**
 * storcli's VD states, from its own legend ("Rec=Recovery|OfLn=OffLine|Pdgd=Partially Degraded|
 * Dgrd=Degraded Optl=Optimal"; test/fixtures/inventory/real/storage/SOURCES.md); compared lower case.
 */
const VD_HEALTH = new Map<string, VirtualDrive["health"]>([
  ["optl", "ok"],
  ["dgrd", "degraded"],
  ["pdgd", "degraded"],
  ["rec", "degraded"],
  ["ofln", "failed"],
  ["failed", "failed"],
]);

export function storcliHealth(state: string | null): VirtualDrive["health"] {
  return state === null ? null : (VD_HEALTH.get(state.toLowerCase()) ?? null);
}

const hex = (value: number, width: number) => value.toString(16).padStart(width, "0");

/**
 * storcli prints "PCI Address" as domain:bus:device:function in hex ("00:0a:00:00"); some builds
 * leave the domain out ("0a:00:00") or print lspci's form. Returned as 0000:bb:dd.f, else null.
 */
export function storcliPciAddress(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const parts = value.trim().toLowerCase().split(/[:.]/);
  if (parts.length < 3 || parts.length > 4 || !parts.every((part) => /^[0-9a-f]{1,4}$/.test(part))) return null;
  const [domain, bus, device, fn] = (parts.length === 3 ? ["0", ...parts] : parts).map((part) => parseInt(part, 16)) as [number, number, number, number];
  if (bus > 0xff || device > 0x1f || fn > 7) return null;
  return `${hex(domain, 4)}:${hex(bus, 2)}:${hex(device, 2)}.${fn}`;
}

/** The "PCI Version" section's numbers, when "PCI Address" is missing (decimal in the JSON). */
function pciFromNumbers(section: unknown): string | null {
  if (!isRecord(section)) return null;
  const [domain, bus, device, fn] = ["Domain ID", "Bus Number", "Device Number", "Function Number"].map((key) => toInt(section[key]));
  if (bus === null || device === null || fn === null || bus === undefined || device === undefined || fn === undefined) return null;
  return storcliPciAddress(`${hex(domain ?? 0, 4)}:${hex(bus, 2)}:${hex(device, 2)}:${hex(fn, 1)}`);
}

function virtualDrive(entry: unknown): VirtualDrive | null {
  if (!isRecord(entry)) return null;
  const id = clean(entry["DG/VD"] ?? entry["VD"]);
  if (id === null) return null;
  const state = clean(entry.State);
  return { id, raid_level: clean(entry.TYPE), state, health: storcliHealth(state), size_bytes: sizeToBytes(clean(entry.Size)) };
}

export function parseStorcliJson(text: string, source: string, tool: "storcli" | "perccli" = "storcli"): Parsed<RaidToolController[]> {
  const json = parseJson(text, source);
  if (json.errors.length > 0) return { value: [], errors: json.errors };
  if (!isRecord(json.value) || !Array.isArray(json.value.Controllers)) {
    return { value: [], errors: [{ source, message: `no "Controllers" list in ${tool} JSON` }] };
  }
  const controllers: RaidToolController[] = [];
  const errors: Problem[] = [];
  for (const [index, entry] of json.value.Controllers.entries()) {
    const status = isRecord(entry) && isRecord(entry["Command Status"]) ? entry["Command Status"] : {};
    const data = isRecord(entry) ? entry["Response Data"] : undefined;
    if (status.Status !== "Success" || !isRecord(data)) {
      // "Status": "Failure", "Description": "Controller 0 not found" and the like.
      const said = [clean(status.Status), clean(status.Description)].filter((part) => part !== null).join(": ");
      errors.push({ source, message: `${tool} controller ${String(status.Controller ?? index)}: ${said || "no Response Data"}` });
      continue;
    }
    const basics = isRecord(data.Basics) ? data.Basics : {};
    const version = isRecord(data.Version) ? data.Version : {};
    controllers.push({
      pci_address: storcliPciAddress(basics["PCI Address"]) ?? pciFromNumbers(data["PCI Version"]),
      model: clean(basics.Model ?? basics["Product Name"]),
      firmware_version: clean(version["Firmware Version"] ?? version["FW Version"]),
      serial_number: clean(basics["Serial Number"]),
      tool,
      // An HBA (mpt3sas, JBOD only) has no "VD LIST": no virtual drives, not an error.
      virtual_drives: arrayOrEmpty(data["VD LIST"])
        .map(virtualDrive)
        .filter((drive) => drive !== null),
    });
  }
  return { value: controllers, errors };
}
