import { describe, expect, it } from "vitest";
import { backoffDelayMs, classifyOutcome, describeOutcome, nodePath, parseAck, postWithRetry, type AttemptOutcome, type RetryPolicy } from "./upload.js";

const POLICY: RetryPolicy = { maxAttempts: 10, totalBudgetMs: 60_000, initialDelayMs: 1000, maxDelayMs: 8000, attemptTimeoutMs: 5000 };
const refused: AttemptOutcome = { kind: "network", message: "10.0.0.1:8080: ECONNREFUSED 10.0.0.1:8080" };
const answer = (status: number, body = ""): AttemptOutcome => ({ kind: "answer", answer: { status, body } });
const ACK = answer(201, '{"id":"20261122T005145.002Z-0a1b2c3d","entries":21,"bytes":7455}');

/** A clock that only moves when the code sleeps (or an attempt "takes" time). */
function fakeClock(attemptMs = 0) {
  let now = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
    tick: () => {
      now += attemptMs;
    },
  };
}

function scripted(outcomes: AttemptOutcome[], clock: ReturnType<typeof fakeClock>) {
  const timeouts: number[] = [];
  return {
    timeouts,
    post: async (req: { timeoutMs: number }) => {
      timeouts.push(req.timeoutMs);
      clock.tick();
      return outcomes.shift() ?? refused;
    },
  };
}

describe("backoff", () => {
  it("doubles from the initial delay up to the cap, jittered into [50 %, 100 %]", () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelayMs(n, POLICY, () => 1))).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(n, POLICY, () => 0))).toEqual([500, 1000, 2000, 4000]);
  });
});

describe("classifyOutcome", () => {
  it.each([
    [answer(201), "done"],
    [answer(204), "done"],
    [refused, "retry"],
    [answer(503), "retry"],
    [answer(500), "retry"],
    [answer(429), "retry"],
    [answer(408), "retry"],
    [answer(425), "retry"],
    // nginx's own answers while express is down or restarting: the master comes back.
    [answer(502), "retry"],
    [answer(504), "retry"],
    [answer(400), "fatal"],
    [answer(401), "fatal"],
    [answer(403), "fatal"],
    [answer(404), "fatal"],
    [answer(413), "fatal"],
    [answer(415), "fatal"],
    [answer(422), "fatal"],
  ] as const)("%j → %s", (outcome, verdict) => {
    expect(classifyOutcome(outcome)).toBe(verdict);
  });

  it("shows the master's JSON error message", () => {
    expect(describeOutcome(answer(401, '{"error":"Unauthorized","code":"UNAUTHORIZED","message":"the token is not valid for 52:54:00:aa:00:01"}'))).toBe(
      "HTTP 401 UNAUTHORIZED: the token is not valid for 52:54:00:aa:00:01",
    );
    expect(describeOutcome(answer(502, "<html>bad gateway</html>"))).toBe("HTTP 502: <html>bad gateway</html>");
  });
});

describe("postWithRetry", () => {
  it("survives a master that refuses connections for a while (a restart) and returns its ack", async () => {
    const clock = fakeClock();
    const { post } = scripted([refused, refused, answer(503), ACK], clock);
    const retries: number[] = [];
    const result = await postWithRetry({ url: "http://m/x", token: "t" }, POLICY, {
      post,
      sleep: clock.sleep,
      now: clock.now,
      random: () => 1,
      onRetry: (i) => retries.push(i.attempt),
    });
    expect(result).toMatchObject({ ok: true, attempts: 4 });
    expect(clock.sleeps).toEqual([1000, 2000, 4000]);
    expect(retries).toEqual([1, 2, 3]);
  });

  it("stops at once on an answer that retrying cannot change", async () => {
    const clock = fakeClock();
    const { post } = scripted([refused, answer(401, '{"code":"UNAUTHORIZED","message":"bad token"}')], clock);
    const result = await postWithRetry({ url: "http://m/x", token: "t" }, POLICY, { post, sleep: clock.sleep, now: clock.now, random: () => 1 });
    expect(result).toMatchObject({ ok: false, fatal: true, attempts: 2, reason: "HTTP 401 UNAUTHORIZED: bad token" });
  });

  it("returns a refusal after its first attempt with the master's reason and answer (a gzip bomb's 422)", async () => {
    const clock = fakeClock();
    // The body the master sends through nginx for the 4 GiB bomb (test/integration/nginx-reject.test.ts).
    const body = '{"error":"UPLOAD_REJECTED","code":"UPLOAD_REJECTED","message":"upload refused: entry larger than 16777216 bytes: \\"raw/huge.bin\\""}';
    const { post } = scripted([answer(422, body), ACK], clock);
    const result = await postWithRetry({ url: "http://m/x", token: "t" }, POLICY, { post, sleep: clock.sleep, now: clock.now, random: () => 1 });
    expect(result).toMatchObject({
      ok: false,
      fatal: true,
      attempts: 1,
      reason: 'HTTP 422 UPLOAD_REJECTED: upload refused: entry larger than 16777216 bytes: "raw/huge.bin"',
    });
    expect(result.ok === false && result.answer?.status).toBe(422);
    expect(clock.sleeps).toEqual([]);
  });

  it("gives up after maxAttempts", async () => {
    const clock = fakeClock();
    const { post } = scripted([], clock);
    const result = await postWithRetry(
      { url: "http://m/x", token: "t" },
      { ...POLICY, maxAttempts: 3 },
      { post, sleep: clock.sleep, now: clock.now, random: () => 1 },
    );
    expect(result).toMatchObject({ ok: false, fatal: false, attempts: 3 });
    expect(clock.sleeps).toEqual([1000, 2000]);
  });

  it("gives up when the time budget is spent, never sleeping past it", async () => {
    const clock = fakeClock(3000);
    const { post, timeouts } = scripted([], clock);
    const result = await postWithRetry(
      { url: "http://m/x", token: "t" },
      { ...POLICY, maxAttempts: 100, totalBudgetMs: 20_000 },
      { post, sleep: clock.sleep, now: clock.now, random: () => 1 },
    );
    expect(result.ok).toBe(false);
    expect(result.elapsedMs).toBeLessThanOrEqual(20_000);
    // attempts at 0, 4 s, 9 s, 16 s (each takes 3 s); at 19 s the next delay (8 s) ends past 20 s.
    expect(result.attempts).toBe(4);
    expect(clock.sleeps).toEqual([1000, 2000, 4000]);
    expect(timeouts.every((t) => t <= 5000)).toBe(true);
  });
});

describe("the master API", () => {
  it("names the node by its MAC with dashes", () => {
    expect(nodePath("http://10.0.0.1:8080", "52:54:00:aa:00:01", "inventory")).toBe("http://10.0.0.1:8080/api/v1/nodes/52-54-00-aa-00-01/inventory");
  });

  it("takes only a 201 with an upload id as the acknowledgement", () => {
    expect(parseAck(ACK.kind === "answer" ? ACK.answer : { status: 0, body: "" })).toEqual({ id: "20261122T005145.002Z-0a1b2c3d", entries: 21, bytes: 7455 });
    expect(() => parseAck({ status: 200, body: '{"id":"x","entries":1,"bytes":1}' })).toThrow(/answered 200 without an upload id/);
    expect(() => parseAck({ status: 201, body: "stored" })).toThrow(/without an upload id/);
  });
});
