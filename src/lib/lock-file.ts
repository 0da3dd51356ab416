/**
 * A lock file holding its owner's PID: taken with O_EXCL, removed by its owner, and taken over
 * when the PID it names is gone (a build killed with -9 leaves its file behind). Waiting is
 * bounded and logged, so a second `make-recipe-target` says what it waits for.
 */
import { open, readFile, rm } from "node:fs/promises";
import { ReconError } from "./errors.js";
import type { Logger } from "./log.js";

export interface HeldLock {
  release(): Promise<void>;
}

/** Whether a PID names a live process (pure apart from the signal-0 probe). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function acquireLock(
  path: string,
  options: { log: Logger; what: string; timeoutMs?: number; pollMs?: number; reportEveryMs?: number },
): Promise<HeldLock> {
  const timeoutMs = options.timeoutMs ?? 90 * 60_000;
  const pollMs = options.pollMs ?? 1000;
  const reportEveryMs = options.reportEveryMs ?? 30_000;
  const started = Date.now();
  let lastReport = 0;
  for (;;) {
    try {
      const handle = await open(path, "wx", 0o644);
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      return {
        async release() {
          const owner = Number((await readFile(path, "utf8").catch(() => "")).trim());
          if (owner === process.pid) await rm(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = Number((await readFile(path, "utf8").catch(() => "")).trim());
    if (!processAlive(owner)) {
      // The owner died without cleaning up (or wrote nothing yet: give it one poll).
      if (owner > 0 || Date.now() - started > 5 * pollMs) {
        options.log.warn("removing a stale lock", { lock: path, pid: owner || undefined });
        await rm(path, { force: true });
        continue;
      }
    }
    const waited = Date.now() - started;
    if (waited > timeoutMs) {
      throw new ReconError("IO", `${options.what} is still locked by process ${owner} after ${Math.round(waited / 1000)} s (${path})`, {
        hint: `wait for that process to finish, or stop it; the lock is removed automatically once it is gone`,
      });
    }
    if (waited - lastReport >= reportEveryMs || lastReport === 0) {
      options.log.info("waiting for another process", { what: options.what, pid: owner, lock: path, waitedSeconds: Math.round(waited / 1000) });
      lastReport = waited || 1;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
