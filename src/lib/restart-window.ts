/**
 * How many times a supervised daemon may be restarted: N restarts within a sliding window of M
 * ms. Counting "in a row" for ever (issue #9 item 10) let a few crashes spread over weeks stop
 * the master; restarts older than the window are forgotten here. Pure: the caller passes the
 * clock's reading and keeps the returned history.
 */
export interface RestartWindowPolicy {
  /** More restarts than this within the window: give up. */
  maxRestarts: number;
  windowMs: number;
}

export interface RestartVerdict {
  /** Times of the restarts still in the window, this one included (oldest first). */
  history: number[];
  /** Restarts in the window, this one included (drives the backoff). */
  inWindow: number;
  giveUp: boolean;
}

/** Records a restart at `at` (ms) into `history` (times of earlier restarts, oldest first). */
export function recordRestart(history: readonly number[], at: number, policy: RestartWindowPolicy): RestartVerdict {
  const kept = [...history.filter((time) => time > at - policy.windowMs), at];
  return { history: kept, inWindow: kept.length, giveUp: kept.length > policy.maxRestarts };
}
