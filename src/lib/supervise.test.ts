import { describe, expect, it } from "vitest";
import { backoffDelayMs, superviseRestarts } from "./supervise.js";

describe("backoffDelayMs", () => {
  it.each([
    [1, 500],
    [2, 1000],
    [3, 2000],
    [6, 10_000],
    [20, 10_000],
  ])("restart %i waits %i ms", (n, ms) => {
    expect(backoffDelayMs(n, { initialMs: 500, maxMs: 10_000 })).toBe(ms);
  });
});

describe("superviseRestarts", () => {
  it("restarts with backoff and gives up past maxRestarts within the window", async () => {
    let runs = 0;
    const delays: number[] = [];
    const clock = 0;
    const done = superviseRestarts({
      signal: new AbortController().signal,
      policy: { initialMs: 1, maxMs: 4, maxRestarts: 3, windowMs: 1000 },
      now: () => clock,
      runOnce: async () => ++runs,
      onRestart: (_run, verdict) => delays.push(verdict.delayMs),
      giveUp: (run, verdict) => new Error(`gave up after run ${run}, ${verdict.inWindow} in the window`),
    });
    await expect(done).rejects.toThrow("gave up after run 4, 4 in the window");
    expect(delays).toEqual([1, 2, 4]);
  });

  it("forgets restarts older than the window", async () => {
    let runs = 0;
    let clock = 0;
    const stop = new AbortController();
    const done = superviseRestarts({
      signal: stop.signal,
      policy: { initialMs: 1, maxMs: 1, maxRestarts: 1, windowMs: 100 },
      now: () => (clock += 200),
      runOnce: async () => {
        if (++runs === 5) stop.abort();
        return runs;
      },
      onRestart: () => undefined,
      giveUp: () => new Error("gave up"),
    });
    await expect(done).resolves.toBeUndefined();
    expect(runs).toBe(5);
  });

  it("stops during the backoff when the signal aborts, and runs beforeRestart before each restart", async () => {
    const stop = new AbortController();
    const seen: string[] = [];
    const done = superviseRestarts({
      signal: stop.signal,
      policy: { initialMs: 60_000, maxMs: 60_000, maxRestarts: 5, windowMs: 1000 },
      runOnce: async () => {
        seen.push("run");
        return 0;
      },
      onRestart: () => {
        seen.push("restart");
        stop.abort();
      },
      onStopped: () => seen.push("stopped"),
      giveUp: () => new Error("gave up"),
      beforeRestart: async () => seen.push("before"),
    });
    await done;
    expect(seen).toEqual(["run", "restart"]);
  });
});
