/**
 * nbd-server run and supervised like dnsmasq (src/lib/supervise.ts): the config written, the
 * daemon started (it always forks: nbd-config.ts), its PID watched through its pid file, restarted
 * with backoff when it dies, given up after too many restarts, and ended by PID when the master
 * stops. Per export, the bytes it sent are read from its clients' transaction logs (one file per
 * client: nbd-config.ts) and logged next to the export's size whenever they change
 * (docs/site-config.md, "Root transports"). A writable copy's holder lock that no nbd-server
 * process backs any more (its child was killed and ran no postrun) is cleared, and each client its
 * prerun refused (nbd-config.ts: one line in `<lock>.refused`) is logged.
 */
import { mkdir, readdir, readFile, readlink, rm, stat, writeFile } from "node:fs/promises";
import { tcpAnswers } from "../../lib/tcp-answers.js";
import { basename, dirname, join, resolve } from "node:path";
import { sleep } from "../../lib/abortable-sleep.js";
import { ReconError } from "../../lib/errors.js";
import { endProcesses, programRuns, stopLeftover } from "../../lib/leftover.js";
import type { Logger } from "../../lib/log.js";
import type { RestartWindowPolicy } from "../../lib/restart-window.js";
import type { CommandRunner } from "../../lib/run.js";
import { superviseRestarts } from "../../lib/supervise.js";
import { isClientLog, nbdServerArgs, refusedLogOf, renderNbdServerConfig, type NbdExport, type NbdServerPlan } from "./nbd-config.js";
import { parseTransactionLog, sumTransactionSummaries, type TransactionSummary } from "./transaction-log.js";

export const NBD_RESTARTS: RestartWindowPolicy = { maxRestarts: 5, windowMs: 10 * 60_000 };
const NBD_BACKOFF = { initialMs: 500, maxMs: 10_000 };
/** The daemon's process name in /proc/<pid>/comm. */
const PROGRAM = "nbd-server";
/** A holder lock younger than this is never cleared: its child may not have opened the export yet. */
const LOCK_GRACE_MS = 5000;

export interface ExportStats extends TransactionSummary {
  name: string;
  /** The exported file's size (the ISO, or the writable copy). */
  exportBytes: number;
}

export interface NbdServerRun {
  /** Resolves when stopped by the signal; rejects when the supervision gave up. (startNbdServer itself resolves once nbd-server answers, and rejects if its first start fails.) */
  done: Promise<void>;
  /** Each export's figures from its transaction log now. */
  stats(): Promise<ExportStats[]>;
}

export function nbdRunPaths(runDir: string): { dir: string; configFile: string; pidFile: string } {
  const dir = join(runDir, "nbd");
  return { dir, configFile: join(dir, "nbd-server.conf"), pidFile: join(dir, "nbd-server.pid") };
}

async function readPid(pidFile: string): Promise<number | undefined> {
  const pid = Number((await readFile(pidFile, "utf8").catch(() => "")).trim());
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

/** An export's transaction logs: the one at its path (a client that has not renamed it yet) and every client's own. */
async function clientLogs(entry: NbdExport): Promise<string[]> {
  const dir = dirname(entry.transactionLog);
  const name = basename(entry.transactionLog);
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((file) => file === name || isClientLog(name, file)).map((file) => join(dir, file));
}

export async function exportStats(plan: NbdServerPlan): Promise<ExportStats[]> {
  return Promise.all(
    plan.exports.map(async (entry) => {
      const logs = await Promise.all((await clientLogs(entry)).map((file) => readFile(file).catch(() => Buffer.alloc(0))));
      const exportBytes = await stat(entry.path).then(
        (s) => s.size,
        () => 0,
      );
      return { name: entry.name, exportBytes, ...sumTransactionSummaries(logs.map((log) => parseTransactionLog(log))) };
    }),
  );
}

/** Whether some nbd-server process (a per-client child) has `path` open: /proc/<pid>/fd, this PID namespace only. */
async function nbdProcessHolds(path: string, procRoot = "/proc"): Promise<boolean> {
  const wanted = resolve(path);
  for (const name of await readdir(procRoot).catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const comm = (await readFile(join(procRoot, name, "comm"), "utf8").catch(() => "")).trim();
    if (comm !== PROGRAM) continue;
    for (const fd of await readdir(join(procRoot, name, "fd")).catch(() => [] as string[])) {
      if ((await readlink(join(procRoot, name, "fd", fd)).catch(() => "")) === wanted) return true;
    }
  }
  return false;
}

/** Clears each writable copy's holder lock that is older than the grace and that no nbd-server process backs. */
export async function clearStaleHolderLocks(plan: NbdServerPlan, log: Logger, now = Date.now()): Promise<void> {
  for (const entry of plan.exports) {
    if (entry.holderLock === undefined) continue;
    const lock = await stat(entry.holderLock).catch(() => undefined);
    if (lock === undefined || now - lock.mtimeMs < LOCK_GRACE_MS) continue;
    if (await nbdProcessHolds(entry.path)) continue;
    await rm(entry.holderLock, { recursive: true, force: true });
    log.warn("nbd writable copy released: its holder's nbd-server child is gone", { export: entry.name });
  }
}

/** Logs each client refused since the last call (the lines added to each `<lock>.refused`); `seen` counts them per export. */
export async function logRefusedClients(plan: NbdServerPlan, log: Logger, seen: Map<string, number>): Promise<void> {
  for (const entry of plan.exports) {
    if (entry.holderLock === undefined) continue;
    const text = await readFile(refusedLogOf(entry.holderLock), "utf8").catch(() => "");
    const count = text.split("\n").filter(Boolean).length;
    for (let i = seen.get(entry.name) ?? 0; i < count; i++) log.warn("nbd-rw client refused", { export: entry.name, reason: "held by another client" });
    seen.set(entry.name, count);
  }
}

export async function startNbdServer(options: {
  runner: CommandRunner;
  plan: NbdServerPlan;
  runDir: string;
  log: Logger;
  signal: AbortSignal;
  binary?: string;
  restarts?: RestartWindowPolicy;
  now?: () => number;
  watchEveryMs?: number;
  /** Whether nbd-server answers; default a TCP connect to its address (a test from outside the namespace injects one). */
  probe?: () => Promise<boolean>;
  /** How long a start may take until nbd-server answers; default 10 s. */
  startTimeoutMs?: number;
  /** How often the export figures are read and logged when they changed; 0 = never. */
  statsEveryMs?: number;
}): Promise<NbdServerRun> {
  const { runner, plan, log, signal } = options;
  const paths = nbdRunPaths(options.runDir);
  await mkdir(paths.dir, { recursive: true });
  // A master killed with -9 leaves its nbd-server serving: end it (by its pid file) first.
  await stopLeftover(paths.pidFile, PROGRAM, log);
  // Figures and holders are per run: earlier runs' client logs and locks go.
  for (const entry of plan.exports) {
    for (const file of await clientLogs(entry)) await rm(file, { force: true });
    if (entry.holderLock !== undefined) {
      await rm(entry.holderLock, { recursive: true, force: true });
      await rm(refusedLogOf(entry.holderLock), { force: true });
    }
  }
  await writeFile(paths.configFile, renderNbdServerConfig(plan));
  const watchEveryMs = options.watchEveryMs ?? 1000;
  const probe = options.probe ?? (() => tcpAnswers(plan.listenAddress, plan.port, 500));

  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const exportNames = plan.exports.map((e) => e.name).join(",");

  // Start the daemon and wait until it answers: its PID, or why it did not get there.
  const start = async (): Promise<{ pid: number } | { failed: string }> => {
    await rm(paths.pidFile, { force: true });
    const started = await runner.run(options.binary ?? PROGRAM, nbdServerArgs(paths.configFile, paths.pidFile), { timeoutMs: 20_000 });
    if (started.exitCode !== 0) return { failed: `exit ${started.exitCode}: ${(started.stderr || started.stdout).trim().slice(0, 500)}` };
    const deadline = Date.now() + startTimeoutMs;
    let pid: number | undefined;
    while (!signal.aborted && Date.now() < deadline) {
      pid ??= await readPid(paths.pidFile);
      if (pid !== undefined && (await probe())) {
        log.info("nbd-server serving", { pid, address: plan.listenAddress, port: plan.port, exports: exportNames });
        return { pid };
      }
      if (pid !== undefined && !(await programRuns(paths.pidFile, PROGRAM))) return { failed: "died before it listened (nbd-server logs only to syslog)" };
      await sleep(50, signal);
    }
    if (pid !== undefined) await endProcesses([pid]);
    if (signal.aborted) return { failed: "stopped" };
    return { failed: pid === undefined ? "wrote no pid file" : `did not answer on ${plan.listenAddress}:${plan.port} within ${startTimeoutMs} ms` };
  };

  // Watch a serving daemon's PID until it dies or we stop.
  const refused = new Map<string, number>();
  const watch = async (pid: number): Promise<string> => {
    while (!signal.aborted) {
      await sleep(watchEveryMs, signal);
      if (signal.aborted) break;
      if (!(await programRuns(paths.pidFile, PROGRAM))) return `pid ${pid} is gone`;
      await clearStaleHolderLocks(plan, log);
      await logRefusedClients(plan, log, refused);
    }
    // Stopping: SIGTERM ends the daemon, which ends its per-client children.
    await endProcesses([pid]);
    return "stopped";
  };

  // Fail fast, as dnsmasq does: the first start must serve before the caller goes on, so nobody
  // connects to a port that is not listening yet.
  const first = await start();
  if ("failed" in first) {
    throw new ReconError("COMMAND_FAILED", `nbd-server did not start: ${first.failed}`, {
      hint: `check ${paths.configFile}, that every exported file exists, and the system log (journalctl -t nbd_server): nbd-server logs there only`,
    });
  }
  let pending: number | undefined = first.pid;
  const runOnce = async (): Promise<string> => {
    const pid = pending;
    pending = undefined;
    if (pid !== undefined) return watch(pid);
    const next = await start();
    return "failed" in next ? next.failed : watch(next.pid);
  };

  const done = superviseRestarts({
    signal,
    policy: { ...NBD_BACKOFF, ...(options.restarts ?? NBD_RESTARTS) },
    now: options.now,
    runOnce,
    onStopped: () => log.info("nbd-server stopped"),
    onRestart: (why, verdict) => log.warn("nbd-server ended; restarting", { why, restart: verdict.inWindow, delay_ms: verdict.delayMs }),
    giveUp: (why, verdict) =>
      new ReconError(
        "COMMAND_FAILED",
        `nbd-server ended ${verdict.inWindow} times within ${Math.round((options.restarts ?? NBD_RESTARTS).windowMs / 1000)} s; last: ${why}`,
        {
          hint: `check ${paths.configFile}, that every exported file exists, and the system log (journalctl -t nbd_server): nbd-server logs there only`,
        },
      ),
  });

  const statsEveryMs = options.statsEveryMs ?? 10_000;
  if (statsEveryMs > 0) {
    void (async () => {
      const last = new Map<string, number>();
      while (!signal.aborted) {
        await sleep(statsEveryMs, signal);
        for (const s of await exportStats(plan)) {
          if (last.get(s.name) === s.readBytes) continue;
          last.set(s.name, s.readBytes);
          log.info("nbd export read", {
            export: s.name,
            read_bytes: s.readBytes,
            export_bytes: s.exportBytes,
            reads: s.reads,
            writes: s.writes,
            write_bytes: s.writeBytes,
            errors: s.errors,
          });
        }
      }
    })();
  }
  // The caller may attach to `done` later; keep Node from reporting the rejection as unhandled meanwhile.
  done.catch(() => undefined);
  return { done, stats: () => exportStats(plan) };
}
