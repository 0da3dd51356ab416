import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { sleep, untilAborted } from "./abortable-sleep.js";

describe("sleep", () => {
  it("resolves true when the time elapsed and leaves no abort listener behind (50 waits)", async () => {
    const controller = new AbortController();
    for (let n = 0; n < 50; n++) expect(await sleep(1, controller.signal)).toBe(true);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("resolves false at once when the signal aborts, or has aborted", async () => {
    const controller = new AbortController();
    const started = Date.now();
    const waiting = sleep(60_000, controller.signal);
    controller.abort();
    expect(await waiting).toBe(false);
    expect(await sleep(60_000, controller.signal)).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("caps a wait longer than setTimeout allows instead of firing at once", async () => {
    const controller = new AbortController();
    let settled = false;
    void sleep(2 ** 40, controller.signal).then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    controller.abort();
  });
});

describe("untilAborted", () => {
  it("resolves on abort", async () => {
    const controller = new AbortController();
    const waiting = untilAborted(controller.signal);
    controller.abort();
    await expect(waiting).resolves.toBeUndefined();
  });
});
