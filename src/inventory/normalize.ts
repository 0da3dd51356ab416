/**
 * Raw upload → Inventory. Pure: the files of one upload (keyed by their path inside the tar,
 * e.g. "raw/lshw.json") in, one schema-valid inventory out; the same code runs on the master
 * after each upload and in `recon inventory normalize`. It never throws on odd input: every
 * file that is missing where it was expected, unreadable or odd is reported in `errors`.
 *
 * Precedence, field by field (first source with a non-null value wins; docs/inventory.md):
 *   system_vendor, firmware   dmidecode > lshw > ipmitool fru (system_vendor only)
 *   cpu                       lscpu > dmidecode type 4 > lshw
 *   memory.total_bytes        /proc/meminfo;  dimms: dmidecode type 17 > lshw banks
 *   disks (the list)          lsblk, else nvme list + smartctl files + lshw
 *   disk identity             smartctl > nvme (id-ctrl, list) > lsblk > lshw; size: lsblk first
 *   interfaces (the list)     ip link (Ethernet, not stacked, not a virtual driver), else lshw
 *   interface details         ethtool -i / ethtool > ip > lshw; lldp from lldpctl
 *   bmc                       ipmitool lan print (address, mac) and mc info (firmware)
 *   boot                      efi.json; lockdown.txt; pxe_interface = the interface whose MAC is the BOOTIF
 *   findings, power_supplies  health.ts: ipmitool sel elist / sensor / sdr elist, SMART, EDAC (critical first), then
 *                             burn-in; power_supplies = SMBIOS units merged with the SDR's (docs/inventory.md "Health")
 *   errors                    the manifest's failed collectors (kind "blocked" when kernel lockdown
 *                             refused one, src/agent/lockdown.ts), then the parsers' problems
 */
import { parseBurnIn } from "./parse/burn-in.js";
import { parseDiskByPath } from "./parse/disk-by-path.js";
import { parseSysBlock } from "./parse/sys-block.js";
import { emptyInventory, inventorySchema, type Disk, type Inventory, type InventoryError, type Lldp, type NetworkInterface, type Problem } from "./schema.js";
import { parseDmidecode } from "./parse/dmidecode.js";
import { parseEdac } from "./parse/edac.js";
import { parseEfi } from "./parse/efi.js";
import { parseEthtool, parseEthtoolDriver } from "./parse/ethtool.js";
import { parseIpAddr, parseIpLink } from "./parse/ip.js";
import { parseIpmiFru, parseIpmiLanPrint, parseIpmiMcInfo } from "./parse/ipmitool.js";
import { parseLldpctl } from "./parse/lldpctl.js";
import { parseLockdown } from "./parse/lockdown.js";
import { parseLsblk } from "./parse/lsblk.js";
import { parseLscpu } from "./parse/lscpu.js";
import { parseLshw } from "./parse/lshw.js";
import { parseLspci } from "./parse/lspci.js";
import { parseLspciText } from "./parse/lspci-text.js";
import { parseSmartctlScan } from "./parse/smartctl-scan.js";
import { parseSsacli } from "./parse/ssacli.js";
import { parseStorcliJson, type RaidToolController } from "./parse/storcli.js";
import { storageControllers, type ToolReport } from "./storage.js";
import { parseManifest } from "./parse/manifest.js";
import { parseMeminfo } from "./parse/meminfo.js";
import { parseNvmeIdCtrl, parseNvmeList, type NvmeController } from "./parse/nvme.js";
import { parseSmartctl, type SmartctlDisk } from "./parse/smartctl.js";
import type { Parsed } from "./parse/common.js";
import { healthFindings, ipmiPowerSupplies, mergePowerSupplies } from "./health.js";
import { parseIpmiSdr, parseIpmiSensor } from "./parse/ipmitool-sdr.js";
import { parseIpmiSel } from "./parse/ipmitool-sel.js";

/** Drivers of interfaces that are not ports of the machine (kernel-made or software devices). */
const VIRTUAL_DRIVERS = new Set([
  "ifb",
  "bridge",
  "veth",
  "tun",
  "dummy",
  "bonding",
  "802.1Q VLAN Support",
  "macvlan",
  "ipvlan",
  "vxlan",
  "openvswitch",
  "team",
  "wireguard",
  "nlmon",
  "vrf",
]);

/** Raw files recon keeps for the admin but does not parse (docs/raw-upload.md). */
const KNOWN_UNPARSED = [
  /^raw\/dmidecode\.bin$/,
  // The agent keeps every channel's answer it tried; the first is read.
  /^raw\/ipmitool-lan-print\.\d+\.txt$/,
  /^raw\/nvidia-smi\.xml$/,
  // What the agent did to Intel NIC firmware's LLDP agent for the listen (src/agent/fw-lldp.ts): a record, not hardware.
  /^raw\/fw-lldp\.json$/,
];

/** A record of `lspci -vvnn`/`-nnk`/`-vnn` text: a slot at the line's start, then a class name. */
const LSPCI_TEXT_RECORD = /^([0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7] \S/im;

/** Vendor RAID tools a workload may run (docs/workload.md): collector id → parser of its output. */
const RAID_TOOL_OUTPUTS: [string, (text: string, source: string) => Parsed<RaidToolController[]>][] = [
  ["storcli", (text, source) => parseStorcliJson(text, source, "storcli")],
  ["perccli", (text, source) => parseStorcliJson(text, source, "perccli")],
  ["ssacli", (text, source) => parseSsacli(text, source)],
];

/** The first non-null value. */
function first<T>(...values: Array<T | null | undefined>): T | null {
  for (const value of values) if (value !== null && value !== undefined) return value;
  return null;
}

/** Keys as they appear inside the tar, without a leading "./". */
function normalizeKeys(files: Map<string, Buffer>): Map<string, string> {
  const texts = new Map<string, string>();
  for (const [key, buffer] of files) texts.set(key.replace(/^(\.\/)+/, ""), buffer.toString("utf8"));
  return texts;
}

export function normalizeRaw(files: Map<string, Buffer>): Inventory {
  const texts = normalizeKeys(files);
  const inventory = emptyInventory();
  const errors: Problem[] = [];
  // Every file a parser looked at; what is left over is reported (a file recon does not read must not vanish silently).
  const consumed = new Set<string>();
  const read = <T>(path: string, parse: (text: string) => Parsed<T>): T | null => {
    const text = texts.get(path);
    if (text === undefined) return null;
    consumed.add(path);
    try {
      const parsed = parse(text);
      errors.push(...parsed.errors);
      return parsed.value;
    } catch (error) {
      // Parsers are written not to throw; this keeps one bug from losing the whole inventory.
      errors.push({ source: path, message: `parser failed: ${(error as Error).message}` });
      return null;
    }
  };
  const byPrefix = (prefix: string, suffix: string) =>
    [...texts.keys()]
      .filter((key) => key.startsWith(prefix) && key.endsWith(suffix))
      .map((key) => ({ key, id: key.slice(prefix.length, key.length - suffix.length) }))
      .sort((a, b) => a.key.localeCompare(b.key));

  // Identity of the upload.
  const manifest = read("manifest.json", parseManifest);
  if (manifest === null) errors.push({ source: "manifest.json", message: "missing: the upload does not say who collected it or which collectors failed" });
  inventory.collected_at = manifest?.collected_at ?? null;
  inventory.boot_mac = manifest?.boot_mac ?? null;
  inventory.hostname = manifest?.hostname ?? null;
  inventory.agent_version = manifest?.agent_version ?? null;
  inventory.kernel = manifest?.kernel ?? null;

  const dmi = read("raw/dmidecode.txt", parseDmidecode);
  const lshw = read("raw/lshw.json", parseLshw);
  const fru = read("raw/ipmitool-fru.txt", parseIpmiFru);

  // System and firmware.
  for (const key of ["manufacturer", "product_name", "serial_number", "uuid", "sku"] as const) {
    inventory.system_vendor[key] = first(dmi?.system_vendor[key], lshw?.system_vendor[key], fru?.[key]);
  }
  for (const key of ["vendor", "version", "build_date"] as const) {
    inventory.firmware[key] = first(dmi?.firmware[key], lshw?.firmware[key]);
  }
  if (dmi) {
    inventory.baseboard = dmi.baseboard;
    inventory.chassis = dmi.chassis;
    inventory.power_supplies = dmi.power_supplies;
  }

  // CPU.
  // lscpu -J as the agent collects it, else a plain `lscpu` kept as raw/lscpu.txt (probe collections, older agents).
  const lscpu = read("raw/lscpu.json", parseLscpu) ?? read("raw/lscpu.txt", (text) => parseLscpu(text, "raw/lscpu.txt"));
  const sockets = dmi?.processors.filter((processor) => processor.populated) ?? [];
  const sumOf = (values: Array<number | null>) =>
    values.length > 0 && values.every((value) => value !== null) ? values.reduce<number>((a, b) => a + (b ?? 0), 0) : null;
  inventory.cpu = {
    // Without lscpu: every distinct SMBIOS model ("A; B" on a mixed machine).
    model_name: first(
      lscpu?.model_name,
      [...new Set(sockets.map((socket) => socket.version).filter((version) => version !== null))].join("; ") || null,
      lshw?.cpu_model,
    ),
    architecture: first(lscpu?.architecture),
    sockets: first(lscpu?.sockets, sockets.length > 0 ? sockets.length : null),
    cores: first(lscpu?.cores, sumOf(sockets.map((socket) => socket.core_enabled))),
    threads: first(lscpu?.threads, sumOf(sockets.map((socket) => socket.thread_count))),
    // SMBIOS "Max Speed" is the socket's ceiling, not the CPU's (docs/inventory.md "CPU"): its Current Speed instead.
    frequency_mhz: first(lscpu?.frequency_mhz, sockets[0]?.current_speed_mhz, lscpu?.current_mhz),
    flags: lscpu?.flags ?? [],
  };

  // Memory.
  const meminfo = read("raw/meminfo.txt", parseMeminfo);
  const edac = read("raw/edac.json", parseEdac);
  const dimms = dmi && dmi.dimms.length > 0 ? dmi.dimms : (lshw?.dimms ?? []);
  // physical_mb: volatile DRAM only; an unknown size makes it a lower bound (physical_mb_complete false).
  const mib = (bytes: number) => Math.round(bytes / 1024 ** 2);
  const dram = dimms.filter((dimm) => dimm.kind !== "persistent");
  const known = dram.map((dimm) => dimm.size_bytes).filter((size): size is number => size !== null);
  const persistent = dimms.filter((dimm) => dimm.kind === "persistent");
  inventory.memory = {
    total_bytes: meminfo?.total_bytes ?? null,
    physical_mb: dram.length > 0 ? mib(known.reduce((a, b) => a + b, 0)) : null,
    physical_mb_complete: dram.length > 0 ? known.length === dram.length : null,
    persistent_mb: persistent.length > 0 ? mib(persistent.reduce((a, dimm) => a + (dimm.non_volatile_size_bytes ?? 0), 0)) : null,
    dimms,
    correctable_errors: edac?.correctable_errors ?? null,
    uncorrectable_errors: edac?.uncorrectable_errors ?? null,
  };

  // Disks.
  const smart = new Map<string, SmartctlDisk>();
  const smartSources = new Map<string, { source: string; evidence: string | null }>();
  // JSON (the agent) or text (`smartctl -a`/`-x` kept by other tools), told apart by content; JSON wins for one disk.
  for (const { key, id } of [...byPrefix("raw/smartctl.", ".json"), ...byPrefix("raw/smartctl.", ".txt")]) {
    const value = read(key, (text) => parseSmartctl(text, key));
    if (value && !smart.has(id)) {
      smart.set(id, value);
      // A text report's own health line is the evidence (ATA "overall-health", SCSI/SAS "SMART Health Status").
      const line = key.endsWith(".txt") ? (/^.*(overall-health self-assessment|SMART Health Status).*$/m.exec(texts.get(key) ?? "")?.[0] ?? null) : null;
      smartSources.set(id.replace(/!/g, "/"), { source: key, evidence: line?.trim() ?? null });
    }
  }
  const nvmeList = read("raw/nvme-list.json", parseNvmeList) ?? [];
  const controllers = new Map<string, NvmeController>();
  for (const { key, id } of byPrefix("raw/nvme-id-ctrl.", ".json")) {
    const value = read(key, (text) => parseNvmeIdCtrl(text, key));
    if (value) controllers.set(id, value);
  }
  const lsblk = read("raw/lsblk.json", parseLsblk);
  const byPath = read("raw/disk-by-path.json", parseDiskByPath);
  // What the kernel says, for a disk udev had not processed when lsblk ran (no serial there).
  const sysBlock = read("raw/sys-block.json", parseSysBlock);
  // Disks behind a RAID controller: smartctl files named "<device>:<-d value>" (raw-upload.md); the kernel does not see them.
  const raidIds = [...smart.keys()].filter((id) => id.includes(":")).sort();
  const names = lsblk
    ? lsblk.map((disk) => disk.name)
    : [
        ...new Set([
          ...nvmeList.map((namespace) => namespace.name),
          ...[...smart.keys()].filter((id) => !id.includes(":")),
          ...(lshw?.disks.map((disk) => disk.name) ?? []),
        ]),
      ].sort();
  const raidDisks = raidIds.map((id): Disk => {
    const smartctl = smart.get(id)!;
    const name = id.replace(/!/g, "/");
    const nvme = smartctl.protocol === "NVMe";
    const rotational = nvme ? false : smartctl.rotation_rate != null ? smartctl.rotation_rate > 0 : null;
    return {
      name,
      model: smartctl.model,
      vendor: smartctl.vendor,
      serial: smartctl.serial,
      wwn: smartctl.wwn,
      size_bytes: smartctl.size_bytes,
      rotational,
      kind: nvme ? "nvme" : rotational === null ? null : rotational ? "hdd" : "ssd",
      smart_passed: smartctl.smart_passed,
      by_path: null,
      smartctl_device: name.slice(name.lastIndexOf(":") + 1),
    };
  });
  inventory.disks = names.map((name): Disk => {
    const block = lsblk?.find((disk) => disk.name === name);
    const smartctl = smart.get(name);
    const namespace = nvmeList.find((entry) => entry.name === name);
    const controller = controllers.get(/^(nvme\d+)n\d+$/.exec(name)?.[1] ?? "");
    const hw = lshw?.disks.find((disk) => disk.name === name);
    const sys = sysBlock?.get(name);
    const nvme = name.startsWith("nvme") || block?.transport === "nvme" || smartctl?.protocol === "NVMe";
    const rotational = nvme ? false : first(smartctl?.rotation_rate != null ? smartctl.rotation_rate > 0 : null, block?.rotational);
    return {
      name,
      model: first(smartctl?.model, controller?.model, namespace?.model, block?.model, sys?.model, hw?.model),
      vendor: first(smartctl?.vendor, block?.vendor, sys?.vendor, hw?.vendor),
      serial: first(smartctl?.serial, controller?.serial, namespace?.serial, block?.serial, sys?.serial, hw?.serial),
      wwn: first(smartctl?.wwn, block?.wwn),
      size_bytes: first(block?.size_bytes, smartctl?.size_bytes, namespace?.size_bytes, hw?.size_bytes),
      rotational,
      kind: nvme ? "nvme" : rotational === null ? null : rotational ? "hdd" : "ssd",
      smart_passed: smartctl?.smart_passed ?? null,
      // udev's bus-position name; the first sorted one when a disk has several (ata and sas).
      by_path: byPath?.get(name)?.[0] ?? null,
      smartctl_device: null,
    };
  });
  inventory.disks.push(...raidDisks);
  // What smartctl's scan listed (kept for the admin; the agent already collected each RAID disk it named).
  read("raw/smartctl-scan.txt", parseSmartctlScan);

  // Interfaces.
  const links = read("raw/ip-link.json", (text) => parseIpLink(text)) ?? [];
  const addresses = read("raw/ip-addr.json", parseIpAddr) ?? new Map<string, string>();
  const lldp = read("raw/lldpctl.json", parseLldpctl) ?? new Map<string, Lldp>();
  const candidates =
    links.length > 0
      ? links.filter((link) => link.kind === null && link.parent === null).map((link) => link.name)
      : (lshw?.networks.map((network) => network.name) ?? []);
  const interfaces: NetworkInterface[] = [];
  for (const name of candidates) {
    const link = links.find((entry) => entry.name === name);
    const hw = lshw?.networks.find((network) => network.name === name);
    const driverKey = `raw/ethtool-i.${name}.txt`;
    const settingsKey = `raw/ethtool.${name}.txt`;
    const driverText = texts.get(driverKey);
    consumed.add(driverKey);
    const driver = driverText === undefined ? null : parseEthtoolDriver(driverText, driverKey);
    if (driver?.value.driver && VIRTUAL_DRIVERS.has(driver.value.driver)) {
      consumed.add(settingsKey); // read, and left out on purpose: not a port of the machine
      continue;
    }
    if (driver) errors.push(...driver.errors);
    const settings = read(settingsKey, (text) => parseEthtool(text, settingsKey));
    interfaces.push({
      name,
      mac_address: first(link?.mac_address, hw?.mac_address),
      driver: first(driver?.value.driver, hw?.driver),
      firmware_version: first(driver?.value.firmware_version, hw?.firmware_version),
      speed_mbps: first(settings?.speed_mbps, hw?.speed_mbps),
      link: first(settings?.link, link?.up ? link.lower_up : null, hw?.link),
      ipv4_address: first(addresses.get(name), hw?.ipv4_address),
      lldp: lldp.get(name) ?? null,
    });
  }
  inventory.interfaces = interfaces;

  // PCI devices and GPUs (display controllers, PCI class 03xx).
  // `lspci -vmm -nn -k` as the agent collects it; `lspci -vvnn`/`-nnk` text (probe collections, other tools) told by content.
  inventory.pci_devices =
    read("raw/lspci.txt", (text) => (/^Slot:/m.test(text) || !LSPCI_TEXT_RECORD.test(text) ? parseLspci(text) : parseLspciText(text))) ?? [];
  const reports: ToolReport[] = [];
  for (const [tool, parse] of RAID_TOOL_OUTPUTS) {
    const source = `raw/workload/${tool}.out`;
    const controllers = read(source, (text) => parse(text, source));
    if (controllers) reports.push({ source, controllers });
  }
  const storage = storageControllers(inventory.pci_devices, reports);
  inventory.storage_controllers = storage.controllers;
  inventory.gpus = inventory.pci_devices
    .filter((device) => device.class_id?.startsWith("03"))
    .map((device) => ({ vendor: device.vendor, product: device.product, pci_slot: device.slot, driver: device.driver, memory_bytes: null }));

  // BMC: the first LAN channel the agent found answering, plus mc info.
  const lanKey = byPrefix("raw/ipmitool-lan-print.", ".txt")[0]?.key;
  const lan = lanKey ? read(lanKey, (text) => parseIpmiLanPrint(text, lanKey)) : null;
  const mc = read("raw/ipmitool-mc-info.txt", parseIpmiMcInfo);
  inventory.bmc = {
    address: lan?.address ?? null,
    v6address: lan?.v6address ?? null,
    mac: lan?.mac ?? null,
    firmware_version: mc?.firmware_version ?? null,
    interface: dmi?.bmc_interface ?? null,
    ipmi_version: dmi?.ipmi?.specification_version ?? null,
  };

  // Boot.
  const efi = read("raw/efi.json", parseEfi);
  inventory.boot = {
    current_boot_mode: efi?.current_boot_mode ?? null,
    secure_boot: efi?.secure_boot ?? null,
    lockdown: read("raw/lockdown.txt", parseLockdown),
    pxe_interface: inventory.boot_mac ? (interfaces.find((entry) => entry.mac_address === inventory.boot_mac)?.name ?? null) : null,
  };

  // Health: findings from the BMC's event log and sensors, SMART and EDAC (docs/inventory.md "Health")
  const sdr = read("raw/ipmitool-sdr.txt", parseIpmiSdr);
  inventory.findings.push(
    ...healthFindings({
      sel: read("raw/ipmitool-sel.txt", parseIpmiSel),
      sdr,
      sensors: read("raw/ipmitool-sensor.txt", parseIpmiSensor),
      disks: inventory.disks,
      smartSources,
      edac,
    }),
    ...storage.findings,
  );
  inventory.power_supplies = mergePowerSupplies(inventory.power_supplies, ipmiPowerSupplies(sdr ?? []));

  // Burn-in (docs/inventory.md "Burn-in")
  const burnIn = parseBurnIn(texts);
  errors.push(...burnIn.errors);
  inventory.burn_in = burnIn.value.map((entry) => entry.result);
  for (const { result: test, source } of burnIn.value) {
    if (test.result === "failed") {
      inventory.findings.push({
        category: "burn_in",
        severity: "critical",
        component: test.target,
        message: `burn-in ${test.test}${test.target === null ? "" : ` on ${test.target}`} failed`,
        source,
        evidence: test.detail,
        at: null,
      });
    } else if (test.result === "error") errors.push({ source, message: `burn-in test could not say: ${test.detail}` });
  }

  errors.push(...unreadFiles(texts, consumed));

  // Critical first across every source (health, then burn-in); the sort is stable, so each source keeps its order.
  inventory.findings.sort((a, b) => Number(a.severity !== "critical") - Number(b.severity !== "critical"));
  inventory.errors = mergeErrors(manifest?.collector_errors ?? [], errors);
  // The schema check is a guard against a parser returning a wrong type; it must never fail.
  return inventorySchema.parse(inventory);
}

/**
 * Files of the upload no parser read: a file named or formatted other than recon reads it (a `.txt`
 * where recon reads `.json`, a tool recon does not know) is reported instead of ignored. Not
 * reported: files recon keeps without parsing (KNOWN_UNPARSED), the workload's outputs (the
 * admin's own collectors, docs/workload.md) and burn-in's files (parse/burn-in.ts reads that directory).
 */
function unreadFiles(texts: Map<string, string>, consumed: Set<string>): Problem[] {
  return (
    [...texts.keys()]
      // Outside raw/ are the agent's own manifest.json and collector.log (docs/raw-upload.md).
      .filter((key) => key.startsWith("raw/") && !consumed.has(key))
      .filter((key) => !key.startsWith("raw/workload/") && !key.startsWith("raw/burn-in/") && !KNOWN_UNPARSED.some((pattern) => pattern.test(key)))
      .filter((key) => !key.endsWith("/"))
      .sort()
      .map((key) => ({
        source: key,
        message: "not a file recon reads: kept in the raw upload but not in the inventory (docs/raw-upload.md lists the files and their names)",
      }))
  );
}

/**
 * A failed collector is reported once: when the parser of its output file already said what
 * was wrong (smartctl's JSON explains its own exit status), the bare exit status is dropped.
 */
function mergeErrors(collectorErrors: InventoryError[], parserErrors: Problem[]): InventoryError[] {
  const explained = new Set(parserErrors.map((error) => error.source.replace(/^raw\//, "").replace(/\.(json|txt)$/, "")));
  // A blocked collector always stays: its parser's complaint does not say that the kernel refused it.
  const kept = collectorErrors.filter((error) => error.kind === "blocked" || !explained.has(error.source.replace(/^collector:/, "")));
  const seen = new Set<string>();
  return [...kept, ...parserErrors.map((error): InventoryError => ({ ...error, kind: error.kind ?? "error" }))].filter((error) => {
    const key = `${error.source}\u0000${error.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
