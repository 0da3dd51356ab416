/**
 * Hardware classes and outliers, pure. A class is a *platform*: system vendor + product, CPU
 * model and socket count — what a purchase order names. Within a class the reference
 * configuration is, per dimension (memory layout, disk layout, NIC layout, each firmware), the
 * value most members share; ties go to the richer layout or the newer firmware (with two nodes
 * of which one lost a DIMM, the one with the DIMM is the reference). A node that differs from
 * the reference gets reasons, as data, so the UI, the CLI and the exports can each phrase them.
 *
 * Grouping by the *whole* signature instead would put the node with the missing DIMM in a
 * class of its own and flag nothing; the platform key keeps it next to its siblings. The key folds
 * vendor naming (platformKey: one platform, one class), the class shows the firmware's own names.
 *
 * Outliers are not health: a node can match its class and still have a failed PSU. What is broken
 * (failed SMART, uncorrectable ECC, the BMC's event log) is the inventory's `findings`, made by the
 * normalizer (src/inventory/health.ts); the review shows them beside the outliers (fleet-view.ts).
 */
import { createHash } from "node:crypto";
import type { Dimm, Disk, Finding, Inventory, NetworkInterface } from "../inventory/schema.js";

export type Severity = "error" | "warning" | "info";
export type FirmwareComponent = "bios" | "bmc" | "nic";
export type VersionRelation = "older" | "newer" | "different";

/** Why a node stands out from its class. Sizes in bytes; `expected` values come from the class reference. */
export type OutlierReason =
  | { kind: "missing-dimm"; severity: Severity; slot: string; expected_size_bytes: number | null }
  | { kind: "extra-dimm"; severity: Severity; slot: string; size_bytes: number | null }
  | { kind: "dimm-size"; severity: Severity; slot: string; expected_size_bytes: number | null; actual_size_bytes: number | null }
  | { kind: "missing-disk"; severity: Severity; disk_kind: string | null; expected_size_bytes: number | null }
  | { kind: "extra-disk"; severity: Severity; name: string; disk_kind: string | null; size_bytes: number | null }
  | { kind: "disk-size"; severity: Severity; name: string; disk_kind: string | null; expected_size_bytes: number | null; actual_size_bytes: number | null }
  | { kind: "missing-nic"; severity: Severity; name: string; driver: string | null }
  | { kind: "extra-nic"; severity: Severity; name: string; driver: string | null }
  | { kind: "nic-driver"; severity: Severity; name: string; expected: string | null; actual: string | null }
  | {
      kind: "firmware";
      severity: Severity;
      component: FirmwareComponent;
      name: string | null;
      expected: string | null;
      actual: string | null;
      relation: VersionRelation;
    };

export interface ClassSignature {
  /** The firmware's own names, the spelling most members use; `spellings` lists every "maker product" seen. */
  manufacturer: string | null;
  product_name: string | null;
  spellings: string[];
  cpu_model: string | null;
  cpu_sockets: number | null;
  /** The reference layouts, as short text: "DIMM_A1=32GiB DIMM_B1=32GiB", "ssd:960GB nvme:3840GB", "eno1:ixgbe eno2:ixgbe". */
  memory: string;
  disks: string;
  nics: string;
  /** Reference firmware versions: bios, bmc, nic:<name>. */
  firmware: Record<string, string | null>;
}

export interface HardwareClass {
  /** Stable across runs: a hash of the platform key. */
  id: string;
  signature: ClassSignature;
  /** Member MACs, sorted. */
  members: string[];
  /** MACs of members with at least one reason, sorted. */
  outliers: string[];
  /** Members with health findings (inventory `findings`), by their worst severity: MACs, sorted. Not outliers. */
  findings: { critical: string[]; warning: string[] };
}

export interface NodeFinding {
  class_id: string;
  reasons: OutlierReason[];
}

export interface FleetAnalysis {
  /** Largest class first, then by id. */
  classes: HardwareClass[];
  /** Per node MAC (only nodes with an inventory). */
  nodes: Record<string, NodeFinding>;
}

const GiB = 1024 ** 3;
const GB = 1000 ** 3;

/** "32GiB" (DIMMs are binary sizes). */
export function formatGiB(bytes: number | null): string {
  if (bytes === null) return "?";
  const gib = bytes / GiB;
  return `${Number.isInteger(gib) ? gib : gib.toFixed(1)}GiB`;
}

/** "960GB" (disks are sold in decimal sizes; rounding to whole GB absorbs vendor differences). */
export function formatGB(bytes: number | null): string {
  return bytes === null ? "?" : `${Math.round(bytes / GB)}GB`;
}

function populated(dimms: Dimm[]): Dimm[] {
  return dimms.filter((dimm) => dimm.size_bytes !== null && dimm.size_bytes > 0);
}

function slotName(dimm: Dimm, index: number): string {
  return dimm.slot ?? `#${index}`;
}

/** Physical NICs: the ones with a MAC that are not loopback. */
export function physicalNics(interfaces: NetworkInterface[]): NetworkInterface[] {
  return interfaces.filter((nic) => nic.mac_address !== null && nic.name !== "lo" && nic.mac_address !== "00:00:00:00:00:00");
}

const diskKey = (disk: Disk) => `${disk.kind ?? "disk"}:${formatGB(disk.size_bytes)}`;

function memorySignature(inv: Inventory): string {
  return populated(inv.memory.dimms)
    .map((dimm, i) => `${slotName(dimm, i)}=${formatGiB(dimm.size_bytes)}`)
    .sort()
    .join(" ");
}

function diskSignature(inv: Inventory): string {
  return inv.disks.map(diskKey).sort().join(" ");
}

function nicSignature(inv: Inventory): string {
  return physicalNics(inv.interfaces)
    .map((nic) => `${nic.name}:${nic.driver ?? "?"}`)
    .sort()
    .join(" ");
}

function firmwareVersions(inv: Inventory): Record<string, string | null> {
  const versions: Record<string, string | null> = { bios: inv.firmware.version, bmc: inv.bmc.firmware_version };
  for (const nic of physicalNics(inv.interfaces)) versions[`nic:${nic.name}`] = nic.firmware_version;
  return versions;
}

/** Case, runs of blanks and edge blanks do not tell platforms apart ("PowerEdge R730XD" / "PowerEdge R730xd"). */
function fold(text: string | null): string {
  return (text ?? "").replace(/\s+/g, " ").trim().toLowerCase();
}

/**
 * The firmware's many spellings of one maker, each folded to one word. The SMBIOS strings seen on
 * real servers (linuxhw/DMI): "Dell Inc.", "Dell", "Dell Computer Corporation"; "HP", "HPE",
 * "Hewlett Packard", "Hewlett-Packard", "Hewlett Packard Enterprise"; "Supermicro", "Super Micro
 * Computer, Inc."; "LENOVO", "Lenovo"; "FUJITSU", "Fujitsu", "FUJITSU SIEMENS". HP and HPE are one
 * maker here: the ProLiant line kept its names across the 2015 split and its firmware says either.
 */
const VENDOR_ALIASES: ReadonlyArray<readonly [RegExp, string]> = [
  [/^dell\b/, "dell"],
  [/^(hpe?|hewlett[ -]?packard)\b/, "hpe"],
  [/^(super ?micro)\b/, "supermicro"],
  [/^lenovo\b/, "lenovo"],
  [/^fujitsu\b/, "fujitsu"],
  [/^ibm\b/, "ibm"],
  [/^quanta\b/, "quanta"],
  [/^(gigabyte|giga-byte)\b/, "gigabyte"],
  [/^asrock ?rack\b/, "asrockrack"],
  [/^huawei\b/, "huawei"],
  [/^inspur\b/, "inspur"],
];

/** One key per maker: a known alias's word, else the folded name without a company suffix ("Inc.", "Co., Ltd."). */
export function vendorKey(manufacturer: string | null): string {
  const folded = fold(manufacturer);
  for (const [pattern, key] of VENDOR_ALIASES) if (pattern.test(folded)) return key;
  return folded.replace(/[,.]?\s+(inc|corp|corporation|co|ltd|limited|gmbh|ag|llc|s\.?a)\.?(\s+|,|$).*$/, "").replace(/[,.]+$/, "");
}

/** Supermicro's system names that do not name a platform: the generic "Super Server" and a blank. */
const SUPERMICRO_GENERIC = /^(super server|superserver|)$/;

/**
 * One key per platform from the system's product name: Lenovo's "-[machine type]-" suffix
 * ("ThinkSystem SR650 -[7X06CTO1WW]-", "System x3650 M5: -[8871AC1]-") is a build-to-order code,
 * not the platform, so it goes, with the colon before it; a leading maker word ("HPE ProLiant …")
 * goes. Supermicro names the platform by its board: "Super Server" is replaced by the baseboard
 * model and a "SYS-…" system name is qualified with it (one SYS model ships with board revisions).
 */
export function productKey(inv: Pick<Inventory, "system_vendor" | "baseboard">): string {
  const vendor = platformVendor(inv);
  let product = fold(inv.system_vendor.product_name)
    .replace(/\s*:?\s*-\[[^\]]*\]-\s*$/, "")
    .replace(/:$/, "");
  const lead = product.split(" ")[0] ?? "";
  if (lead !== product && vendorKey(lead) === vendor && vendor !== "") product = product.slice(lead.length + 1);
  const board = fold(inv.baseboard.product_name);
  if (vendor === "supermicro" && board !== "") {
    if (SUPERMICRO_GENERIC.test(product)) return `board ${board}`;
    if (product.startsWith("sys-")) return `${product} board ${board}`;
  }
  return product;
}

/**
 * The platform key a class is made of: maker and product as vendorKey/productKey fold them, the
 * CPU model (blank runs folded: lscpu and dmidecode space "Intel(R) Xeon(R) CPU   L5420" apart)
 * and the socket count.
 */
export function platformKey(inv: Pick<Inventory, "system_vendor" | "baseboard" | "cpu">): string {
  return JSON.stringify([platformVendor(inv), productKey(inv), fold(inv.cpu.model_name), inv.cpu.sockets]);
}

/**
 * The platform's maker: the system's, except behind Supermicro's generic "Super Server" on a
 * Supermicro board, where an integrator may have written its own name into SMBIOS type 1
 * ("DEPO Computers" on an X11SCL-F, test/fixtures/inventory/real/dmi PAIR): the board's maker then.
 */
export function platformVendor(inv: Pick<Inventory, "system_vendor" | "baseboard">): string {
  const board = vendorKey(inv.baseboard.manufacturer);
  if (board === "supermicro" && fold(inv.baseboard.product_name) !== "" && SUPERMICRO_GENERIC.test(fold(inv.system_vendor.product_name))) return board;
  return vendorKey(inv.system_vendor.manufacturer);
}

/** The spelling most members use (ties: the lexically smaller), null when none has one. */
function commonSpelling(values: Array<string | null>): string | null {
  return (
    reference(
      values.filter((v): v is string => v !== null),
      (v) => v,
      () => 0,
    ) ?? null
  );
}

/**
 * Compares firmware versions by their runs of digits and letters ("2.10.2" > "2.9.8",
 * "U30 v2.42" > "U30 v2.40"); undefined when the shapes differ and no order is honest.
 */
export function compareVersions(a: string, b: string): -1 | 0 | 1 | undefined {
  const split = (text: string) => text.toLowerCase().match(/\d+|[a-z]+/g) ?? [];
  const x = split(a);
  const y = split(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i];
    const q = y[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    if (p === q) continue;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return Number(p) < Number(q) ? -1 : 1;
    if (pn !== qn) return undefined;
    return p < q ? -1 : 1;
  }
  return 0;
}

/**
 * The value most members share; ties go to the value `prefer` ranks higher, then to the
 * lexically smaller one (so the result never depends on input order).
 */
function reference<T>(values: T[], key: (value: T) => string, prefer: (a: T, b: T) => number): T | undefined {
  const counts = new Map<string, { value: T; count: number }>();
  for (const value of values) {
    const k = key(value);
    const entry = counts.get(k);
    if (entry) entry.count += 1;
    else counts.set(k, { value, count: 1 });
  }
  let best: { key: string; value: T; count: number } | undefined;
  for (const [k, entry] of counts) {
    if (
      best === undefined ||
      entry.count > best.count ||
      (entry.count === best.count && (prefer(entry.value, best.value) > 0 || (prefer(entry.value, best.value) === 0 && k < best.key)))
    ) {
      best = { key: k, ...entry };
    }
  }
  return best?.value;
}

function compareMemory(reason: OutlierReason[], node: Inventory, ref: Inventory): void {
  const mine = new Map(populated(node.memory.dimms).map((dimm, i) => [slotName(dimm, i), dimm]));
  const theirs = new Map(populated(ref.memory.dimms).map((dimm, i) => [slotName(dimm, i), dimm]));
  for (const [slot, dimm] of theirs) {
    const own = mine.get(slot);
    if (own === undefined) reason.push({ kind: "missing-dimm", severity: "warning", slot, expected_size_bytes: dimm.size_bytes });
    else if (formatGiB(own.size_bytes) !== formatGiB(dimm.size_bytes)) {
      reason.push({ kind: "dimm-size", severity: "warning", slot, expected_size_bytes: dimm.size_bytes, actual_size_bytes: own.size_bytes });
    }
  }
  for (const [slot, dimm] of mine) {
    if (!theirs.has(slot)) reason.push({ kind: "extra-dimm", severity: "info", slot, size_bytes: dimm.size_bytes });
  }
}

function compareDisks(reasons: OutlierReason[], node: Inventory, ref: Inventory): void {
  // Multiset difference of kind:size; what is left on both sides is paired by kind (a
  // different size), the rest is missing or extra. Disk names (sda/sdb) are not stable enough
  // to match on.
  const expected = [...ref.disks].sort((a, b) => diskKey(a).localeCompare(diskKey(b)));
  const actual = [...node.disks].sort((a, b) => a.name.localeCompare(b.name));
  const leftExpected: Disk[] = [];
  const leftActual = [...actual];
  for (const disk of expected) {
    const at = leftActual.findIndex((own) => diskKey(own) === diskKey(disk));
    if (at >= 0) leftActual.splice(at, 1);
    else leftExpected.push(disk);
  }
  for (const disk of leftExpected) {
    const at = leftActual.findIndex((own) => own.kind === disk.kind);
    if (at >= 0) {
      const own = leftActual.splice(at, 1)[0]!;
      reasons.push({
        kind: "disk-size",
        severity: "warning",
        name: own.name,
        disk_kind: own.kind,
        expected_size_bytes: disk.size_bytes,
        actual_size_bytes: own.size_bytes,
      });
    } else {
      reasons.push({ kind: "missing-disk", severity: "warning", disk_kind: disk.kind, expected_size_bytes: disk.size_bytes });
    }
  }
  for (const own of leftActual) reasons.push({ kind: "extra-disk", severity: "info", name: own.name, disk_kind: own.kind, size_bytes: own.size_bytes });
}

function compareNics(reasons: OutlierReason[], node: Inventory, ref: Inventory): void {
  const mine = new Map(physicalNics(node.interfaces).map((nic) => [nic.name, nic]));
  const theirs = new Map(physicalNics(ref.interfaces).map((nic) => [nic.name, nic]));
  for (const [name, nic] of theirs) {
    const own = mine.get(name);
    if (own === undefined) reasons.push({ kind: "missing-nic", severity: "warning", name, driver: nic.driver });
    else if (own.driver !== nic.driver) reasons.push({ kind: "nic-driver", severity: "warning", name, expected: nic.driver, actual: own.driver });
  }
  for (const [name, nic] of mine) if (!theirs.has(name)) reasons.push({ kind: "extra-nic", severity: "info", name, driver: nic.driver });
}

function relationOf(actual: string | null, expected: string | null): VersionRelation {
  if (actual === null || expected === null) return "different";
  const order = compareVersions(actual, expected);
  return order === -1 ? "older" : order === 1 ? "newer" : "different";
}

const totalDimmBytes = (inv: Inventory) => populated(inv.memory.dimms).reduce((sum, dimm) => sum + (dimm.size_bytes ?? 0), 0);
const totalDiskBytes = (inv: Inventory) => inv.disks.reduce((sum, disk) => sum + (disk.size_bytes ?? 0), 0);

function newestFirst(a: string | null, b: string | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  return compareVersions(a, b) ?? 0;
}

/** The worst severity among a node's health findings, null when it has none. */
export function worstFinding(inv: Pick<Inventory, "findings">): Finding["severity"] | null {
  if (inv.findings.some((finding) => finding.severity === "critical")) return "critical";
  return inv.findings.length > 0 ? "warning" : null;
}

function classId(key: string): string {
  return `c-${createHash("sha256").update(key).digest("hex").slice(0, 10)}`;
}

/** Groups nodes into classes and finds each node's reasons. `inventories` maps MAC → inventory. */
export function analyzeFleet(inventories: ReadonlyMap<string, Inventory>): FleetAnalysis {
  const groups = new Map<string, string[]>();
  for (const [mac, inv] of inventories) {
    const key = platformKey(inv);
    groups.set(key, [...(groups.get(key) ?? []), mac]);
  }
  const classes: HardwareClass[] = [];
  const nodes: Record<string, NodeFinding> = {};
  for (const [key, unsorted] of groups) {
    const members = [...unsorted].sort();
    const invs = members.map((mac) => inventories.get(mac)!);
    const id = classId(key);
    const memoryRef = reference(invs, memorySignature, (a, b) => totalDimmBytes(a) - totalDimmBytes(b))!;
    const diskRef = reference(invs, diskSignature, (a, b) => a.disks.length - b.disks.length || totalDiskBytes(a) - totalDiskBytes(b))!;
    const nicRef = reference(invs, nicSignature, (a, b) => physicalNics(a.interfaces).length - physicalNics(b.interfaces).length)!;
    const components = [...new Set(invs.flatMap((inv) => Object.keys(firmwareVersions(inv))))].sort();
    const firmwareRef: Record<string, string | null> = {};
    for (const component of components) {
      const seen = invs.map((inv) => firmwareVersions(inv)[component]).filter((v): v is string | null => v !== undefined);
      firmwareRef[component] = reference(seen, (v) => v ?? "", newestFirst) ?? null;
    }
    const outliers: string[] = [];
    members.forEach((mac, i) => {
      const inv = invs[i]!;
      const reasons: OutlierReason[] = [];
      if (memorySignature(inv) !== memorySignature(memoryRef)) compareMemory(reasons, inv, memoryRef);
      if (diskSignature(inv) !== diskSignature(diskRef)) compareDisks(reasons, inv, diskRef);
      if (nicSignature(inv) !== nicSignature(nicRef)) compareNics(reasons, inv, nicRef);
      for (const [component, actual] of Object.entries(firmwareVersions(inv))) {
        const expected = firmwareRef[component] ?? null;
        if (actual === expected || (actual === null && members.length === 1)) continue;
        const relation = relationOf(actual, expected);
        const [kind, name] = component.startsWith("nic:") ? (["nic", component.slice(4)] as const) : ([component as FirmwareComponent, null] as const);
        reasons.push({ kind: "firmware", severity: relation === "older" ? "warning" : "info", component: kind, name, expected, actual, relation });
      }
      nodes[mac] = { class_id: id, reasons };
      if (reasons.length > 0) outliers.push(mac);
    });
    const first = invs[0]!;
    const names = (inv: Inventory) => [inv.system_vendor.manufacturer, inv.system_vendor.product_name].filter(Boolean).join(" ");
    classes.push({
      id,
      signature: {
        manufacturer: commonSpelling(invs.map((inv) => inv.system_vendor.manufacturer)),
        product_name: commonSpelling(invs.map((inv) => inv.system_vendor.product_name)),
        spellings: [...new Set(invs.map(names))].sort(),
        cpu_model: commonSpelling(invs.map((inv) => inv.cpu.model_name)),
        cpu_sockets: first.cpu.sockets,
        memory: memorySignature(memoryRef),
        disks: diskSignature(diskRef),
        nics: nicSignature(nicRef),
        firmware: firmwareRef,
      },
      members,
      outliers,
      findings: {
        critical: members.filter((_, i) => worstFinding(invs[i]!) === "critical"),
        warning: members.filter((_, i) => worstFinding(invs[i]!) === "warning"),
      },
    });
  }
  classes.sort((a, b) => b.members.length - a.members.length || a.id.localeCompare(b.id));
  return { classes, nodes };
}

/** One line of English per reason, for the CLI, CSV and the UI's tooltips. */
export function describeReason(reason: OutlierReason): string {
  switch (reason.kind) {
    case "missing-dimm":
      return `DIMM missing in slot ${reason.slot} (class has ${formatGiB(reason.expected_size_bytes)})`;
    case "extra-dimm":
      return `extra DIMM in slot ${reason.slot} (${formatGiB(reason.size_bytes)})`;
    case "dimm-size":
      return `DIMM in slot ${reason.slot} is ${formatGiB(reason.actual_size_bytes)}, class has ${formatGiB(reason.expected_size_bytes)}`;
    case "missing-disk":
      return `${reason.disk_kind ?? "disk"} of ${formatGB(reason.expected_size_bytes)} missing`;
    case "extra-disk":
      return `extra ${reason.disk_kind ?? "disk"} ${reason.name} (${formatGB(reason.size_bytes)})`;
    case "disk-size":
      return `disk ${reason.name} is ${formatGB(reason.actual_size_bytes)}, class has ${formatGB(reason.expected_size_bytes)}`;
    case "missing-nic":
      return `NIC ${reason.name} (${reason.driver ?? "?"}) missing`;
    case "extra-nic":
      return `extra NIC ${reason.name} (${reason.driver ?? "?"})`;
    case "nic-driver":
      return `NIC ${reason.name} uses ${reason.actual ?? "?"}, class uses ${reason.expected ?? "?"}`;
    case "firmware": {
      const what = reason.component === "nic" ? `NIC ${reason.name} firmware` : `${reason.component.toUpperCase()} firmware`;
      return `${what} ${reason.actual ?? "unknown"} is ${reason.relation === "different" ? "different from" : `${reason.relation} than`} the class's ${reason.expected ?? "unknown"}`;
    }
  }
}
