/**
 * Schema-valid synthetic inventories for benchmarks and UI tests (never for parser tests: those
 * use real captured outputs). Deterministic: the same seed gives the same inventory, so a fleet
 * of N machines is `Array.from({length: N}, (_, i) => syntheticInventory(i))`.
 */
import { healthFindings } from "./health.js";
import { SCHEMA_VERSION, type Disk, type Dimm, type Inventory, type NetworkInterface } from "./schema.js";

/** mulberry32: a tiny seeded PRNG; good enough to vary made-up hardware. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MODELS = [
  { manufacturer: "Dell Inc.", product: "PowerEdge R640", cpu: "Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz", cores: 16, mhz: 2100 },
  { manufacturer: "HPE", product: "ProLiant DL360 Gen10", cpu: "Intel(R) Xeon(R) Silver 4214 CPU @ 2.20GHz", cores: 12, mhz: 2200 },
  { manufacturer: "Supermicro", product: "SYS-1029U-TRT", cpu: "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", cores: 20, mhz: 2500 },
  { manufacturer: "Lenovo", product: "ThinkSystem SR650", cpu: "AMD EPYC 7302 16-Core Processor", cores: 16, mhz: 3000 },
] as const;

const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");

/** A deterministic, schema-valid inventory; `seed` also sets the MAC and serial numbers. */
export function syntheticInventory(seed: number): Inventory {
  const random = prng(seed + 1);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const model = pick(MODELS);
  const sockets = random() < 0.8 ? 2 : 1;
  const id = hex(seed >>> 0, 8);
  const mac = (last: number) => `52:54:00:${id.slice(2, 4)}:${id.slice(4, 6)}:${hex((Number.parseInt(id.slice(6, 8), 16) + last) & 0xff, 2)}`;
  const dimmCount = pick([4, 8, 12, 16]);
  const dimmGiB = pick([16, 32, 64]);
  const dimms: Dimm[] = Array.from({ length: dimmCount }, (_, i) => ({
    slot: `DIMM_${String.fromCharCode(65 + (i % 8))}${Math.floor(i / 8) + 1}`,
    locator: `DIMM_${String.fromCharCode(65 + (i % 8))}${Math.floor(i / 8) + 1}`,
    bank_locator: `NODE ${i % 2}`,
    kind: "dram",
    size_bytes: dimmGiB * 1024 ** 3,
    non_volatile_size_bytes: null,
    type: "DDR4",
    speed_mts: pick([2400, 2666, 2933]),
    configured_speed_mts: 2400,
    manufacturer: pick(["Samsung", "Micron", "SK Hynix"]),
    part_number: `M393A${dimmGiB}G40AB2-CWE`,
    serial_number: hex(Math.floor(random() * 0xffffffff), 8).toUpperCase(),
  }));
  const disks: Disk[] = Array.from({ length: 1 + Math.floor(random() * 4) }, (_, i) => {
    const nvme = random() < 0.4;
    const rotational = !nvme && random() < 0.5;
    return {
      name: nvme ? `nvme${i}n1` : `sd${String.fromCharCode(97 + i)}`,
      model: nvme ? "SAMSUNG MZQLB960HAJR-00007" : rotational ? "ST4000NM0035-1V4107" : "INTEL SSDSC2KB480G8",
      vendor: nvme ? null : "ATA",
      serial: `S${id.toUpperCase()}${i}`,
      wwn: `0x5000c500${hex(seed >>> 0, 8)}`,
      size_bytes: pick([480, 960, 1920, 4000]) * 1000 ** 3,
      rotational,
      kind: nvme ? "nvme" : rotational ? "hdd" : "ssd",
      smart_passed: random() < 0.97,
      by_path: nvme ? `pci-0000:5e:00.0-nvme-1` : `pci-0000:00:17.0-ata-${i + 1}`,
      smartctl_device: null,
    };
  });
  const interfaces: NetworkInterface[] = Array.from({ length: 2 + Math.floor(random() * 3) }, (_, i) => ({
    name: `eno${i + 1}`,
    mac_address: mac(i),
    driver: pick(["ixgbe", "i40e", "tg3", "bnxt_en"]),
    firmware_version: "1.2.3",
    speed_mbps: i === 0 ? 10000 : pick([1000, 10000, 25000, null]),
    link: i === 0 ? true : random() < 0.5,
    ipv4_address: i === 0 ? `172.30.213.${10 + (seed % 200)}` : null,
    lldp:
      i === 0
        ? { chassis_id: "00:1c:73:aa:bb:cc", system_name: `leaf-${1 + (seed % 8)}`, port_id: `Ethernet${1 + (seed % 48)}`, port_description: null, vlan: 100 }
        : null,
  }));
  return {
    schema_version: SCHEMA_VERSION,
    collected_at: new Date(Date.UTC(2026, 10, 21, 12, 0, seed % 3600)).toISOString(),
    boot_mac: mac(0),
    hostname: `node-${id}`,
    agent_version: "0.1.0",
    kernel: "6.1.0-27-amd64",
    system_vendor: {
      manufacturer: model.manufacturer,
      product_name: model.product,
      serial_number: `SN${id.toUpperCase()}`,
      uuid: `${id}-0000-4000-8000-${hex(seed >>> 0, 12)}`,
      sku: random() < 0.5 ? null : `SKU=${model.product.replace(/\s+/g, "")}`,
    },
    baseboard: { manufacturer: model.manufacturer, product_name: null, version: null, serial_number: `BB${id.toUpperCase()}` },
    chassis: { type: "Rack Mount Chassis", serial_number: `SN${id.toUpperCase()}`, asset_tag: null, height_u: 1 },
    power_supplies: [],
    firmware: { vendor: model.manufacturer, version: pick(["2.10.2", "2.12.1", "U30 v2.42"]), build_date: pick(["2021-03-15", "2022-07-01", "2023-11-20"]) },
    boot: syntheticBoot(random() < 0.7 ? "uefi" : "bios", random() < 0.3),
    bmc: {
      address: `10.0.${seed % 250}.${1 + (seed % 250)}`,
      v6address: null,
      mac: mac(0x80),
      firmware_version: "4.40",
      interface: "KCS",
      ipmi_version: "2.0",
    },
    cpu: {
      model_name: model.cpu,
      architecture: "x86_64",
      sockets,
      cores: model.cores * sockets,
      threads: model.cores * sockets * 2,
      frequency_mhz: model.mhz,
      flags: ["fpu", "sse2", "avx2", "aes", "vmx"],
    },
    memory: {
      total_bytes: dimmCount * dimmGiB * 1024 ** 3 - 512 * 1024 ** 2,
      physical_mb: dimmCount * dimmGiB * 1024,
      physical_mb_complete: true,
      persistent_mb: null,
      dimms,
      correctable_errors: 0,
      uncorrectable_errors: 0,
    },
    disks,
    storage_controllers: [],
    interfaces,
    pci_devices: [],
    gpus: [],
    // The normalizer's own rule: a disk whose SMART check failed is a critical finding.
    findings: healthFindings({ sel: null, sdr: null, sensors: null, disks, edac: null }),
    burn_in: [],
    errors: [],
  };
}

/** Debian's kernel locks itself down ("integrity") under Secure Boot; without it, "none". */
function syntheticBoot(mode: "uefi" | "bios", secureBoot: boolean): Inventory["boot"] {
  return { current_boot_mode: mode, secure_boot: secureBoot, lockdown: secureBoot ? "integrity" : "none", pxe_interface: "eno1" };
}
