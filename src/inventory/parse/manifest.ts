/** manifest.json of a raw upload (docs/raw-upload.md): who collected it, when, and which collectors failed. */
import type { InventoryError } from "../schema.js";
import { clean, isRecord, normalizeMac, parseJson, type Parsed } from "./common.js";

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
    const exitCode = collector.exit_code;
    let message: string | null = null;
    if (collector.timed_out === true) message = `timed out after ${String(collector.duration_ms ?? "?")} ms`;
    else if (typeof exitCode === "number" && exitCode !== 0) message = `exit code ${exitCode}`;
    else if (exitCode === null) message = "did not run";
    if (typeof collector.error === "string" && collector.error.trim()) {
      message = message ? `${message}: ${collector.error.trim().split("\n")[0]!.slice(0, 300)}` : collector.error.trim().slice(0, 300);
    }
    if (message) collectorErrors.push({ source: `collector:${id}`, message });
  }
  return {
    value: {
      format,
      agent_version: clean(manifest.agent_version),
      collected_at: clean(manifest.collected_at),
      boot_mac: normalizeMac(manifest.boot_mac),
      hostname: clean(manifest.hostname),
      kernel: clean(manifest.kernel),
      collector_errors: collectorErrors,
    },
    errors,
  };
}
