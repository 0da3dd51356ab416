/**
 * opentracker (Debian's), one module per tool: the pure argument builder and whitelist renderer,
 * and a runner supervised like nbd-server (src/lib/supervise.ts): started in the foreground
 * (opentracker does not fork), watched until it ends, restarted with backoff, given up after too
 * many restarts, ended by its PID (execa's cancel signal) when the master stops.
 *
 * Debian builds it with a whitelist (WANT_ACCESSLIST_WHITE): without one it refuses every
 * torrent ("not authorized"), so the master writes the info hashes of its own torrents, and no
 * other swarm can use the tracker. It chroots into `-d` before it reads the whitelist, so the
 * list's path is given inside that directory; it keeps its swarm in memory only, so a restarted
 * tracker knows nobody until the peers' next announce — peers announce every few seconds
 * (aria2c --bt-tracker-interval, docs/peer-assist.md), and the peers already connected keep
 * trading meanwhile: the tracker only introduces peers, it carries no data.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { tcpAnswers } from "../../lib/tcp-answers.js";
import { join } from "node:path";
import { sleep } from "../../lib/abortable-sleep.js";
import { ReconError } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import type { RestartWindowPolicy } from "../../lib/restart-window.js";
import type { CommandRunner, RunResult } from "../../lib/run.js";
import { superviseRestarts } from "../../lib/supervise.js";

export const TRACKER_RESTARTS: RestartWindowPolicy = { maxRestarts: 5, windowMs: 10 * 60_000 };
const TRACKER_BACKOFF = { initialMs: 500, maxMs: 10_000 };
/** The whitelist's name inside the tracker's chroot directory. */
export const WHITELIST_NAME = "whitelist";

export interface TrackerPlan {
  /** The boot address only: never the wildcard. */
  address: string;
  port: number;
  /** The directory opentracker chroots into; holds the whitelist. */
  dir: string;
  /** The info hashes (40 hex) the tracker serves. */
  infoHashes: string[];
}

/** The announce URL peers use (pure). */
export function announceUrl(address: string, port: number): string {
  return `http://${address}:${port}/announce`;
}

/** opentracker argv (pure): TCP on the boot address only (no -P: no UDP tracker), chrooted into `dir`. */
export function opentrackerArgs(plan: Pick<TrackerPlan, "address" | "port" | "dir">): string[] {
  return ["-i", plan.address, "-p", String(plan.port), "-d", plan.dir, "-w", `/${WHITELIST_NAME}`];
}

/** The whitelist: one info hash per line (pure). */
export function renderWhitelist(infoHashes: readonly string[]): string {
  for (const hash of infoHashes) {
    if (!/^[0-9a-f]{40}$/.test(hash)) throw new ReconError("CONFIG_INVALID", `'${hash}' is not an info hash (40 lowercase hex digits)`);
  }
  return infoHashes.map((hash) => `${hash}\n`).join("");
}

export interface TrackerRun {
  /** Resolves when stopped by the signal; rejects when the supervision gave up. */
  done: Promise<void>;
  announceUrl: string;
}

function describeEnd(result: RunResult): string {
  const said = (result.stderr || result.stdout).trim().split("\n").slice(-3).join(" | ").slice(0, 300);
  return `exit ${result.exitCode}${said ? `: ${said}` : ""}`;
}

/**
 * Writes the whitelist, starts opentracker and resolves once it answers on address:port (rejects
 * when the first start fails: fail fast, as nbd-server). A tracker that ends by itself is
 * restarted (logged at warn); the swarm goes on meanwhile.
 */
export async function startTracker(options: {
  runner: CommandRunner;
  plan: TrackerPlan;
  log: Logger;
  signal: AbortSignal;
  /** Default `opentracker`; a test running it in a namespace gives `ip` and puts the rest in `wrap`. */
  binary?: string;
  /** argv put before opentracker's own (e.g. `netns exec <ns> opentracker`). */
  wrap?: readonly string[];
  restarts?: RestartWindowPolicy;
  now?: () => number;
  /** Whether the tracker answers; default a TCP connect to its address (a test from outside the namespace injects one). */
  probe?: () => Promise<boolean>;
  startTimeoutMs?: number;
}): Promise<TrackerRun> {
  const { runner, plan, log, signal } = options;
  await mkdir(plan.dir, { recursive: true, mode: 0o755 });
  // opentracker drops to user nobody after the chroot: the list must be world-readable.
  await writeFile(join(plan.dir, WHITELIST_NAME), renderWhitelist(plan.infoHashes), { mode: 0o644 });
  const probe = options.probe ?? (() => tcpAnswers(plan.address, plan.port, 500));
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const url = announceUrl(plan.address, plan.port);

  // One run: the child's whole life. `ended` settles when it exits; the caller waits for it to answer first.
  const launch = () => {
    let exited = false;
    // Its own stop: the master's signal, or a start that never answered (ended here, not left running).
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    const ended = runner
      .run(options.binary ?? "opentracker", [...(options.wrap ?? []), ...opentrackerArgs(plan)], { signal: stop.signal, buffer: true })
      .then((result) => {
        exited = true;
        signal.removeEventListener("abort", onAbort);
        return result;
      });
    const ready = (async (): Promise<string | undefined> => {
      const deadline = Date.now() + startTimeoutMs;
      while (!signal.aborted && Date.now() < deadline) {
        if (exited) return `ended before it listened: ${describeEnd(await ended)}`;
        if (await probe()) return undefined;
        await sleep(50, signal);
      }
      stop.abort();
      await ended;
      return signal.aborted ? "stopped" : `did not answer on ${plan.address}:${plan.port} within ${startTimeoutMs} ms`;
    })();
    return { ended, ready };
  };

  const hint = `check that ${plan.address}:${plan.port} is free on the boot interface (distribution.trackerPort) and that opentracker is installed`;
  const first = launch();
  const failed = await first.ready;
  if (failed !== undefined) {
    throw new ReconError("COMMAND_FAILED", `opentracker did not start: ${failed}`, { hint });
  }
  log.info("tracker serving", { address: plan.address, port: plan.port, torrents: plan.infoHashes.length });

  let pending: ReturnType<typeof launch> | undefined = first;
  const runOnce = async (): Promise<string> => {
    let run = pending;
    pending = undefined;
    if (run === undefined) {
      run = launch();
      const notReady = await run.ready;
      if (notReady !== undefined) return notReady;
      log.info("tracker serving", { address: plan.address, port: plan.port, torrents: plan.infoHashes.length, restarted: true });
    }
    return describeEnd(await run.ended);
  };

  const done = superviseRestarts({
    signal,
    policy: { ...TRACKER_BACKOFF, ...(options.restarts ?? TRACKER_RESTARTS) },
    now: options.now,
    runOnce,
    onStopped: () => log.info("tracker stopped"),
    onRestart: (why, verdict) => log.warn("tracker ended; restarting", { why, restart: verdict.inWindow, delay_ms: verdict.delayMs }),
    giveUp: (why, verdict) =>
      new ReconError(
        "COMMAND_FAILED",
        `opentracker ended ${verdict.inWindow} times within ${Math.round((options.restarts ?? TRACKER_RESTARTS).windowMs / 1000)} s; last: ${why}`,
        { hint },
      ),
  });
  done.catch(() => undefined);
  return { done, announceUrl: url };
}
