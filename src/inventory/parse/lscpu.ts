/**
 * `lscpu -J` → CPU facts. util-linux ≥2.38 nests fields under "children"; older versions give a
 * flat list. Field names end with ":" in both. Plain `lscpu` (what most probe collections and
 * admins keep: `Field:   value` lines) gives the same fields; told apart by content, not by name.
 */
import type { Cpu } from "../schema.js";
import { clean, isRecord, parseJson, toInt, toNumber, type Parsed } from "./common.js";

const SOURCE = "raw/lscpu.json";

/** Plain `lscpu`: one `Name:  value` per line; the first of a repeated name wins, like the JSON path. */
function plainFields(text: string): Map<string, string> {
  const into = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^([^:]+):\s*(.*?)\s*$/.exec(line);
    if (match === null) continue;
    const field = match[1]!.trim();
    if (field !== "" && !into.has(field)) into.set(field, match[2]!);
  }
  return into;
}

/** All {field, data} entries, depth first, keyed by the field name without its colon. */
function flattenFields(entries: unknown, into = new Map<string, string>()): Map<string, string> {
  if (!Array.isArray(entries)) return into;
  for (const entry of entries) {
    if (!isRecord(entry)) continue;
    const field = typeof entry.field === "string" ? entry.field.replace(/:\s*$/, "").trim() : null;
    if (field && typeof entry.data === "string" && !into.has(field)) into.set(field, entry.data);
    flattenFields(entry.children, into);
  }
  return into;
}

export interface LscpuInfo extends Cpu {
  /** "CPU MHz" (current clock); frequency_mhz holds only "CPU max MHz". */
  current_mhz: number | null;
}

export function parseLscpu(text: string, source = SOURCE): Parsed<LscpuInfo> {
  let fields: Map<string, string>;
  const errors: Parsed<LscpuInfo>["errors"] = [];
  if (text.trim() === "" || /^\s*[{[]/.test(text)) {
    const json = parseJson(text, source);
    fields = flattenFields(isRecord(json.value) ? json.value.lscpu : undefined);
    errors.push(...json.errors);
    if (json.value !== undefined && fields.size === 0) errors.push({ source, message: "no lscpu fields in the JSON" });
  } else {
    fields = plainFields(text);
    if (!fields.has("Architecture") && !fields.has("CPU(s)")) {
      errors.push({ source, message: "neither lscpu JSON nor plain lscpu output (no Architecture or CPU(s) line)" });
      fields = new Map();
    }
  }
  const sockets = toInt(fields.get("Socket(s)"));
  const coresPerSocket = toInt(fields.get("Core(s) per socket")) ?? toInt(fields.get("Core(s) per cluster"));
  const threads = toInt(fields.get("CPU(s)"));
  const threadsPerCore = toInt(fields.get("Thread(s) per core"));
  const cores = sockets !== null && coresPerSocket !== null ? sockets * coresPerSocket : threads !== null && threadsPerCore ? threads / threadsPerCore : null;
  return {
    value: {
      model_name: clean(fields.get("Model name")),
      architecture: clean(fields.get("Architecture")),
      sockets,
      cores: cores !== null && Number.isInteger(cores) ? cores : null,
      threads,
      frequency_mhz: toNumber(fields.get("CPU max MHz")),
      current_mhz: toNumber(fields.get("CPU MHz")),
      flags: (fields.get("Flags") ?? "").split(/\s+/).filter(Boolean),
    },
    errors,
  };
}
