import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { drainBody } from "./drain-body.js";

const bounds = { maxBytes: 1000, timeoutMs: 2000 };

describe("drainBody", () => {
  it("reads a body to its end and says how much it threw away", async () => {
    const body = new PassThrough();
    const drained = drainBody(body, bounds);
    body.write(Buffer.alloc(300));
    body.end(Buffer.alloc(200));
    expect(await drained).toEqual({ drained: true, bytes: 500 });
  });

  it("stops past the byte bound and leaves the rest unread (paused)", async () => {
    const body = new PassThrough();
    const drained = drainBody(body, bounds);
    body.write(Buffer.alloc(600));
    body.write(Buffer.alloc(600));
    expect(await drained).toEqual({ drained: false, bytes: 1200, reason: "too-large" });
    expect(body.isPaused()).toBe(true);
    expect(body.listenerCount("data")).toBe(0);
  });

  it("stops at the time bound when the body never ends", async () => {
    const body = new PassThrough();
    const started = Date.now();
    const outcome = await drainBody(body, { maxBytes: 1000, timeoutMs: 100 });
    expect(outcome).toEqual({ drained: false, bytes: 0, reason: "timeout" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });

  it("gives up at once on a declared length beyond the bound, and on a closed body", async () => {
    expect(await drainBody(new PassThrough(), bounds, 1001)).toEqual({ drained: false, bytes: 0, reason: "too-large" });
    const closed = new PassThrough();
    closed.destroy();
    expect(await drainBody(closed, bounds)).toEqual({ drained: false, bytes: 0, reason: "closed" });
  });

  it("reports a body cut off while draining as closed", async () => {
    const body = new PassThrough();
    const drained = drainBody(body, bounds);
    body.write(Buffer.alloc(10));
    await new Promise((resolve) => setImmediate(resolve));
    body.destroy();
    expect(await drained).toEqual({ drained: false, bytes: 10, reason: "closed" });
  });

  it("is done at once with a body already read to its end", async () => {
    const body = new PassThrough();
    body.end();
    body.resume();
    await new Promise((resolve) => body.once("end", resolve));
    expect(await drainBody(body, bounds)).toEqual({ drained: true, bytes: 0 });
  });
});
