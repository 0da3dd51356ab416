import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireLock, parseLockNote } from "./lock-file.js";
import { createLogger } from "./log.js";

const LOCK_MODULE = fileURLToPath(new URL("./lock-file.ts", import.meta.url));
let dir: string;
let lines: string[];
let children: ChildProcess[];
const log = () => createLogger({}, { write: (line) => lines.push(line) });
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "recon-lock-"));
  lines = [];
  children = [];
});
afterEach(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

/** Another process (a real one, as another master or build would be) that takes the lock and says so. */
async function holdInChild(path: string): Promise<ChildProcess> {
  const code = `import { acquireLock } from ${JSON.stringify(LOCK_MODULE)};
import { createLogger } from ${JSON.stringify(fileURLToPath(new URL("./log.ts", import.meta.url)))};
await acquireLock(${JSON.stringify(path)}, { log: createLogger({}, { write() {} }), what: "child" });
console.log("held");
setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child did not take the lock in 20 s: ${stderr}`)), 20_000);
    child.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("held")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}) before taking the lock: ${stderr}`));
    });
  });
  return child;
}

describe("acquireLock", () => {
  it("holds the lock, notes the holder in the file and can be taken again after release", async () => {
    const path = join(dir, "x.lock");
    const lock = await acquireLock(path, { log: log(), what: "x" });
    expect(parseLockNote(await readFile(path, "utf8"))).toMatchObject({ pid: process.pid });
    await expect(acquireLock(path, { log: log(), what: "x", timeoutMs: 0 })).rejects.toThrow(`locked by process ${process.pid}`);
    await lock.release();
    await (await acquireLock(path, { log: log(), what: "x", timeoutMs: 0 })).release();
  });

  it("makes a second taker wait until the first releases, and says so", async () => {
    const path = join(dir, "x.lock");
    const first = await acquireLock(path, { log: log(), what: "the build dir", pollMs: 20 });
    let secondHeld = false;
    const second = acquireLock(path, { log: log(), what: "the build dir", pollMs: 20 }).then((held) => {
      secondHeld = true;
      return held;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(secondHeld).toBe(false);
    expect(lines.join("\n")).toMatch(/msg="waiting for another process" what="the build dir" pid=\d+/);
    await first.release();
    await (await second).release();
    expect(secondHeld).toBe(true);
  });

  it("is not fooled by a file naming a live PID from an earlier boot (the PID-reuse bug)", async () => {
    // The earlier boot's master was PID 763; in this boot that PID (here: PID 1 and our own) is
    // some other live process. Neither the old bare-PID format nor the JSON note may hold it.
    const path = join(dir, "master.lock");
    for (const content of ["1\n", `${process.pid}\n`, `${JSON.stringify({ pid: 1, host: "x", since: "2026-01-01T00:00:00Z" })}\n`]) {
      await writeFile(path, content);
      const lock = await acquireLock(path, { log: log(), what: "x", timeoutMs: 0 });
      await lock.release();
    }
  });

  it("refuses while another live process holds it, naming that process, and gives up at its time limit", async () => {
    const path = join(dir, "x.lock");
    const child = await holdInChild(path);
    const started = Date.now();
    await expect(acquireLock(path, { log: log(), what: "the store", pollMs: 20, timeoutMs: 200 })).rejects.toThrow(
      `the store is locked by process ${child.pid}`,
    );
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("is free the moment its holder is killed with SIGKILL (no clean-up ran)", async () => {
    const path = join(dir, "x.lock");
    const child = await holdInChild(path);
    await expect(acquireLock(path, { log: log(), what: "x", timeoutMs: 0 })).rejects.toThrow(/locked by/);
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    // The holder's cat sees end of file and ends; allow it a moment, bounded.
    const lock = await acquireLock(path, { log: log(), what: "x", pollMs: 20, timeoutMs: 3000 });
    await lock.release();
  });

  it("reports a lost lock when its holder process is killed by someone else", async () => {
    const path = join(dir, "x.lock");
    const lock = await acquireLock(path, { log: log(), what: "x" });
    const holders = (await readFile("/proc/self/task/" + process.pid + "/children", "utf8").catch(() => "")).trim().split(/\s+/).map(Number);
    const flock = [];
    for (const pid of holders) if ((await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "")).trim() === "flock") flock.push(pid);
    expect(flock.length).toBeGreaterThanOrEqual(1);
    for (const pid of flock) process.kill(pid, "SIGKILL");
    await Promise.race([lock.lost, new Promise((_, reject) => setTimeout(() => reject(new Error("lost not reported in 5 s")), 5000))]);
    expect(lines.join("\n")).toContain("lock lost");
  });
});

describe("parseLockNote", () => {
  it("reads the JSON note and the bare PID of older versions, and nothing else", () => {
    expect(parseLockNote('{"pid":12,"host":"m","since":"t","bootId":"b"}\n')).toEqual({ pid: 12, host: "m", since: "t", bootId: "b" });
    expect(parseLockNote("763\n")).toEqual({ pid: 763, host: "?", since: "?" });
    expect(parseLockNote("")).toBeUndefined();
    expect(parseLockNote("garbage")).toBeUndefined();
  });
});
