/**
 * Spreadsheet CSV: one row per node, flat, columns in a fixed order (COLUMNS; append new
 * columns at the end so existing spreadsheets keep working). Sizes in bytes, speeds in Mb/s;
 * lists are joined with "; ". Hardware text is guarded against formula injection (csv.ts).
 */
import type { Inventory } from "../../inventory/schema.js";
import { describeReason, physicalNics, type NodeFinding } from "../classes.js";
import { memoryLayout, worstSeverity } from "../fleet-view.js";
import { renderCsv, type CsvValue } from "./csv.js";
import { exportNames, type ExportInput, type ExportNode } from "./export-input.js";

interface Context {
  node: ExportNode;
  inv: Inventory | undefined;
  finding: NodeFinding | undefined;
  name: string;
}

const list = (items: string[]) => items.join("; ");

export const CSV_COLUMNS: ReadonlyArray<readonly [string, (c: Context) => CsvValue]> = [
  ["mac", (c) => c.node.mac],
  ["name", (c) => c.name],
  ["hostname", (c) => c.inv?.hostname ?? c.node.state?.hostname],
  ["ip", (c) => c.node.state?.ip],
  ["phase", (c) => c.node.state?.phase],
  ["last_error", (c) => c.node.state?.lastError?.message],
  ["manufacturer", (c) => c.inv?.system_vendor.manufacturer],
  ["product_name", (c) => c.inv?.system_vendor.product_name],
  ["serial_number", (c) => c.inv?.system_vendor.serial_number],
  ["uuid", (c) => c.inv?.system_vendor.uuid],
  ["sku", (c) => c.inv?.system_vendor.sku],
  ["bios_vendor", (c) => c.inv?.firmware.vendor],
  ["bios_version", (c) => c.inv?.firmware.version],
  ["bios_date", (c) => c.inv?.firmware.build_date],
  ["boot_mode", (c) => c.inv?.boot.current_boot_mode],
  ["secure_boot", (c) => c.inv?.boot.secure_boot],
  ["bmc_address", (c) => c.inv?.bmc.address],
  ["bmc_mac", (c) => c.inv?.bmc.mac],
  ["bmc_firmware", (c) => c.inv?.bmc.firmware_version],
  ["cpu_model", (c) => c.inv?.cpu.model_name],
  ["cpu_sockets", (c) => c.inv?.cpu.sockets],
  ["cpu_cores", (c) => c.inv?.cpu.cores],
  ["cpu_threads", (c) => c.inv?.cpu.threads],
  ["cpu_mhz", (c) => c.inv?.cpu.frequency_mhz],
  ["memory_total_bytes", (c) => c.inv?.memory.total_bytes],
  ["memory_physical_mb", (c) => c.inv?.memory.physical_mb],
  ["dimm_count", (c) => c.inv?.memory.dimms.filter((d) => (d.size_bytes ?? 0) > 0).length],
  ["dimms", (c) => (c.inv ? memoryLayout(c.inv) : null)],
  ["memory_correctable_errors", (c) => c.inv?.memory.correctable_errors],
  ["memory_uncorrectable_errors", (c) => c.inv?.memory.uncorrectable_errors],
  ["disk_count", (c) => c.inv?.disks.length],
  ["disk_total_bytes", (c) => c.inv?.disks.reduce((sum, d) => sum + (d.size_bytes ?? 0), 0)],
  ["disks", (c) => c.inv && list(c.inv.disks.map((d) => `${d.name} ${d.kind ?? "disk"} ${d.size_bytes ?? "?"} ${d.model ?? "?"} ${d.serial ?? "?"}`))],
  ["smart_failed", (c) => c.inv && list(c.inv.disks.filter((d) => d.smart_passed === false).map((d) => d.name))],
  ["nic_count", (c) => c.inv && physicalNics(c.inv.interfaces).length],
  ["nics", (c) => c.inv && list(physicalNics(c.inv.interfaces).map((n) => `${n.name} ${n.mac_address} ${n.driver ?? "?"} ${n.speed_mbps ?? "?"}`))],
  [
    "lldp",
    (c) =>
      c.inv &&
      list(c.inv.interfaces.filter((n) => n.lldp).map((n) => `${n.name} ${n.lldp!.system_name ?? n.lldp!.chassis_id ?? "?"} ${n.lldp!.port_id ?? "?"}`)),
  ],
  ["gpus", (c) => c.inv && list(c.inv.gpus.map((g) => `${g.vendor ?? "?"} ${g.product ?? "?"}`))],
  ["class_id", (c) => c.finding?.class_id],
  ["outlier", (c) => worstSeverity(c.finding?.reasons ?? [])],
  ["outlier_reasons", (c) => list((c.finding?.reasons ?? []).map(describeReason))],
  ["collector_errors", (c) => c.inv && list(c.inv.errors.map((e) => `${e.source}: ${e.message}`))],
  ["collected_at", (c) => c.inv?.collected_at],
  ["lockdown", (c) => c.inv?.boot.lockdown],
  ["collector_blocked", (c) => c.inv && list(c.inv.errors.filter((e) => e.kind === "blocked").map((e) => `${e.source}: ${e.message}`))],
  // Health findings (what is broken), apart from the outlier columns (how a node differs from its class).
  ["findings_critical", (c) => c.inv?.findings.filter((f) => f.severity === "critical").length],
  ["findings_warning", (c) => c.inv?.findings.filter((f) => f.severity === "warning").length],
  ["findings", (c) => c.inv && list(c.inv.findings.map((f) => `${f.severity} ${f.message}${f.at ? ` at ${f.at}` : ""}`))],
  ["baseboard", (c) => c.inv?.baseboard.product_name],
];

export function renderCsvExport(input: ExportInput): string {
  const names = exportNames(input.nodes);
  const rows = input.nodes.map((node) => {
    const context: Context = { node, inv: node.inventory, finding: input.analysis.nodes[node.mac], name: names.get(node.mac)! };
    return CSV_COLUMNS.map(([, get]) => get(context));
  });
  return renderCsv(
    CSV_COLUMNS.map(([header]) => header),
    rows,
    { guardFormulas: true },
  );
}
