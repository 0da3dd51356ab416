/**
 * The normalized inventory of one node: the one schema the master stores
 * (<store>/nodes/<mac-dir>/inventory.json), the review UI reads and `recon inventory normalize`
 * prints. Field names follow ironic-python-agent's inventory where one exists so the data
 * interoperates; units are in the names (`size_bytes`, `speed_mbps`, `frequency_mhz`).
 *
 * Rules: every field is always present; an unknown value is `null` (never missing, never a
 * guessed default); lists are empty when nothing was found. Strings are trimmed and vendor
 * placeholders ("To Be Filled By O.E.M.", "Not Specified", …) become null. What could not be
 * read or parsed is listed in `errors`, one entry per file/tool. docs/inventory.md describes
 * each field, its unit, the tools it comes from and their precedence.
 *
 * Bump SCHEMA_VERSION on any change a reader could notice (renamed/removed field, changed
 * unit or meaning); adding a nullable field also bumps it so the UI can tell. Version 2:
 * boot.lockdown and errors[].kind ("blocked" for a collector kernel lockdown refused).
 */
import { z } from "zod";

export const SCHEMA_VERSION = 2 as const;

const str = z.string().nullable();
const int = z.number().int().nullable();
const num = z.number().nullable();
const bool = z.boolean().nullable();

export const systemVendorSchema = z.object({
  manufacturer: str,
  product_name: str,
  serial_number: str,
  /** SMBIOS system UUID, lower case. */
  uuid: str,
  sku: str,
});

export const firmwareSchema = z.object({
  vendor: str,
  version: str,
  /** ISO date YYYY-MM-DD when the firmware's date could be read as one, else the raw text. */
  build_date: str,
});

export const bootSchema = z.object({
  current_boot_mode: z.enum(["bios", "uefi"]).nullable(),
  secure_boot: bool,
  /**
   * The kernel's lockdown mode (/sys/kernel/security/lockdown, man kernel_lockdown.7): Debian's
   * kernel picks "integrity" under Secure Boot. null when it could not be read (securityfs not
   * mounted, a kernel without the lockdown LSM, an upload from an older agent).
   */
  lockdown: z.enum(["none", "integrity", "confidentiality"]).nullable(),
  /** Name of the interface whose MAC is the BOOTIF the node was booted with. */
  pxe_interface: str,
});

export const bmcSchema = z.object({
  /** IPv4 address of the BMC's LAN channel; null when unset (0.0.0.0) or unknown. */
  address: str,
  v6address: str,
  mac: str,
  firmware_version: str,
});

export const cpuSchema = z.object({
  model_name: str,
  architecture: str,
  sockets: int,
  /** Physical cores in the whole machine (all sockets). */
  cores: int,
  /** Logical CPUs (hardware threads) in the whole machine. */
  threads: int,
  /** Maximum (else current) clock of one core, MHz. */
  frequency_mhz: num,
  flags: z.array(z.string()),
});

export const dimmSchema = z.object({
  /** SMBIOS "Locator" (e.g. "DIMM 0", "CPU1_DIMM_A1"). */
  slot: str,
  size_bytes: int,
  /** SMBIOS memory type ("DDR4", "RAM", …). */
  type: str,
  /** Transfer rate in MT/s (SMBIOS "Speed", which dmidecode prints as MT/s or MHz). */
  speed_mts: int,
  manufacturer: str,
  part_number: str,
  serial_number: str,
});

export const memorySchema = z.object({
  /** Memory the kernel manages (/proc/meminfo MemTotal), bytes. */
  total_bytes: int,
  /** Installed memory: sum of the populated DIMMs, MiB (IPA's physical_mb). */
  physical_mb: int,
  dimms: z.array(dimmSchema),
  /** EDAC corrected / uncorrected error counts summed over all memory controllers; null without EDAC. */
  correctable_errors: int,
  uncorrectable_errors: int,
});

export const diskSchema = z.object({
  /** Kernel name without /dev/ (sda, nvme0n1, vda). */
  name: z.string(),
  model: str,
  vendor: str,
  serial: str,
  wwn: str,
  size_bytes: int,
  rotational: bool,
  kind: z.enum(["hdd", "ssd", "nvme"]).nullable(),
  /** SMART overall-health self-assessment; null when SMART could not be read. */
  smart_passed: bool,
  /** /dev/disk/by-path/… link of the disk, when known. */
  by_path: str,
});

export const lldpSchema = z.object({
  chassis_id: str,
  system_name: str,
  port_id: str,
  port_description: str,
  /** Port VLAN id (PVID) the switch advertises. */
  vlan: int,
});

export const interfaceSchema = z.object({
  name: z.string(),
  mac_address: str,
  driver: str,
  firmware_version: str,
  speed_mbps: int,
  /** Carrier detected (ethtool "Link detected", else ip's LOWER_UP). */
  link: bool,
  ipv4_address: str,
  /** What the switch on the other end said over LLDP; null when nothing was heard. */
  lldp: lldpSchema.nullable(),
});

export const pciDeviceSchema = z.object({
  /** PCI address, domain included (0000:00:1f.2). */
  slot: z.string(),
  /** Four hex digits, lower case, no 0x. */
  vendor_id: str,
  product_id: str,
  class_id: str,
  vendor: str,
  product: str,
  class: str,
  subsystem_vendor_id: str,
  subsystem_id: str,
  revision: str,
  driver: str,
});

export const gpuSchema = z.object({
  vendor: str,
  product: str,
  /** PCI address, domain included. */
  pci_slot: str,
  driver: str,
  /** Frame buffer memory, bytes (from a vendor tool such as nvidia-smi). */
  memory_bytes: int,
});

export const inventoryErrorSchema = z.object({
  /** The raw file (e.g. "raw/lshw.json") or collector id the problem is about. */
  source: z.string(),
  message: z.string(),
  /**
   * "blocked": the kernel refused the collector (kernel lockdown), so what it would have given is
   * null because it was not allowed, not because it is not there; "error": anything else.
   */
  kind: z.enum(["error", "blocked"]),
});

export const inventorySchema = z.object({
  schema_version: z.literal(SCHEMA_VERSION),
  /** From the upload's manifest.json. */
  collected_at: str,
  boot_mac: str,
  hostname: str,
  agent_version: str,
  kernel: str,
  system_vendor: systemVendorSchema,
  firmware: firmwareSchema,
  boot: bootSchema,
  bmc: bmcSchema,
  cpu: cpuSchema,
  memory: memorySchema,
  disks: z.array(diskSchema),
  interfaces: z.array(interfaceSchema),
  pci_devices: z.array(pciDeviceSchema),
  gpus: z.array(gpuSchema),
  errors: z.array(inventoryErrorSchema),
});

export type Inventory = z.infer<typeof inventorySchema>;
export type SystemVendor = z.infer<typeof systemVendorSchema>;
export type Firmware = z.infer<typeof firmwareSchema>;
export type BootInfo = z.infer<typeof bootSchema>;
export type Bmc = z.infer<typeof bmcSchema>;
export type Cpu = z.infer<typeof cpuSchema>;
export type Dimm = z.infer<typeof dimmSchema>;
export type Memory = z.infer<typeof memorySchema>;
export type Disk = z.infer<typeof diskSchema>;
export type Lldp = z.infer<typeof lldpSchema>;
export type NetworkInterface = z.infer<typeof interfaceSchema>;
export type PciDevice = z.infer<typeof pciDeviceSchema>;
export type Gpu = z.infer<typeof gpuSchema>;
export type InventoryError = z.infer<typeof inventoryErrorSchema>;
/** A problem as a parser reports it: kind "error" unless it says otherwise (normalize fills it in). */
export type Problem = Omit<InventoryError, "kind"> & Partial<Pick<InventoryError, "kind">>;

/** An inventory with every value unknown: the base the normalizer fills in. */
export function emptyInventory(): Inventory {
  return {
    schema_version: SCHEMA_VERSION,
    collected_at: null,
    boot_mac: null,
    hostname: null,
    agent_version: null,
    kernel: null,
    system_vendor: { manufacturer: null, product_name: null, serial_number: null, uuid: null, sku: null },
    firmware: { vendor: null, version: null, build_date: null },
    boot: { current_boot_mode: null, secure_boot: null, lockdown: null, pxe_interface: null },
    bmc: { address: null, v6address: null, mac: null, firmware_version: null },
    cpu: { model_name: null, architecture: null, sockets: null, cores: null, threads: null, frequency_mhz: null, flags: [] },
    memory: { total_bytes: null, physical_mb: null, dimms: [], correctable_errors: null, uncorrectable_errors: null },
    disks: [],
    interfaces: [],
    pci_devices: [],
    gpus: [],
    errors: [],
  };
}

/** Parses unknown JSON as an Inventory (strict: missing fields are an error). */
export function parseInventory(value: unknown): Inventory {
  return inventorySchema.parse(value);
}
