import { describe, expect, it } from "vitest";
import { recordRestart } from "./restart-window.js";

const policy = { maxRestarts: 3, windowMs: 10 * 60_000 };
const minutes = (n: number) => n * 60_000;

/** Feeds restart times through recordRestart, as the supervisor does with its clock. */
function replay(times: number[]) {
  let history: number[] = [];
  return times.map((at) => {
    const verdict = recordRestart(history, at, policy);
    history = verdict.history;
    return verdict;
  });
}

describe("recordRestart", () => {
  it("gives up on the restart that makes more than maxRestarts within the window", () => {
    const verdicts = replay([0, minutes(1), minutes(2), minutes(3)]);
    expect(verdicts.map((v) => [v.inWindow, v.giveUp])).toEqual([
      [1, false],
      [2, false],
      [3, false],
      [4, true],
    ]);
  });

  it("forgets restarts older than the window: crashes spread over weeks never stop the master", () => {
    const week = 7 * 24 * minutes(60);
    const verdicts = replay(Array.from({ length: 20 }, (_, index) => index * week));
    expect(verdicts.every((v) => v.inWindow === 1 && !v.giveUp)).toBe(true);
    expect(verdicts.at(-1)!.history).toEqual([19 * week]);
  });

  it("slides: three quick restarts, a quiet window, then three more are still allowed", () => {
    const verdicts = replay([0, 1000, 2000, minutes(10) + 1000, minutes(10) + 2000, minutes(10) + 3000]);
    expect(verdicts.map((v) => v.giveUp)).toEqual([false, false, false, false, false, false]);
    // At 10 min + 1 s the restart at 0 has left the window; the one at 1 s has too (exactly M ms).
    expect(verdicts[3]!.history).toEqual([2000, minutes(10) + 1000]);
  });

  it("does not change the history it is given", () => {
    const history = [0, 1000];
    recordRestart(history, 2000, policy);
    expect(history).toEqual([0, 1000]);
  });
});
