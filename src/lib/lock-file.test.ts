import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireLock, processAlive } from "./lock-file.js";
import { createLogger } from "./log.js";

let dir: string;
let lines: string[];
const log = () => createLogger({}, { write: (line) => lines.push(line) });
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "recon-lock-"));
  lines = [];
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("acquireLock", () => {
  it("holds the lock with our PID and removes it on release", async () => {
    const path = join(dir, "x.lock");
    const lock = await acquireLock(path, { log: log(), what: "x" });
    expect((await readFile(path, "utf8")).trim()).toBe(String(process.pid));
    await lock.release();
    await expect(readFile(path)).rejects.toThrow(/ENOENT/);
  });

  it("makes a second taker wait until the first releases, and says so", async () => {
    const path = join(dir, "x.lock");
    const first = await acquireLock(path, { log: log(), what: "the build dir", pollMs: 20 });
    let secondHeld = false;
    const second = acquireLock(path, { log: log(), what: "the build dir", pollMs: 20 }).then((held) => {
      secondHeld = true;
      return held;
    });
    await new Promise((r) => setTimeout(r, 150));
    expect(secondHeld).toBe(false);
    expect(lines.join("\n")).toMatch(/msg="waiting for another process" what="the build dir" pid=\d+/);
    await first.release();
    await (await second).release();
    expect(secondHeld).toBe(true);
  });

  it("takes over a lock whose owner is gone", async () => {
    const gone = spawnSync("true").pid!;
    expect(processAlive(gone)).toBe(false);
    const path = join(dir, "x.lock");
    await writeFile(path, `${gone}\n`);
    const lock = await acquireLock(path, { log: log(), what: "x", pollMs: 10 });
    expect(lines.join("\n")).toContain("removing a stale lock");
    await lock.release();
  });

  it("gives up after its time limit with the owner's PID in the error", async () => {
    const path = join(dir, "x.lock");
    await writeFile(path, `${process.pid}\n`);
    await expect(acquireLock(path, { log: log(), what: "x", pollMs: 10, timeoutMs: 50 })).rejects.toThrow(`still locked by process ${process.pid}`);
  });
});
