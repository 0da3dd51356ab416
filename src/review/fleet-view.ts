/**
 * The fleet as the review UI, the CLI and the CSV export see it: one flat row per node, made
 * from the master's boot state (node-state.ts) and the node's normalized inventory, plus the
 * class analysis. Pure: the caller reads the store.
 */
import type { Finding, Inventory } from "../inventory/schema.js";
import { imageDelivery, PHASES, type FleetState, type NodeState, type Phase } from "../model/node-state.js";
import { describeReason, formatGB, formatGiB, physicalNics, worstFinding, type FleetAnalysis, type OutlierReason, type Severity } from "./classes.js";

export interface FleetRow {
  mac: string;
  /** Hostname from the inventory, else from the DHCP lease, else null. */
  name: string | null;
  ip: string | null;
  vendor: string | null;
  model: string | null;
  serial: string | null;
  cpu: string | null;
  cpu_sockets: number | null;
  cpu_cores: number | null;
  memory_bytes: number | null;
  /** "8×32GiB" */
  memory: string;
  disk_count: number;
  disk_bytes: number;
  /** "sda ssd 960GB, nvme0n1 nvme 3840GB" */
  disks: string;
  nic_count: number;
  /** "eno1 ixgbe 10000Mb/s, eno2 ixgbe" */
  nics: string;
  bmc_address: string | null;
  bios_version: string | null;
  /** "uefi, secure boot on, lockdown integrity" (bootSummary); null without an inventory. */
  boot: string | null;
  phase: Phase | "unknown";
  /** The image label this node's current boot booted (several images: issue #13), null before its script or kernel was served. */
  image: string | null;
  /** How the current boot's image came (model/node-state.ts imageDelivery): over HTTP, by BitTorrent (peer assist), null before any byte. */
  image_via: "http" | "torrent" | null;
  /** ISO bytes the master sent this node in its current boot (the HTTP fetch or the torrent's web seed). */
  image_from_master_bytes: number;
  /** A torrent node's ISO bytes from other peers, known once its agent said hello (a lower bound); else null. */
  image_from_peers_bytes: number | null;
  /** When each phase of the current boot was first reached. */
  phases: Partial<Record<Phase, string>>;
  last_seen: string | null;
  last_error: string | null;
  has_inventory: boolean;
  collected_at: string | null;
  collector_errors: number;
  /** How many of those the kernel refused (kind "blocked": kernel lockdown). */
  collector_blocked: number;
  class_id: string | null;
  /** Worst severity among the reasons, null when none. */
  outlier: Severity | null;
  /** Why it differs from its class, each with its English phrase (describeReason) so no client re-implements it. */
  reasons: Array<OutlierReason & { message: string }>;
  /** Health findings (inventory `findings`: what is broken, not how it differs): worst severity and counts. */
  health: Finding["severity"] | null;
  findings_critical: number;
  findings_warning: number;
  /** "critical PSU2 …" per finding, critical first (the normalizer's order), for tooltips and search. */
  health_messages: string[];
  /** Baseboard model (SMBIOS type 2), the platform's board where the system name is generic. */
  baseboard: string | null;
}

export interface FleetSummary {
  total: number;
  /** Nodes per phase ("unknown" = an inventory in the store but no boot state). */
  by_phase: Record<string, number>;
  inventories: number;
  outliers: number;
  /** Nodes with a critical health finding, and with only warnings. */
  critical: number;
  warning: number;
  classes: number;
  /** Image bytes of the current boots: from the master, and from peers (torrent nodes whose agent said hello). */
  image_from_master_bytes: number;
  image_from_peers_bytes: number;
  /** Nodes whose current boot fetched its image by BitTorrent. */
  torrent_nodes: number;
}

export interface FleetView {
  summary: FleetSummary;
  rows: FleetRow[];
}

const SEVERITY_ORDER: Severity[] = ["error", "warning", "info"];

export function worstSeverity(reasons: OutlierReason[]): Severity | null {
  for (const severity of SEVERITY_ORDER) if (reasons.some((r) => r.severity === severity)) return severity;
  return null;
}

/** "16×32GiB" or "12×16GiB+4×32GiB" for mixed DIMMs; "" without DIMM data. */
export function memoryLayout(inv: Inventory): string {
  const counts = new Map<string, number>();
  for (const dimm of inv.memory.dimms) {
    if (dimm.size_bytes === null || dimm.size_bytes <= 0) continue;
    const key = formatGiB(dimm.size_bytes);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([size, n]) => `${n}×${size}`).join("+");
}

export function diskSummary(inv: Inventory): string {
  return inv.disks.map((disk) => `${disk.name} ${disk.kind ?? "disk"} ${formatGB(disk.size_bytes)}`).join(", ");
}

export function nicSummary(inv: Inventory): string {
  return physicalNics(inv.interfaces)
    .map((nic) => [nic.name, nic.driver, nic.speed_mbps === null ? null : `${nic.speed_mbps}Mb/s`].filter(Boolean).join(" "))
    .join(", ");
}

/** Boot mode, Secure Boot and the kernel's lockdown in one phrase; "unknown" where a value is null. */
export function bootSummary(boot: Inventory["boot"]): string {
  const secureBoot = boot.secure_boot === null ? "unknown" : boot.secure_boot ? "on" : "off";
  return `${boot.current_boot_mode ?? "unknown boot mode"}, secure boot ${secureBoot}, lockdown ${boot.lockdown ?? "unknown"}`;
}

function deliveryFields(state: NodeState | undefined): Pick<FleetRow, "image_via" | "image_from_master_bytes" | "image_from_peers_bytes"> {
  if (state === undefined) return { image_via: null, image_from_master_bytes: 0, image_from_peers_bytes: null };
  const delivery = imageDelivery(state);
  return { image_via: delivery.via, image_from_master_bytes: delivery.fromMasterBytes, image_from_peers_bytes: delivery.fromPeersBytes };
}

export function fleetRow(mac: string, state: NodeState | undefined, inv: Inventory | undefined, analysis: FleetAnalysis): FleetRow {
  const finding = analysis.nodes[mac];
  const reasons = finding?.reasons ?? [];
  return {
    mac,
    name: inv?.hostname ?? state?.hostname ?? null,
    ip: state?.ip ?? null,
    vendor: inv?.system_vendor.manufacturer ?? null,
    model: inv?.system_vendor.product_name ?? null,
    serial: inv?.system_vendor.serial_number ?? null,
    cpu: inv?.cpu.model_name ?? null,
    cpu_sockets: inv?.cpu.sockets ?? null,
    cpu_cores: inv?.cpu.cores ?? null,
    memory_bytes: inv ? (inv.memory.total_bytes ?? (inv.memory.physical_mb === null ? null : inv.memory.physical_mb * 1024 * 1024)) : null,
    memory: inv ? memoryLayout(inv) : "",
    disk_count: inv?.disks.length ?? 0,
    disk_bytes: inv?.disks.reduce((sum, disk) => sum + (disk.size_bytes ?? 0), 0) ?? 0,
    disks: inv ? diskSummary(inv) : "",
    nic_count: inv ? physicalNics(inv.interfaces).length : 0,
    nics: inv ? nicSummary(inv) : "",
    bmc_address: inv?.bmc.address ?? null,
    bios_version: inv?.firmware.version ?? null,
    boot: inv ? bootSummary(inv.boot) : null,
    phase: state?.phase ?? "unknown",
    image: state?.image ?? null,
    ...deliveryFields(state),
    phases: state?.phases ?? {},
    last_seen: state?.lastSeen ?? null,
    last_error: state?.lastError?.message ?? null,
    has_inventory: inv !== undefined,
    collected_at: inv?.collected_at ?? null,
    collector_errors: inv?.errors.length ?? 0,
    collector_blocked: inv?.errors.filter((error) => error.kind === "blocked").length ?? 0,
    class_id: finding?.class_id ?? null,
    outlier: worstSeverity(reasons),
    reasons: reasons.map((reason) => ({ ...reason, message: describeReason(reason) })),
    health: inv ? worstFinding(inv) : null,
    findings_critical: inv?.findings.filter((finding) => finding.severity === "critical").length ?? 0,
    findings_warning: inv?.findings.filter((finding) => finding.severity === "warning").length ?? 0,
    health_messages: inv?.findings.map((finding) => `${finding.severity}: ${finding.message}`) ?? [],
    baseboard: inv?.baseboard.product_name ?? null,
  };
}

/** Every node that has boot state or an inventory, sorted by MAC. */
export function buildFleetView(fleet: FleetState, inventories: ReadonlyMap<string, Inventory>, analysis: FleetAnalysis): FleetView {
  const macs = [...new Set([...Object.keys(fleet.nodes), ...inventories.keys()])].sort();
  const rows = macs.map((mac) => fleetRow(mac, fleet.nodes[mac], inventories.get(mac), analysis));
  return { summary: summarize(rows, analysis), rows };
}

export function summarize(rows: FleetRow[], analysis: FleetAnalysis): FleetSummary {
  const by_phase: Record<string, number> = Object.fromEntries([...PHASES, "error", "unknown"].map((phase) => [phase, 0]));
  for (const row of rows) by_phase[row.phase] = (by_phase[row.phase] ?? 0) + 1;
  return {
    total: rows.length,
    by_phase,
    inventories: rows.filter((row) => row.has_inventory).length,
    outliers: rows.filter((row) => row.outlier !== null).length,
    critical: rows.filter((row) => row.health === "critical").length,
    warning: rows.filter((row) => row.health === "warning").length,
    classes: analysis.classes.length,
    image_from_master_bytes: rows.reduce((sum, row) => sum + row.image_from_master_bytes, 0),
    image_from_peers_bytes: rows.reduce((sum, row) => sum + (row.image_from_peers_bytes ?? 0), 0),
    torrent_nodes: rows.filter((row) => row.image_via === "torrent").length,
  };
}
