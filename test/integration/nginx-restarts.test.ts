/**
 * superviseNginx's restart window with a real child process: a stand-in for nginx (a script that
 * runs 100 ms and exits 1, the way a crashing nginx would) and an injected clock. Crashes spread
 * over time never stop the master; too many within the window do (issue #9 item 10).
 */
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isReconError } from "../../src/lib/errors.js";
import { createLogger } from "../../src/lib/log.js";
import { execaRunner } from "../../src/lib/run.js";
import { superviseNginx } from "../../src/master/http/nginx.js";

let work: string;
let crashing: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-nginx-restarts-"));
  crashing = join(work, "nginx");
  await writeFile(crashing, "#!/bin/sh\nsleep 0.1\necho 'nginx: [emerg] stand-in crash' >&2\nexit 1\n");
  await chmod(crashing, 0o755);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function supervise(now: () => number, signal: AbortSignal) {
  const lines: string[] = [];
  const run = superviseNginx({
    runner: execaRunner,
    confFile: join(work, "nginx.conf"),
    log: createLogger({}, { write: (line) => lines.push(line) }),
    signal,
    probe: async () => true,
    restarts: { maxRestarts: 2, windowMs: 60_000 },
    now,
    binary: crashing,
  });
  return { run, lines, restarts: () => lines.filter((line) => line.includes('msg="nginx exited; restarting"')).length };
}

describe("superviseNginx restart window", () => {
  it("keeps restarting when the crashes are further apart than the window (5 restarts, limit 2 per minute)", async () => {
    let clock = 0;
    const stop = new AbortController();
    // Each reading is 20 minutes after the last: every restart is alone in its window.
    const { run, lines, restarts } = supervise(() => (clock += 20 * 60_000), stop.signal);
    await run.ready;
    const deadline = Date.now() + 20_000;
    let failed: unknown;
    run.done.catch((error: unknown) => (failed = error));
    while (restarts() < 5 && failed === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    stop.abort();
    await run.done;
    expect(failed).toBeUndefined();
    expect(restarts(), lines.join("")).toBeGreaterThanOrEqual(5);
    expect(lines.join("")).toMatch(/restartsInWindow=1 windowMin=1 delayMs=500/);
    expect(lines.join("")).not.toMatch(/restartsInWindow=2/);
  });

  it("gives up on the third exit within the window and says so", async () => {
    const stop = new AbortController();
    const started = Date.now();
    const { run, lines, restarts } = supervise(() => 1000, stop.signal);
    await run.ready;
    const error = await run.done.then(
      () => undefined,
      (e: unknown) => e,
    );
    stop.abort();
    expect(isReconError(error) && error.code).toBe("NGINX_FAILED");
    expect((error as Error).message).toBe("nginx exited 3 times within 1 min; giving up");
    expect(restarts(), lines.join("")).toBe(2);
    expect(lines.join("")).toContain("stand-in crash");
    // 3 runs of 0.1 s and backoffs of 0.5 s and 1 s, well below the 20 s bound.
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
