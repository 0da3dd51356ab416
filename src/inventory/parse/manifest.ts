/** manifest.json of a raw upload (docs/raw-upload.md): who collected it, when, and which collectors failed. */
import type { InventoryError } from "../schema.js";
import { clean, isRecord, macOrNull, parseJson, type Parsed } from "./common.js";

export interface ManifestInfo {
  format: string | null;
  agent_version: string | null;
  collected_at: string | null;
  boot_mac: string | null;
  hostname: string | null;
  kernel: string | null;
  /** One entry per collector that failed, timed out or reported an error. */
  collector_errors: InventoryError[];
}

export function parseManifest(text: string): Parsed<ManifestInfo> {
  const source = "manifest.json";
  const json = parseJson(text, source);
  const manifest = isRecord(json.value) ? json.value : {};
  const errors = [...json.errors];
  if (json.value !== undefined && !isRecord(json.value)) errors.push({ source, message: "expected a JSON object" });
  const format = clean(manifest.format);
  if (isRecord(json.value) && format === null) errors.push({ source, message: "no 'format' (expected recon-raw/1)" });
  if (format !== null && !format.startsWith("recon-raw/")) errors.push({ source, message: `unknown format '${format}'` });
  const collectorErrors: InventoryError[] = [];
  for (const collector of Array.isArray(manifest.collectors) ? manifest.collectors : []) {
    if (!isRecord(collector)) continue;
    const id = clean(collector.id) ?? "collector";
    const message = collectorProblem(collector);
    if (!message) continue;
    const blocked = blockedNote(collector, message);
    collectorErrors.push(
      blocked === null ? { source: `collector:${id}`, message, kind: "error" } : { source: `collector:${id}`, message: blocked, kind: "blocked" },
    );
  }
  return {
    value: {
      format,
      agent_version: clean(manifest.agent_version),
      collected_at: clean(manifest.collected_at),
      boot_mac: macOrNull(manifest.boot_mac),
      hostname: clean(manifest.hostname),
      kernel: clean(manifest.kernel),
      collector_errors: collectorErrors,
    },
    errors,
  };
}

/**
 * A collector the agent marked `status: "blocked"` (src/agent/lockdown.ts: kernel lockdown refused
 * it): "blocked by <reason>: <evidence>", else null. What it would have given stays null.
 */
function blockedNote(collector: Record<string, unknown>, problem: string): string | null {
  if (collector.status !== "blocked") return null;
  const reason = clean(collector.reason) ?? "the kernel";
  const evidence = clean(collector.evidence) ?? problem;
  return `blocked by ${reason}: ${evidence.slice(0, 300)}`;
}

/**
 * What went wrong with one collector, or null. The agent writes `error` as "exit N: <stderr>",
 * "timed out after N ms …" or "<tool>: spawn <tool> ENOENT"; builtin readers (efi, meminfo,
 * edac) have `argv: []` and `exit_code: null` and are not failures.
 */
function collectorProblem(collector: Record<string, unknown>): string | null {
  const exitCode = typeof collector.exit_code === "number" ? collector.exit_code : null;
  const argv = Array.isArray(collector.argv) ? collector.argv : [];
  const error =
    typeof collector.error === "string"
      ? collector.error
          .split("\n")
          .map((line) => line.trim())
          .find(Boolean)
          ?.slice(0, 300)
      : undefined;
  if (error !== undefined) {
    // capture.mjs-era manifests hold bare stderr; say the exit status too.
    return exitCode !== null && exitCode !== 0 && !/^exit \d+/.test(error) ? `exit code ${exitCode}: ${error}` : error;
  }
  if (collector.timed_out === true) return `timed out after ${String(collector.duration_ms ?? "?")} ms`;
  if (exitCode !== null && exitCode !== 0) return `exit code ${exitCode}`;
  if (collector.exit_code === null && argv.length > 0) return "no exit status (not started or killed by a signal)";
  return null;
}

/** When the agent's collection ran, for the node's timeline (model/node-timeline.ts, "collected"). */
export interface CollectionWindow {
  /** The manifest's collected_at: when the agent started collecting (its clock). */
  startedAt: string | null;
  /** When the last collector (and burn-in test) had finished (its clock). */
  finishedAt: string | null;
  /** finishedAt − startedAt: the collection's length, right even when the agent's clock is off. */
  seconds: number | null;
}

/**
 * The collection's window from an upload's manifest.json and that entry's tar mtime: the agent
 * writes manifest.json right after its last collector (and burn-in) finished and packs it at once
 * (agent/collect.ts packUpload), so the mtime is the collection's end. Tar stores whole seconds,
 * hence a collection shorter than the rounding counts as 0 s.
 */
export function collectionWindow(text: string, manifestMtime: Date | undefined): CollectionWindow {
  const started = parseManifest(text).value.collected_at;
  const startedMs = started === null ? Number.NaN : Date.parse(started);
  const startedAt = Number.isFinite(startedMs) ? new Date(startedMs).toISOString() : null;
  const finishedAt = manifestMtime !== undefined && Number.isFinite(manifestMtime.getTime()) ? manifestMtime.toISOString() : null;
  const seconds = startedAt !== null && finishedAt !== null ? Math.max(0, Math.round((Date.parse(finishedAt) - startedMs) / 1000)) : null;
  return { startedAt, finishedAt, seconds };
}
