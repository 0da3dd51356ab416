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
 * boot.lockdown and errors[].kind ("blocked" for a collector kernel lockdown refused). Version 3
 * (#12, real servers and hardware health): volatile DRAM apart from persistent memory, unique DIMM
 * slots beside the firmware's locators, baseboard, chassis, bmc.interface/ipmi_version,
 * power_supplies, storage_controllers, disks behind RAID controllers, health findings, burn-in.
 */
import { z } from "zod";

export const SCHEMA_VERSION = 3 as const;

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

export const baseboardSchema = z.object({
  /** SMBIOS type 2. */
  manufacturer: str,
  product_name: str,
  version: str,
  serial_number: str,
});

export const chassisSchema = z.object({
  /** SMBIOS type 3 "Type" as dmidecode names it ("Rack Mount Chassis", "Main Server Chassis", …). */
  type: str,
  serial_number: str,
  asset_tag: str,
  /** SMBIOS type 3 "Height" in rack units; null when the firmware leaves it unspecified. */
  height_u: int,
});

export const bmcSchema = z.object({
  /** IPv4 address of the BMC's LAN channel; null when unset (0.0.0.0) or unknown. */
  address: str,
  v6address: str,
  mac: str,
  firmware_version: str,
  /** The system interface the firmware declares (SMBIOS type 38, else ipmitool): KCS, BT, SMIC or SSIF. */
  interface: z.enum(["KCS", "BT", "SMIC", "SSIF"]).nullable(),
  /** IPMI specification version ("2.0"), SMBIOS type 38 else `ipmitool mc info`. */
  ipmi_version: str,
});

export const powerSupplySchema = z.object({
  /** The firmware's name for the unit (SMBIOS type 39 Location/Name, or the IPMI sensor name). */
  name: str,
  manufacturer: str,
  model: str,
  serial_number: str,
  /** Rated output, watts (SMBIOS "Max Power Capacity"). */
  max_power_w: int,
  /** ok, failed (failure / predictive failure / AC lost), absent; null when nothing says. */
  status: z.enum(["ok", "failed", "absent"]).nullable(),
  /** Where the entry came from: SMBIOS type 39 or the BMC's sensors. */
  source: z.enum(["smbios", "ipmi"]),
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
  /**
   * Unique within the node: the firmware's Locator, joined with the Bank Locator ("P0_Node0_Channel0_Dimm0
   * / DIMM A1") where the Locator alone repeats. Never rewritten (spaces kept as the firmware has them).
   */
  slot: str,
  /** The firmware's own SMBIOS "Locator" and "Bank Locator" strings, as dmidecode printed them. */
  locator: str,
  bank_locator: str,
  /** "dram" (volatile RAM) or "persistent" (Optane PMem, NVDIMM); null when the firmware does not say. */
  kind: z.enum(["dram", "persistent"]).nullable(),
  /** Volatile size, bytes; null for an installed module whose size the firmware does not know. */
  size_bytes: int,
  /** Non-volatile (persistent) size, bytes; null for DRAM. */
  non_volatile_size_bytes: int,
  /** SMBIOS memory type ("DDR4", "RAM", …). */
  type: str,
  /** Rated transfer rate in MT/s (SMBIOS "Speed", which dmidecode prints as MT/s or MHz). */
  speed_mts: int,
  /** Configured transfer rate in MT/s; null when impossible (above the rated speed) or unknown. */
  configured_speed_mts: int,
  /** The maker's name (JEDEC codes such as "80CE" or "Samsung" spelled alike become one name). */
  manufacturer: str,
  part_number: str,
  serial_number: str,
});

export const memorySchema = z.object({
  /** Memory the kernel manages (/proc/meminfo MemTotal), bytes. */
  total_bytes: int,
  /** Installed volatile DRAM: sum of the populated DRAM modules' sizes, MiB (IPA's physical_mb). */
  physical_mb: int,
  /** false when an installed module's size is unknown (physical_mb is then a lower bound); null without modules. */
  physical_mb_complete: bool,
  /** Installed persistent memory (non-volatile sizes summed), MiB; null when there is none. */
  persistent_mb: int,
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
  /**
   * How smartctl reached a disk behind a RAID controller (its `-d` value, "megaraid,3", "cciss,0");
   * null for a disk the kernel sees itself. Such a disk's `name` is "<device>:<-d value>" (sda:megaraid,3).
   */
  smartctl_device: str,
});

export const virtualDriveSchema = z.object({
  /** The vendor tool's name for it ("0/0", "1", "logicaldrive 1"). */
  id: z.string(),
  raid_level: str,
  /** The tool's state word ("Optl", "OK", "Dgrd", "Failed"), as it prints it. */
  state: str,
  /** ok / degraded / failed as far as the state word says; null when it is not one recon knows. */
  health: z.enum(["ok", "degraded", "failed"]).nullable(),
  size_bytes: int,
});

export const storageControllerSchema = z.object({
  /** PCI address, domain included. */
  pci_slot: z.string(),
  vendor: str,
  product: str,
  /** PCI class id, four hex digits (0104 RAID, 0107 SAS, 0106 SATA AHCI, 0108 NVMe). */
  class_id: str,
  /** Kernel driver (megaraid_sas, mpt3sas, smartpqi, ahci, nvme). */
  driver: str,
  /** From a vendor RAID tool's output (storcli, perccli, ssacli) when a workload provided one, else null. */
  model: str,
  firmware_version: str,
  serial_number: str,
  /** The vendor tool that described it ("storcli"), null when only PCI is known. */
  tool: str,
  virtual_drives: z.array(virtualDriveSchema),
});

export const findingSchema = z.object({
  /** What is broken, in classes an admin sorts by. */
  category: z.enum(["memory", "power", "fan", "temperature", "voltage", "disk", "storage", "processor", "burn_in", "bmc", "other"]),
  /** critical: broken now (uncorrectable ECC, PSU failed, SMART FAILED); warning: degraded or predictive. */
  severity: z.enum(["critical", "warning"]),
  /** The part it is about ("PSU2", "DIMM_A1", "sda", "FAN3"), null when the source does not say. */
  component: str,
  /** One line for the admin. */
  message: z.string(),
  /** The raw file it was read from (raw/ipmitool-sel.txt). */
  source: z.string(),
  /** The raw line(s) it was read from, as the tool printed them (cut to 300 characters). */
  evidence: z.string(),
  /** When it happened, ISO 8601 when the source gives a time it can be read as, else null. */
  at: str,
});

export const burnInResultSchema = z.object({
  /** The test ("stress-ng-cpu", "stress-ng-vm", "memtester", "fio-read"). */
  test: z.string(),
  /** What it ran on ("sda" for fio, null for the whole machine). */
  target: str,
  result: z.enum(["passed", "failed", "error"]),
  /** How long it ran, seconds. */
  duration_s: num,
  /** The tool's summary line(s) (cut to 300 characters). */
  detail: z.string(),
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
  baseboard: baseboardSchema,
  chassis: chassisSchema,
  firmware: firmwareSchema,
  boot: bootSchema,
  bmc: bmcSchema,
  power_supplies: z.array(powerSupplySchema),
  cpu: cpuSchema,
  memory: memorySchema,
  disks: z.array(diskSchema),
  storage_controllers: z.array(storageControllerSchema),
  interfaces: z.array(interfaceSchema),
  pci_devices: z.array(pciDeviceSchema),
  gpus: z.array(gpuSchema),
  /** Hardware health: what the BMC's event log and sensors, SMART, EDAC and burn-in say is broken. */
  findings: z.array(findingSchema),
  /** Burn-in results when the site switched burn-in on (docs/workload.md), else []. */
  burn_in: z.array(burnInResultSchema),
  errors: z.array(inventoryErrorSchema),
});

export type Inventory = z.infer<typeof inventorySchema>;
export type SystemVendor = z.infer<typeof systemVendorSchema>;
export type Firmware = z.infer<typeof firmwareSchema>;
export type BootInfo = z.infer<typeof bootSchema>;
export type Bmc = z.infer<typeof bmcSchema>;
export type Baseboard = z.infer<typeof baseboardSchema>;
export type Chassis = z.infer<typeof chassisSchema>;
export type PowerSupply = z.infer<typeof powerSupplySchema>;
export type StorageController = z.infer<typeof storageControllerSchema>;
export type VirtualDrive = z.infer<typeof virtualDriveSchema>;
export type Finding = z.infer<typeof findingSchema>;
export type BurnInResult = z.infer<typeof burnInResultSchema>;
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
    baseboard: { manufacturer: null, product_name: null, version: null, serial_number: null },
    chassis: { type: null, serial_number: null, asset_tag: null, height_u: null },
    firmware: { vendor: null, version: null, build_date: null },
    boot: { current_boot_mode: null, secure_boot: null, lockdown: null, pxe_interface: null },
    bmc: { address: null, v6address: null, mac: null, firmware_version: null, interface: null, ipmi_version: null },
    power_supplies: [],
    cpu: { model_name: null, architecture: null, sockets: null, cores: null, threads: null, frequency_mhz: null, flags: [] },
    memory: {
      total_bytes: null,
      physical_mb: null,
      physical_mb_complete: null,
      persistent_mb: null,
      dimms: [],
      correctable_errors: null,
      uncorrectable_errors: null,
    },
    disks: [],
    storage_controllers: [],
    interfaces: [],
    pci_devices: [],
    gpus: [],
    findings: [],
    burn_in: [],
    errors: [],
  };
}

/** Parses unknown JSON as an Inventory (strict: missing fields are an error). */
export function parseInventory(value: unknown): Inventory {
  return inventorySchema.parse(value);
}
