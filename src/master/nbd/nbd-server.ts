/**
 * nbd-server run and supervised like dnsmasq (src/lib/supervise.ts): the config written, the
 * daemon started (it always forks: nbd-config.ts), its PID watched through its pid file, restarted
 * with backoff when it dies, given up after too many restarts, and ended by PID when the master
 * stops. Per export, the bytes it sent are read from its transaction log and logged next to the
 * export's size whenever they change (docs/site-config.md, "Root transports").
 */
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { sleep } from "../../lib/abortable-sleep.js";
import { ReconError } from "../../lib/errors.js";
import { endProcesses, programRuns, stopLeftover } from "../../lib/leftover.js";
import type { Logger } from "../../lib/log.js";
import type { RestartWindowPolicy } from "../../lib/restart-window.js";
import type { CommandRunner } from "../../lib/run.js";
import { superviseRestarts } from "../../lib/supervise.js";
import { nbdServerArgs, renderNbdServerConfig, type NbdServerPlan } from "./nbd-config.js";
import { parseTransactionLog, type TransactionSummary } from "./transaction-log.js";

export const NBD_RESTARTS: RestartWindowPolicy = { maxRestarts: 5, windowMs: 10 * 60_000 };
const NBD_BACKOFF = { initialMs: 500, maxMs: 10_000 };
/** The daemon's process name in /proc/<pid>/comm. */
const PROGRAM = "nbd-server";

export interface ExportStats extends TransactionSummary {
  name: string;
  /** The exported file's size (the ISO, or the writable copy). */
  exportBytes: number;
}

export interface NbdServerRun {
  /** Resolves when stopped by the signal; rejects when the supervision gave up. */
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

/** Whether something accepts TCP connections on host:port within timeoutMs. */
function answers(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

export async function exportStats(plan: NbdServerPlan): Promise<ExportStats[]> {
  return Promise.all(
    plan.exports.map(async (entry) => {
      const log = await readFile(entry.transactionLog).catch(() => Buffer.alloc(0));
      const exportBytes = await stat(entry.path).then(
        (s) => s.size,
        () => 0,
      );
      return { name: entry.name, exportBytes, ...parseTransactionLog(log) };
    }),
  );
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
  /** How often the export figures are read and logged when they changed; 0 = never. */
  statsEveryMs?: number;
}): Promise<NbdServerRun> {
  const { runner, plan, log, signal } = options;
  const paths = nbdRunPaths(options.runDir);
  await mkdir(paths.dir, { recursive: true });
  // A master killed with -9 leaves its nbd-server serving: end it (by its pid file) first.
  await stopLeftover(paths.pidFile, PROGRAM, log);
  for (const entry of plan.exports) await rm(entry.transactionLog, { force: true });
  await writeFile(paths.configFile, renderNbdServerConfig(plan));
  const watchEveryMs = options.watchEveryMs ?? 1000;
  const probe = options.probe ?? (() => answers(plan.listenAddress, plan.port, 500));

  // One run: start the daemon, wait until it listens, then watch its PID until it dies or we stop.
  const runOnce = async (): Promise<string> => {
    await rm(paths.pidFile, { force: true });
    const started = await runner.run(options.binary ?? PROGRAM, nbdServerArgs(paths.configFile, paths.pidFile), { timeoutMs: 20_000 });
    if (started.exitCode !== 0) return `exit ${started.exitCode}: ${(started.stderr || started.stdout).trim().slice(0, 500)}`;
    let pid: number | undefined;
    for (let attempt = 0; attempt < 100 && !signal.aborted; attempt += 1) {
      pid ??= await readPid(paths.pidFile);
      if (pid !== undefined && (await probe())) break;
      if (pid !== undefined && !(await programRuns(paths.pidFile, PROGRAM))) return "died before it listened (nbd-server logs only to syslog)";
      await sleep(50, signal);
    }
    if (pid === undefined) return "wrote no pid file";
    if (!signal.aborted)
      log.info("nbd-server serving", { pid, address: plan.listenAddress, port: plan.port, exports: plan.exports.map((e) => e.name).join(",") });
    while (!signal.aborted) {
      await sleep(watchEveryMs, signal);
      if (signal.aborted) break;
      if (!(await programRuns(paths.pidFile, PROGRAM))) return `pid ${pid} is gone`;
    }
    // Stopping: SIGTERM ends the daemon, which ends its per-client children.
    await endProcesses([pid]);
    return "stopped";
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
  return { done, stats: () => exportStats(plan) };
}
