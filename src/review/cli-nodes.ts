/**
 * `recon nodes list|show <mac>|classes|export --format F [--out DIR]` against the store on this
 * machine (read-only, the same model as the master's review) or a master over HTTP. Output
 * renderers are pure; hardware strings are stripped of control characters before they reach a
 * terminal (a DMI string could carry escape sequences). Exit codes: 0 ok, 1 failure or not
 * found, 2 usage (ReconError.exitCode, mapped by src/cli.ts).
 */
import { access, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ReconError } from "../lib/errors.js";
import { normalizeMac } from "../model/net-address.js";
import { EMPTY_FLEET, reduceFleet, type FleetState } from "../model/node-state.js";
import type { FleetAnalysis } from "./classes.js";
import { describeReason } from "./classes.js";
import { renderAnsibleExport } from "./exports/export-ansible.js";
import { renderCsvExport } from "./exports/export-csv.js";
import { isExportFormat, type ExportFormat } from "./exports/export-input.js";
import { renderJsonExport } from "./exports/export-json.js";
import { DEFAULT_NETBOX_OPTIONS, renderNetboxExport, type NetboxOptions } from "./exports/export-netbox.js";
import { bootSummary, type FleetRow } from "./fleet-view.js";
import { createReviewModel, type FleetResponse, type NodeDetail } from "./review-model.js";
import { readStoredEvents } from "./store-reader.js";

export interface NodesOptions {
  dataDir: string;
  /** Base URL of a master; when set, the store is not read. */
  master?: string | undefined;
  token?: string | undefined;
  json: boolean;
  format?: string | undefined;
  out?: string | undefined;
  site?: string | undefined;
  role?: string | undefined;
}

export interface NodesIo {
  write(text: string): void;
  /** A property, not a method: it is handed on unbound (localSource). */
  now: () => Date;
}

/** Where `recon nodes` reads from. */
export interface ReviewSource {
  fleet(): Promise<FleetResponse>;
  detail(mac: string): Promise<NodeDetail | undefined>;
  classes(): Promise<Pick<FleetAnalysis, "classes" | "nodes">>;
  exportFiles(format: ExportFormat, netbox: NetboxOptions): Promise<Map<string, string>>;
}

export const NODES_USAGE = `usage: recon nodes list [--json]
       recon nodes show <mac> [--json]
       recon nodes classes [--json]
       recon nodes export --format json|csv|netbox|ansible [--out DIR] [--site S] [--role R]
source: --data-dir DIR (this machine's store, default /var/lib/recon) or --master URL with the
        admin token in RECON_TOKEN (or --token T; the environment keeps it out of ps)`;

const EXPORT_FILE: Record<Exclude<ExportFormat, "netbox">, string> = { json: "recon-fleet.json", csv: "recon-fleet.csv", ansible: "recon-inventory.yml" };

/** Control characters (C0, DEL, C1) out: an escape sequence in a DMI string must not drive the terminal. */
export function terminalSafe(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
}

const cell = (value: unknown) => terminalSafe(value === null || value === undefined || value === "" ? "-" : String(value));

function gib(bytes: number | null): string {
  return bytes === null ? "-" : `${Math.round((bytes / 1024 ** 3) * 10) / 10}GiB`;
}

/** Fixed-width columns, each at most `max` characters wide. */
export function renderTable(header: string[], rows: string[][], max = 40): string {
  const clip = (text: string) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
  const clipped = rows.map((row) => row.map(clip));
  const widths = header.map((h, i) => Math.max(h.length, ...clipped.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...clipped.map(line)].join("\n") + "\n";
}

export function renderNodeList(fleet: FleetResponse): string {
  const rows = fleet.rows.map((row: FleetRow) => [
    row.mac,
    cell(row.name),
    cell(row.phase),
    cell(row.vendor),
    cell(row.model),
    cell(row.serial),
    cell(row.cpu ? `${row.cpu_sockets ?? "?"}x ${row.cpu}` : null),
    row.memory_bytes === null ? "-" : gib(row.memory_bytes),
    row.disk_count ? `${row.disk_count} (${Math.round(row.disk_bytes / 1e9)}GB)` : "-",
    String(row.nic_count || "-"),
    cell(row.bmc_address),
    row.outlier ? `${row.reasons.length} ${row.outlier}` : "-",
    row.health ? `${row.findings_critical + row.findings_warning} ${row.health}` : "-",
  ]);
  const { summary } = fleet;
  const phases = Object.entries(summary.by_phase)
    .filter(([, n]) => n > 0)
    .map(([phase, n]) => `${phase} ${n}`)
    .join(", ");
  return (
    renderTable(["MAC", "NAME", "STATE", "VENDOR", "MODEL", "SERIAL", "CPU", "MEMORY", "DISKS", "NICS", "BMC", "OUTLIER", "HEALTH"], rows) +
    `${summary.total} nodes (${phases || "none"}); ${summary.inventories} inventories, ${summary.classes} classes, ${summary.outliers} outliers; ` +
    `${summary.critical} with critical health findings, ${summary.warning} with warnings\n`
  );
}

export function renderNodeDetail(detail: NodeDetail): string {
  const inv = detail.inventory;
  const lines: string[] = [];
  const field = (label: string, value: unknown) => lines.push(`${label.padEnd(16)} ${cell(value)}`);
  field("mac", detail.mac);
  field("name", detail.row.name);
  field("state", detail.row.phase + (detail.row.last_error ? ` (${detail.row.last_error})` : ""));
  field("ip", detail.row.ip);
  field("class", detail.class?.id);
  if (detail.inventory_problem) field("inventory", `not usable: ${detail.inventory_problem}`);
  if (inv) {
    field("vendor", inv.system_vendor.manufacturer);
    field("model", inv.system_vendor.product_name);
    field("serial", inv.system_vendor.serial_number);
    field("uuid", inv.system_vendor.uuid);
    field("baseboard", [inv.baseboard.manufacturer, inv.baseboard.product_name, inv.baseboard.version].filter(Boolean).join(" "));
    field(
      "chassis",
      [inv.chassis.type, inv.chassis.height_u === null ? null : `${inv.chassis.height_u}U`, inv.chassis.serial_number && `serial ${inv.chassis.serial_number}`]
        .filter(Boolean)
        .join(", "),
    );
    field("bios", [inv.firmware.vendor, inv.firmware.version, inv.firmware.build_date].filter(Boolean).join(" "));
    field("boot", bootSummary(inv.boot));
    field("bmc", [inv.bmc.address, inv.bmc.mac, inv.bmc.firmware_version && `firmware ${inv.bmc.firmware_version}`].filter(Boolean).join(" "));
    field("cpu", `${inv.cpu.sockets ?? "?"}x ${inv.cpu.model_name ?? "?"} (${inv.cpu.cores ?? "?"} cores, ${inv.cpu.threads ?? "?"} threads)`);
    field("memory", `${gib(inv.memory.total_bytes)}, ${detail.row.memory || "no DIMM data"}`);
    if (inv.memory.physical_mb_complete === false) field("  installed", `at least ${inv.memory.physical_mb ?? "?"} MiB: a module's size is unknown`);
    if (inv.memory.persistent_mb !== null) field("  persistent", `${inv.memory.persistent_mb} MiB persistent memory`);
    for (const dimm of inv.memory.dimms)
      field(
        "  dimm",
        `${dimm.slot ?? "?"} ${gib(dimm.size_bytes)} ${dimm.type ?? ""} ${dimm.speed_mts ?? "?"}MT/s ${dimm.part_number ?? ""} ${dimm.serial_number ?? ""}`,
      );
    for (const controller of inv.storage_controllers) {
      const drives = controller.virtual_drives.map((vd) => `${vd.id} ${vd.raid_level ?? "?"} ${vd.state ?? "?"}`).join(", ");
      field(
        "  storage",
        [
          controller.pci_slot,
          controller.product ?? controller.model ?? "?",
          controller.driver,
          controller.tool && `${controller.tool}: ${controller.model ?? "?"} fw ${controller.firmware_version ?? "?"}`,
          drives && `VD ${drives}`,
        ]
          .filter(Boolean)
          .join(" "),
      );
    }
    for (const disk of inv.disks) {
      field(
        "  disk",
        `${disk.name} ${disk.kind ?? "?"} ${disk.size_bytes === null ? "?" : Math.round(disk.size_bytes / 1e9)}GB ${disk.model ?? ""} ${disk.serial ?? ""} SMART ${disk.smart_passed === null ? "?" : disk.smart_passed ? "ok" : "FAILED"}`,
      );
    }
    for (const nic of inv.interfaces) {
      const lldp = nic.lldp ? ` lldp ${nic.lldp.system_name ?? nic.lldp.chassis_id ?? "?"} ${nic.lldp.port_id ?? "?"}` : "";
      field("  nic", `${nic.name} ${nic.mac_address ?? "-"} ${nic.driver ?? "?"} ${nic.firmware_version ?? ""} ${nic.speed_mbps ?? "?"}Mb/s${lldp}`);
    }
    for (const gpu of inv.gpus) field("  gpu", `${gpu.vendor ?? "?"} ${gpu.product ?? "?"} ${gpu.pci_slot ?? ""}`);
    for (const psu of inv.power_supplies)
      field(
        "  psu",
        [psu.name ?? "?", psu.status ?? "status unknown", psu.model, psu.max_power_w === null ? null : `${psu.max_power_w}W`, `(${psu.source})`]
          .filter(Boolean)
          .join(" "),
      );
    for (const error of inv.errors) field(error.kind === "blocked" ? "  blocked" : "  error", `${error.source}: ${error.message}`);
  }
  // Health (what is broken) first, then how the node differs from its class: two different things.
  for (const finding of inv?.findings ?? []) {
    field(`health ${finding.severity}`, `${finding.message}${finding.at ? ` at ${finding.at}` : ""}`);
    field("  evidence", `${finding.source}: ${finding.evidence}`);
  }
  for (const reason of detail.reasons) field(`outlier ${reason.severity}`, reason.message);
  for (const upload of detail.uploads) field("upload", `${upload.id} ${upload.files.length} files`);
  return `${lines.join("\n")}\n`;
}

export function renderClassList(result: Pick<FleetAnalysis, "classes" | "nodes">): string {
  const lines: string[] = [];
  for (const c of result.classes) {
    const s = c.signature;
    lines.push(
      `${c.id}  ${cell(s.manufacturer)} ${cell(s.product_name)}  ${s.cpu_sockets ?? "?"}x ${cell(s.cpu_model)}  ${c.members.length} nodes, ${c.outliers.length} outliers` +
        `, ${c.findings.critical.length} critical`,
    );
    if (s.spellings.length > 1) lines.push(`    names  ${s.spellings.map(cell).join(" | ")}`);
    lines.push(`    memory ${cell(s.memory)}`, `    disks  ${cell(s.disks)}`, `    nics   ${cell(s.nics)}`);
    for (const mac of c.outliers) {
      for (const reason of result.nodes[mac]?.reasons ?? []) lines.push(`    ${mac}  ${reason.severity}: ${terminalSafe(describeReason(reason))}`);
    }
    for (const mac of c.findings.critical) lines.push(`    ${mac}  critical health finding (recon nodes show ${mac})`);
  }
  return `${lines.join("\n")}\n`;
}

export async function localSource(dataDir: string, now: () => Date): Promise<ReviewSource> {
  await access(join(dataDir, "nodes")).catch(async () => {
    await access(join(dataDir, "state")).catch(() => {
      throw new ReconError("NOT_FOUND", `${dataDir} holds no recon store (no nodes/ or state/)`, {
        hint: "pass the master's data directory with --data-dir, or a master with --master URL",
      });
    });
  });
  const fleet: FleetState = (await readStoredEvents(dataDir)).reduce(reduceFleet, EMPTY_FLEET);
  const model = createReviewModel({ dataDir, fleet: () => fleet });
  await model.rescan();
  return {
    fleet: () => model.fleet(),
    detail: (mac) => model.detail(mac),
    classes: async () => model.analysis(),
    async exportFiles(format, netbox) {
      const input = await model.exportInput(now().toISOString());
      return renderExport(format, input, netbox);
    },
  };
}

function renderExport(format: ExportFormat, input: Parameters<typeof renderJsonExport>[0], netbox: NetboxOptions): Map<string, string> {
  switch (format) {
    case "json":
      return new Map([[EXPORT_FILE.json, renderJsonExport(input)]]);
    case "csv":
      return new Map([[EXPORT_FILE.csv, renderCsvExport(input)]]);
    case "ansible":
      return new Map([[EXPORT_FILE.ansible, renderAnsibleExport(input)]]);
    case "netbox":
      return new Map([...renderNetboxExport(input, netbox)].map(([name, body]) => [join("netbox", name), body]));
  }
}

export function remoteSource(baseUrl: string, token: string | undefined): ReviewSource {
  let base: URL;
  try {
    base = new URL(baseUrl);
  } catch {
    throw new ReconError("USAGE", `--master '${baseUrl}' is not a URL`, { hint: "e.g. --master http://172.30.213.1", exitCode: 2 });
  }
  const get = async (path: string): Promise<Response | undefined> => {
    let response: Response;
    try {
      response = await fetch(new URL(path, base), { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(60_000) });
    } catch (error) {
      throw new ReconError("NETWORK_UNAVAILABLE", `cannot reach the master at ${base.origin}: ${(error as Error).message}`, {
        hint: "check the URL and that this machine can reach the master's HTTP port",
        cause: error,
      });
    }
    if (response.status === 404) return undefined;
    if (response.status === 401)
      throw new ReconError("UNAUTHORIZED", `the master refused the request: ${token ? "the token is not valid" : "it needs the admin token"}`, {
        hint: "set RECON_TOKEN to the admin token the master printed on its console (or <data dir>/admin-token)",
      });
    if (!response.ok)
      throw new ReconError("COMMAND_FAILED", `the master answered ${response.status} for ${path}`, { hint: (await response.text()).slice(0, 300) });
    return response;
  };
  const json = async <T>(path: string): Promise<T | undefined> => {
    const response = await get(path);
    return response === undefined ? undefined : ((await response.json()) as T);
  };
  const required = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new ReconError("NOT_FOUND", `the master has no ${what} (is it a recon master with the review?)`);
    return value;
  };
  return {
    fleet: async () => required(await json<FleetResponse>("/api/v1/fleet"), "fleet API"),
    detail: (mac) => json<NodeDetail>(`/api/v1/nodes/${mac.replace(/:/g, "-")}/inventory`),
    classes: async () => required(await json<Pick<FleetAnalysis, "classes" | "nodes">>("/api/v1/classes"), "classes API"),
    async exportFiles(format, netbox) {
      const query = new URLSearchParams({ site: netbox.site, role: netbox.role, status: netbox.status }).toString();
      if (format !== "netbox") return new Map([[EXPORT_FILE[format], await required(await get(`/export/${format}`), "export").text()]]);
      const index = required(await json<{ files: Array<{ name: string }> }>(`/export/netbox?${query}`), "NetBox export");
      const files = new Map<string, string>();
      for (const file of index.files)
        files.set(join("netbox", file.name), await required(await get(`/export/netbox/${encodeURIComponent(file.name)}?${query}`), file.name).text());
      return files;
    },
  };
}

export async function runNodes(args: string[], options: NodesOptions, io: NodesIo, source?: ReviewSource): Promise<number> {
  const [action, ...rest] = args;
  const usage = (message: string) => new ReconError("USAGE", message, { hint: NODES_USAGE, exitCode: 2 });
  if (action === undefined) throw usage("nodes needs an action");
  if (!["list", "show", "classes", "export"].includes(action)) throw usage(`unknown nodes action '${action}'`);
  const from = source ?? (options.master !== undefined ? remoteSource(options.master, options.token) : await localSource(options.dataDir, io.now));
  const print = (value: unknown) => io.write(`${JSON.stringify(value, null, 2)}\n`);
  switch (action) {
    case "list": {
      const fleet = await from.fleet();
      if (options.json) print({ summary: fleet.summary, nodes: fleet.rows });
      else io.write(renderNodeList(fleet));
      return 0;
    }
    case "show": {
      const mac = rest[0] === undefined ? undefined : normalizeMac(rest[0]);
      if (mac === undefined) throw usage(rest[0] === undefined ? "nodes show needs a MAC" : `'${rest[0]}' is not a MAC address`);
      const detail = await from.detail(mac);
      if (detail === undefined) throw new ReconError("NOT_FOUND", `no node ${mac} is known`, { hint: "recon nodes list shows the known nodes" });
      if (options.json) print(detail);
      else io.write(renderNodeDetail(detail));
      return 0;
    }
    case "classes": {
      const result = await from.classes();
      if (options.json) print(result);
      else io.write(renderClassList(result));
      return 0;
    }
    default: {
      const format = options.format;
      if (format === undefined || !isExportFormat(format))
        throw usage(`export needs --format json, csv, netbox or ansible${format ? `, not '${format}'` : ""}`);
      if (format === "netbox" && options.out === undefined) throw usage("the NetBox export is several files: give --out DIR");
      const netbox: NetboxOptions = { ...DEFAULT_NETBOX_OPTIONS, ...(options.site && { site: options.site }), ...(options.role && { role: options.role }) };
      const files = await from.exportFiles(format, netbox);
      if (options.out === undefined) {
        for (const body of files.values()) io.write(body);
        return 0;
      }
      for (const [name, body] of files) {
        const path = join(options.out, name);
        await mkdir(join(path, ".."), { recursive: true });
        await writeFile(path, body);
        io.write(`${path}\n`);
      }
      return 0;
    }
  }
}
