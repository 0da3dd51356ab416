/**
 * Burn-in results (docs/inventory.md, "Burn-in"): the manifest's `burn_in` records (exit status,
 * time-out, duration: src/agent/burn-in.ts ran them) and each test's raw output in, one result per
 * test out. passed: the tool finished and found nothing; failed: the tool found a fault (stress-ng
 * exit 2, a memtester FAILURE, a fio read error such as EIO); error: the test could not say
 * (not installed, killed at its bound, no memory to lock, bad arguments).
 */
import { parse as parseYaml } from "yaml";
import type { BurnInResult, Problem } from "../schema.js";
import { isRecord, parseJson, toNumber, type Parsed } from "./common.js";

/** One burn-in record of manifest.json, as the agent wrote it (a collector record). */
interface BurnInRecord {
  id: string;
  files: string[];
  exitCode: number | null;
  durationS: number | null;
  timedOut: boolean;
  error: string | null;
}

const MAX_DETAIL = 300;

function cut(text: string): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  return oneLine.length <= MAX_DETAIL ? oneLine : `${oneLine.slice(0, MAX_DETAIL - 1)}…`;
}

function records(manifestText: string | undefined): BurnInRecord[] {
  if (manifestText === undefined) return [];
  const json = parseJson(manifestText, "manifest.json").value;
  const list = isRecord(json) && Array.isArray(json.burn_in) ? json.burn_in : [];
  return list.filter(isRecord).map((record) => ({
    id: typeof record.id === "string" ? record.id : "burn-in",
    files: Array.isArray(record.files) ? record.files.filter((file): file is string => typeof file === "string") : [],
    exitCode: typeof record.exit_code === "number" ? record.exit_code : null,
    durationS: typeof record.duration_ms === "number" ? Math.round(record.duration_ms / 100) / 10 : null,
    timedOut: record.timed_out === true,
    error: typeof record.error === "string" ? record.error : null,
  }));
}

/** Why a test that did not finish says nothing, or null when it finished (exit status known). */
function unfinished(record: BurnInRecord): string | null {
  if (record.timedOut) return `killed at its time limit after ${record.durationS ?? "?"} s${record.error ? `: ${record.error}` : ""}`;
  if (record.exitCode === null) return record.error ?? "did not run (no exit status)";
  return null;
}

/** stress-ng's --yaml metrics: "cpu: 9529 bogo ops in 3.0 s (3174 ops/s)". */
function stressNgSummary(text: string | undefined): string {
  if (text === undefined) return "no metrics file";
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    return "metrics file is not YAML";
  }
  const metrics = isRecord(doc) && Array.isArray(doc.metrics) ? doc.metrics.filter(isRecord) : [];
  if (metrics.length === 0) return "no metrics in the YAML";
  return metrics
    .map((metric) => {
      const ops = toNumber(metric["bogo-ops"]);
      const wall = toNumber(metric["wall-clock-time"]);
      const rate = toNumber(metric["bogo-ops-per-second-real-time"]);
      return `${String(metric.stressor)}: ${ops ?? "?"} bogo ops in ${wall === null ? "?" : wall.toFixed(1)} s (${rate === null ? "?" : Math.round(rate)} ops/s)`;
    })
    .join("; ");
}

// stress-ng(1), EXIT STATUS.
const STRESS_NG_EXIT: Record<number, string> = {
  1: "error: bad options or a fatal resource issue",
  2: "one or more stressors failed",
  3: "stressors could not start: not enough resources",
  4: "stressors not implemented here",
  5: "a stressor was killed by an unexpected signal",
  6: "a stressor exited unexpectedly",
  7: "bogo-ops metrics untrustworthy (a stressor was OOM-killed?)",
};

function stressNg(record: BurnInRecord, test: string, text: string | undefined): BurnInResult {
  const base = { test, target: null, duration_s: record.durationS };
  const why = unfinished(record);
  if (why !== null) return { ...base, result: "error", detail: cut(why) };
  const summary = stressNgSummary(text);
  if (record.exitCode === 0) return { ...base, result: "passed", detail: cut(summary) };
  const meaning = STRESS_NG_EXIT[record.exitCode!] ?? "unknown exit status";
  // 2 (a stressor failed, --verify found a wrong result) is the machine's fault; the rest say nothing of it.
  return {
    ...base,
    result: record.exitCode === 2 ? "failed" : "error",
    detail: cut(`exit ${record.exitCode}: ${meaning}; ${summary}${record.error ? `; ${record.error}` : ""}`),
  };
}

/** memtester draws progress with backspaces; what is left is "  Test name : ok" or a FAILURE line. */
function memtesterLines(text: string): string[] {
  return text
    .split("\n")
    .map((line) => {
      let out = "";
      for (const char of line) out = char === "\b" ? out.slice(0, -1) : out + char;
      return out.replace(/\s+/g, " ").trim();
    })
    .filter(Boolean);
}

function memtester(record: BurnInRecord, text: string | undefined): BurnInResult {
  const base = { test: "memtester", target: null, duration_s: record.durationS };
  const lines = text === undefined ? [] : memtesterLines(text);
  const failures = lines.filter((line) => /FAILURE/i.test(line));
  // "got  16MB (16777216 bytes), trying mlock ...locked.": what memtester locked and tested.
  const got = lines.map((line) => /^got\s+(\S+)/.exec(line)?.[1]).find(Boolean);
  const ok = lines.filter((line) => / : ok$/.test(line) || /: ok$/.test(line)).length;
  // A FAILURE line is a fault whether or not memtester got to finish.
  if (failures.length > 0) return { ...base, result: "failed", detail: cut(`${failures.length} failure(s): ${failures.slice(0, 3).join("; ")}`) };
  const why = unfinished(record);
  if (why !== null) return { ...base, result: "error", detail: cut(`${why}; ${ok} test(s) ok before the stop`) };
  // memtester's exit status is a bit mask: 0x01 could not allocate or lock, 0x02 stuck address, 0x04 another test failed.
  if (record.exitCode === 0) return { ...base, result: "passed", detail: cut(`${got ?? "?"} locked, ${ok} tests ok`) };
  if ((record.exitCode! & 0x06) !== 0)
    return { ...base, result: "failed", detail: cut(`exit ${record.exitCode}: a test failed; ${lines.slice(-2).join("; ")}`) };
  return { ...base, result: "error", detail: cut(`exit ${record.exitCode}: ${record.error ?? lines.slice(-2).join("; ")}`) };
}

// errno values that mean the medium could not be read (asm-generic/errno*.h): EIO, ENODATA, EBADMSG, EILSEQ, EREMOTEIO.
const MEDIUM_ERRORS = new Set([5, 61, 74, 84, 121]);

function fio(record: BurnInRecord, disk: string, text: string | undefined, problems: Problem[]): BurnInResult {
  const base = { test: "fio-read", target: disk, duration_s: record.durationS };
  const source = record.files[0] ?? `raw/burn-in/fio-read.${disk}.json`;
  // fio prints notes before its JSON when it meets an error ("fio: io_u error on file …"): read from the first "{".
  const start = text?.indexOf("{") ?? -1;
  const json = text === undefined || start < 0 ? undefined : parseJson(text.slice(start), source);
  if (json !== undefined) problems.push(...json.errors);
  const job = isRecord(json?.value) && Array.isArray(json.value.jobs) && isRecord(json.value.jobs[0]) ? json.value.jobs[0] : undefined;
  const errno = toNumber(job?.error);
  const read = isRecord(job?.read) ? job.read : undefined;
  const bytes = toNumber(read?.io_bytes);
  const bw = toNumber(read?.bw_bytes);
  const summary = `read ${bytes === null ? "?" : Math.round(bytes / 1024 ** 2)} MiB at ${bw === null ? "?" : Math.round(bw / 1024 ** 2)} MiB/s`;
  const notes = text === undefined || start <= 0 ? "" : text.slice(0, start);
  if (errno !== null && errno !== 0) {
    return {
      ...base,
      result: MEDIUM_ERRORS.has(errno) ? "failed" : "error",
      detail: cut(`error ${errno} after ${summary}${notes ? `: ${notes}` : ""}${record.error ? `; ${record.error}` : ""}`),
    };
  }
  const why = unfinished(record);
  if (why !== null) return { ...base, result: "error", detail: cut(why) };
  if (record.exitCode !== 0 || job === undefined)
    return { ...base, result: "error", detail: cut(`exit ${record.exitCode}: ${record.error ?? "no fio job in the output"}`) };
  return { ...base, result: "passed", detail: cut(summary) };
}

/** A result and the raw file it was read from (a finding's source). */
export interface BurnInEntry {
  result: BurnInResult;
  source: string;
}

/** The results in the order the agent ran them; problems for outputs that could not be read. */
export function parseBurnIn(texts: Map<string, string>): Parsed<BurnInEntry[]> {
  const problems: Problem[] = [];
  const entries = records(texts.get("manifest.json")).map((record) => ({
    result: resultOf(record, texts, problems),
    source: record.files[0] ?? "manifest.json",
  }));
  return { value: entries, errors: problems };
}

function resultOf(record: BurnInRecord, texts: Map<string, string>, problems: Problem[]): BurnInResult {
  const text = record.files[0] === undefined ? undefined : texts.get(record.files[0]);
  if (record.id === "stress-ng-cpu") return stressNg(record, "stress-ng-cpu", text);
  if (record.id === "stress-ng-vm") return stressNg(record, "stress-ng-vm", text);
  if (record.id === "memtester") return memtester(record, text);
  if (record.id.startsWith("fio-read.")) return fio(record, record.id.slice("fio-read.".length).replace(/!/g, "/"), text, problems);
  return { test: record.id, target: null, result: "error", duration_s: record.durationS, detail: "a test this recon does not know" };
}
