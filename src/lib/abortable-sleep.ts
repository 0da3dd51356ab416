/**
 * One abortable sleep for every loop that waits on an AbortSignal (re-probe, power checks,
 * supervisors). Each wait adds one "abort" listener and removes it again when the timer fires,
 * so a loop that sleeps forever on a long-lived signal does not grow its listener list (node
 * warns `MaxListenersExceededWarning: 11 abort listeners` otherwise; issue #9).
 */

/** Resolves true after `ms`, or false at once when `signal` aborts (or already has). */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    // setTimeout takes at most 2^31-1 ms; longer waits would fire at once.
    const timer = setTimeout(() => finish(true), Math.min(Math.max(ms, 0), 2 ** 31 - 1));
    function onAbort() {
      finish(false);
    }
    function finish(elapsed: boolean) {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(elapsed);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Resolves when `signal` aborts (at once if it has). */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}
