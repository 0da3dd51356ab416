/**
 * One supervisor for the daemons the master keeps running (dnsmasq, nginx): run, and when the
 * run ends without being asked to, restart it after an exponential backoff, until more than
 * `maxRestarts` restarts fall within the window (restart-window.ts) — then give up, so the caller
 * can stop the other subsystems. The daemon-specific parts (how to run once, what to log, the
 * error to give up with) are the caller's.
 */
import { sleep } from "./abortable-sleep.js";
import { recordRestart, type RestartVerdict, type RestartWindowPolicy } from "./restart-window.js";

export interface RestartPolicy extends RestartWindowPolicy {
  /** Delay before the first restart in the window; doubles with each one. */
  initialMs: number;
  maxMs: number;
}

/** Delay before restart number `n` in the window (1-based): initial·2^(n−1), capped (pure). */
export function backoffDelayMs(n: number, policy: Pick<RestartPolicy, "initialMs" | "maxMs">): number {
  return Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, n - 1));
}

export interface Supervision<R> {
  signal: AbortSignal;
  policy: RestartPolicy;
  /** The clock for the window (ms); tests inject one. */
  now?: (() => number) | undefined;
  /** One run to its end (the first call may return a run the caller already started). Throwing ends the supervision. */
  runOnce: () => Promise<R>;
  /** A run ended because `signal` aborted. */
  onStopped?: ((result: R) => void) | undefined;
  /** A run ended by itself and is restarted after `delayMs`. */
  onRestart: (result: R, verdict: RestartVerdict & { delayMs: number }) => void;
  /** Too many restarts in the window: the error the supervision rejects with. */
  giveUp: (result: R, verdict: RestartVerdict) => Error;
  /** Before each restart (after the backoff). */
  beforeRestart?: (() => Promise<unknown>) | undefined;
}

/** Resolves once `signal` stopped it; rejects with `giveUp`'s error (or whatever `runOnce` threw). */
export async function superviseRestarts<R>(supervision: Supervision<R>): Promise<void> {
  const { signal, policy } = supervision;
  const now = supervision.now ?? Date.now;
  let history: number[] = [];
  for (;;) {
    const result = await supervision.runOnce();
    if (signal.aborted) {
      supervision.onStopped?.(result);
      return;
    }
    const verdict = recordRestart(history, now(), policy);
    history = verdict.history;
    if (verdict.giveUp) throw supervision.giveUp(result, verdict);
    const delayMs = backoffDelayMs(verdict.inWindow, policy);
    supervision.onRestart(result, { ...verdict, delayMs });
    if (!(await sleep(delayMs, signal))) return;
    await supervision.beforeRestart?.();
  }
}
