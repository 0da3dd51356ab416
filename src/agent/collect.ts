/**
 * Applies a collection plan: every collector in parallel (bounded), each with its own time
 * limit; a missing, failing or hanging tool is recorded in the manifest and never stops the
 * rest — whatever was gathered is always packed. Then manifest.json + collector.log + raw/* go
 * into a tar.gz (the `tar` package), exactly per docs/raw-upload.md.
 *
 * Tools run through execa with an argv (never a shell), stdout straight into their raw file.
 * They run in their own process group: at the time limit the whole group is killed, because a
 * helper the tool started would otherwise hold its stderr pipe open and the wait would never end.
 */
import { execa } from "execa";
import { createWriteStream } from "node:fs";
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { create } from "tar";
import type { CollectorSpec } from "./collectors.js";
import { activeLockdownMode, blockedByLockdown, lockdownRefusals } from "./lockdown.js";
import { describeListen, interfacesLackingNeighbour, linkedInterfaces, LLDP_POLL_MS, lldpWaitDone, type LldpListen } from "./lldp-wait.js";
import { BUILTIN_READERS, readKernelLog } from "./sysfs.js";

export interface CollectorRecord {
  id: string;
  files: string[];
  argv: string[];
  exit_code: number | null;
  duration_ms: number;
  timed_out: boolean;
  error?: string;
  /** Set when the kernel refused the collector (lockdown.ts): blocked is not absent. */
  status?: "blocked";
  /** What blocked it, e.g. "kernel lockdown (integrity)". */
  reason?: string;
  /** The kernel's log line (or the tool's words) that shows the refusal. */
  evidence?: string;
  /** The LLDP collector only: how long lldpd listened and why it stopped (lldp-wait.ts). */
  listen?: LldpListen;
}

export interface Manifest {
  format: "recon-raw/1";
  agent_version: string;
  collected_at: string;
  boot_mac: string | null;
  hostname: string;
  kernel: string;
  collectors: CollectorRecord[];
  /** The burn-in tests, run one at a time after the collectors; absent when burn-in was off (docs/raw-upload.md). */
  burn_in?: CollectorRecord[];
}

export interface CollectOptions {
  /** Where raw/ is written; must exist and be empty. */
  stagingDir: string;
  /** Collectors running at once (the LLDP listener does not count). */
  concurrency?: number;
  /** "/" on a machine; tests point the builtin readers elsewhere. */
  sysRoot?: string;
  /** Extra environment for the tools (tests put a directory of fake tools first on PATH). */
  env?: Record<string, string>;
  /** Grace between SIGTERM and SIGKILL for a collector past its time limit. */
  killGraceMs?: number;
  signal?: AbortSignal;
  /** One human line per finished collector (also kept for collector.log). */
  onRecord?: (record: CollectorRecord) => void;
  /** Ports the LLDP listen waits for besides the linked ones: those whose firmware agent was stopped (fw-lldp.ts), maybe still resetting. */
  lldpAlsoWaitFor?: readonly string[];
  /** Count virtual Ethernet interfaces (veth) as linked: tests in a network namespace. */
  lldpVirtualInterfaces?: boolean;
  /** How often lldpctl is asked during the listen (LLDP_POLL_MS). */
  lldpPollMs?: number;
}

const MAX_ERROR_CHARS = 2000;

function tail(text: string): string {
  const trimmed = text.trim();
  return trimmed.length <= MAX_ERROR_CHARS ? trimmed : `…${trimmed.slice(-MAX_ERROR_CHARS)}`;
}

interface ToolOutcome {
  exitCode: number | null;
  timedOut: boolean;
  /** The tool could not be started (not installed, not executable). */
  notStarted: boolean;
  stderr: string;
  message: string;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}

/** Starts argv in its own process group (so it can be killed with its helpers), no shell. */
function spawnInGroup(argv: string[], stdoutPath: string | null, options: CollectOptions) {
  const [command, ...args] = argv;
  return execa(command!, args, {
    cwd: options.stagingDir,
    env: options.env,
    extendEnv: true,
    reject: false,
    detached: true,
    stdin: "ignore",
    stdout: stdoutPath === null ? "ignore" : { file: stdoutPath },
    stderr: "pipe",
    maxBuffer: 1024 * 1024,
    encoding: "utf8",
  });
}

/** Runs one argv with stdout into `stdoutPath` (or discarded), killed as a group at `timeoutMs`. */
async function runTool(argv: string[], stdoutPath: string | null, timeoutMs: number, options: CollectOptions): Promise<ToolOutcome> {
  const command = argv[0]!;
  const child = spawnInGroup(argv, stdoutPath, options);
  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const stop = () => {
    killGroup(child.pid, "SIGTERM");
    killTimer = setTimeout(() => killGroup(child.pid, "SIGKILL"), options.killGraceMs ?? 2000);
  };
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, timeoutMs);
  options.signal?.addEventListener("abort", stop, { once: true });
  const result = await child;
  clearTimeout(timer);
  clearTimeout(killTimer);
  options.signal?.removeEventListener("abort", stop);
  const notStarted = result.exitCode === undefined && result.signal === undefined && !timedOut;
  if (notStarted && stdoutPath !== null) await rm(stdoutPath, { force: true });
  return {
    exitCode: result.exitCode ?? null,
    timedOut,
    notStarted,
    stderr: String(result.stderr ?? ""),
    message: notStarted ? `${command}: ${result.originalMessage || result.shortMessage}` : (result.shortMessage ?? ""),
  };
}

function describeFailure(outcome: ToolOutcome, timeoutMs: number): string | undefined {
  if (outcome.timedOut) return tail(`timed out after ${timeoutMs} ms and was killed${outcome.stderr ? `; stderr: ${outcome.stderr}` : ""}`);
  if (outcome.notStarted) return tail(outcome.message);
  if (outcome.exitCode === 0) return undefined;
  const how = outcome.exitCode === null ? outcome.message : `exit ${outcome.exitCode}`;
  return tail(`${how}${outcome.stderr ? `: ${outcome.stderr}` : ""}`);
}

async function existing(stagingDir: string, files: string[]): Promise<string[]> {
  const present: string[] = [];
  for (const file of files) {
    if (
      await stat(join(stagingDir, file)).then(
        (s) => s.isFile(),
        () => false,
      )
    )
      present.push(file);
  }
  return present;
}

async function runCollector(spec: CollectorSpec, options: CollectOptions): Promise<CollectorRecord> {
  const started = performance.now();
  const at = (file: string) => join(options.stagingDir, file);
  const finish = async (argv: string[], outcome: ToolOutcome | undefined, files: string[], error?: string): Promise<CollectorRecord> => {
    const record: CollectorRecord = {
      id: spec.id,
      files: await existing(options.stagingDir, files),
      argv,
      exit_code: outcome?.exitCode ?? null,
      duration_ms: Math.round(performance.now() - started),
      timed_out: outcome?.timedOut ?? false,
    };
    const message = error ?? (outcome === undefined ? undefined : describeFailure(outcome, spec.timeoutMs));
    if (message !== undefined) record.error = message;
    return record;
  };

  switch (spec.kind) {
    case "command": {
      const outcome = await runTool(spec.argv, spec.stdout === null ? null : at(spec.stdout), spec.timeoutMs, options);
      return finish(spec.argv, outcome, spec.files);
    }
    case "first-answer": {
      const deadline = Date.now() + spec.timeoutMs;
      const errors: string[] = [];
      let last: { argv: string[]; outcome: ToolOutcome } | undefined;
      for (const candidate of spec.candidates) {
        const remaining = deadline - Date.now();
        if (remaining <= 0) break;
        const outcome = await runTool(candidate.argv, at(candidate.stdout), remaining, options);
        if (outcome.exitCode === 0) return finish(candidate.argv, outcome, [candidate.stdout]);
        await rm(at(candidate.stdout), { force: true });
        last = { argv: candidate.argv, outcome };
        errors.push(`${candidate.argv.join(" ")}: ${describeFailure(outcome, remaining) ?? "no answer"}`);
        if (outcome.notStarted || outcome.timedOut || options.signal?.aborted) break;
      }
      return finish(last?.argv ?? [], last?.outcome, [], tail(`no candidate answered: ${errors.join("; ")}`));
    }
    case "lldp":
      return runLldp(spec, options, started);
    case "builtin": {
      const root = options.sysRoot ?? "/";
      const read = BUILTIN_READERS[spec.reader];
      try {
        await writeFile(at(spec.stdout), await read(root));
        return finish([], undefined, spec.files);
      } catch (error) {
        return finish([], undefined, spec.files, tail(`${spec.reader}: ${error instanceof Error ? error.message : String(error)}`));
      }
    }
  }
}

/** The interfaces the listen waits for now: linked Ethernet ones, and the ports whose firmware agent was stopped. */
async function lldpWaitList(options: CollectOptions): Promise<string[]> {
  const linked = await linkedInterfaces(options.sysRoot ?? "/", options.lldpVirtualInterfaces ?? false);
  return [...new Set([...linked, ...(options.lldpAlsoWaitFor ?? [])])].sort();
}

/**
 * Listens until every interface waited for has a neighbour, the daemon dies, the agent stops, or
 * `waitMs` runs out, asking lldpctl every `lldpPollMs` (each ask bounded by the time left).
 */
async function listenForNeighbours(
  spec: Extract<CollectorSpec, { kind: "lldp" }>,
  options: CollectOptions,
  daemonDone: () => boolean,
): Promise<LldpListen["ended"]> {
  const pollMs = options.lldpPollMs ?? LLDP_POLL_MS;
  const pollFile = join(options.stagingDir, "lldp-poll.json");
  const deadline = Date.now() + spec.waitMs;
  let nextPoll = Date.now() + pollMs;
  try {
    while (!daemonDone()) {
      if (options.signal?.aborted) return "aborted";
      const left = deadline - Date.now();
      if (left <= 0) return "bound";
      await sleep(Math.min(250, left, Math.max(1, nextPoll - Date.now())), options.signal);
      const pollLeft = deadline - Date.now();
      if (daemonDone() || options.signal?.aborted || Date.now() < nextPoll || pollLeft < 100) continue;
      const answer = await runTool(spec.argv, pollFile, Math.min(2000, pollLeft), options);
      // lldpctl missing or hanging: asking again will not help; listen to the bound.
      nextPoll = answer.notStarted || answer.timedOut ? Number.POSITIVE_INFINITY : Date.now() + pollMs;
      if (answer.exitCode !== 0) continue;
      const text = await readFile(pollFile, "utf8").catch(() => "");
      if (lldpWaitDone(await lldpWaitList(options), text)) return "all-neighbours";
    }
    return "bound";
  } finally {
    await rm(pollFile, { force: true });
  }
}

/**
 * lldpd in the foreground until every linked interface has a neighbour or the wait runs out, then
 * lldpctl; the daemon is stopped either way.
 */
async function runLldp(spec: Extract<CollectorSpec, { kind: "lldp" }>, options: CollectOptions, started: number): Promise<CollectorRecord> {
  const command = spec.daemonArgv[0]!;
  await mkdir(dirname(spec.controlSocket), { recursive: true });
  const daemon = spawnInGroup(spec.daemonArgv, null, options);
  let daemonDone = false;
  const daemonResult = daemon.then((result) => {
    daemonDone = true;
    return result;
  });
  const base = { id: spec.id, argv: spec.argv, timed_out: false };
  const duration = () => Math.round(performance.now() - started);
  try {
    // Listen, but stop early when the daemon dies (not installed, or refused to start).
    const ended = await listenForNeighbours(spec, options, () => daemonDone);
    const listenedMs = duration();
    if (daemonDone) {
      const result = await daemonResult;
      const notStarted = result.exitCode === undefined && result.signal === undefined;
      const why = notStarted
        ? `${command}: ${result.originalMessage || result.shortMessage}`
        : `${command} exited early (${result.shortMessage})${result.stderr ? `: ${String(result.stderr)}` : ""}`;
      return { ...base, argv: spec.daemonArgv, files: [], exit_code: result.exitCode ?? null, duration_ms: duration(), error: tail(why) };
    }
    const outcome = await runTool(spec.argv, join(options.stagingDir, spec.stdout), Math.max(1000, spec.timeoutMs - spec.waitMs), options);
    const waitedFor = await lldpWaitList(options);
    const answer = outcome.exitCode === 0 ? await readFile(join(options.stagingDir, spec.stdout), "utf8").catch(() => "") : "";
    const record: CollectorRecord = {
      ...base,
      files: await existing(options.stagingDir, spec.files),
      exit_code: outcome.exitCode,
      duration_ms: duration(),
      timed_out: outcome.timedOut,
      listen: { ended, listened_ms: listenedMs, bound_ms: spec.waitMs, waited_for: waitedFor, lacking: interfacesLackingNeighbour(waitedFor, answer) },
    };
    const error = describeFailure(outcome, spec.timeoutMs);
    if (error !== undefined) record.error = error;
    return record;
  } finally {
    killGroup(daemon.pid, "SIGTERM");
    const killTimer = setTimeout(() => killGroup(daemon.pid, "SIGKILL"), options.killGraceMs ?? 2000);
    await daemonResult;
    clearTimeout(killTimer);
  }
}

/** Runs the plan; the records come back in plan order whatever order they finished in. */
export async function runCollectors(plan: CollectorSpec[], options: CollectOptions): Promise<CollectorRecord[]> {
  await mkdir(join(options.stagingDir, "raw"), { recursive: true });
  // Workload collectors write below raw/workload/: every output's directory exists first.
  for (const dir of new Set(plan.flatMap((spec) => spec.files.map((file) => dirname(join(options.stagingDir, file)))))) {
    await mkdir(dir, { recursive: true });
  }
  const records = new Array<CollectorRecord>(plan.length);
  const settle = async (index: number) => {
    const record = await runCollector(plan[index]!, options);
    records[index] = record;
    options.onRecord?.(record);
  };
  // The listener mostly waits: it starts at once and does not take a slot.
  const listeners = plan.flatMap((spec, index) => (spec.kind === "lldp" ? [settle(index)] : []));
  const queue = plan.flatMap((spec, index) => (spec.kind === "lldp" ? [] : [index]));
  const workers = Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 8, queue.length)) }, async () => {
    for (let index = queue.shift(); index !== undefined; index = queue.shift()) await settle(index);
  });
  await Promise.all([...workers, ...listeners]);
  return records;
}

/**
 * Marks the failed collectors kernel lockdown refused (status "blocked", reason, evidence). The
 * mode comes from the lockdown collector's raw file; the kernel's log (records since the
 * collection began) is read only when the kernel is locked down and something failed.
 */
export async function markBlocked(
  records: CollectorRecord[],
  options: Pick<CollectOptions, "stagingDir" | "sysRoot"> & { sinceUs: number },
): Promise<CollectorRecord[]> {
  const lockdown = records.find((record) => record.files.includes(LOCKDOWN_FILE));
  const text = lockdown === undefined ? undefined : await readFile(join(options.stagingDir, LOCKDOWN_FILE), "utf8").catch(() => undefined);
  const mode = activeLockdownMode(text);
  if (mode === null || mode === "none" || !records.some((record) => record.error !== undefined)) return records;
  const refusals = lockdownRefusals((await readKernelLog(options.sysRoot ?? "/", options.sinceUs)) ?? "");
  return records.map((record) => {
    const blocked = blockedByLockdown(record, mode, refusals);
    return blocked === null ? record : { ...record, status: "blocked", ...blocked };
  });
}

/** Where the lockdown builtin keeps /sys/kernel/security/lockdown (collectors.ts). */
export const LOCKDOWN_FILE = "raw/lockdown.txt";

/** One line per collector for collector.log and the console. */
export function formatRecord(record: CollectorRecord): string {
  const state = record.status === "blocked" ? `BLOCKED by ${record.reason}` : record.timed_out ? "TIMED OUT" : record.error === undefined ? "ok" : "FAILED";
  const files = record.files.length > 0 ? ` -> ${record.files.join(", ")}` : "";
  const error = record.error === undefined ? "" : `\n    ${record.error.replace(/\n/g, "\n    ")}${record.evidence ? `\n    kernel: ${record.evidence}` : ""}`;
  const listen = record.listen === undefined ? "" : `\n    listen: ${describeListen(record.listen)}`;
  return `${record.id}: ${state} in ${record.duration_ms} ms${files}${listen}${error}`;
}

/** The human log of a run: what ran, how long, what failed and why. */
export function renderCollectorLog(manifest: Manifest, extraLines: string[] = []): string {
  const failed = manifest.collectors.filter((r) => r.error !== undefined).length;
  return [
    `recon agent ${manifest.agent_version} collection on ${manifest.hostname} (kernel ${manifest.kernel}) at ${manifest.collected_at}`,
    `boot MAC: ${manifest.boot_mac ?? "unknown"}`,
    ...extraLines,
    ...manifest.collectors.map(formatRecord),
    `${manifest.collectors.length} collectors, ${failed} with errors`,
    ...(manifest.burn_in === undefined ? [] : ["burn-in:", ...manifest.burn_in.map(formatRecord)]),
    "",
  ].join("\n");
}

/**
 * Writes manifest.json and collector.log into the staging dir and packs them with every raw
 * file the manifest names into `outPath` (regular files only, relative paths, no owners).
 */
export async function packUpload(stagingDir: string, manifest: Manifest, log: string, outPath: string): Promise<number> {
  await writeFile(join(stagingDir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  await writeFile(join(stagingDir, "collector.log"), log);
  const files = ["manifest.json", "collector.log", ...[...manifest.collectors, ...(manifest.burn_in ?? [])].flatMap((r) => r.files)];
  await pipeline(create({ gzip: true, cwd: stagingDir, portable: true, noDirRecurse: true }, files), createWriteStream(outPath));
  return (await stat(outPath)).size;
}
