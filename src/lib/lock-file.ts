/**
 * A lock that nothing on disk can fool: the kernel's flock on the lock file, held by a flock(1)
 * child whose life is tied to this process (./flock.ts). It is released when its holder ends in
 * any way — exit, SIGKILL, a power cut, a reboot — and it is never released by a PID that happens
 * to be alive: an earlier boot's PID, PID reuse or a fresh PID namespace cannot keep a master or a
 * build from starting, and two live holders on one file are still refused (flock locks are per
 * open file, across PID and mount namespaces of one kernel). docs/decisions.md ("Locks") says why.
 *
 * The file's content is only a note for humans and error messages (who holds it, since when); it
 * is never read to decide anything. The file is left in place on release: removing a lock file
 * races with a process that has just opened it.
 */
import { readFile, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { ReconError } from "./errors.js";
import { tryFlock, type FlockHolder } from "./flock.js";
import type { Logger } from "./log.js";
import { sleep } from "./abortable-sleep.js";

export interface HeldLock {
  /** Resolves if the lock was lost while held (its holder process was killed by someone). */
  lost: Promise<void>;
  release(): Promise<void>;
}

/** Whether a PID names a live process here (signal-0 probe). Says nothing about who it is. */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** What the lock file says about its holder: for messages only. */
export interface LockNote {
  pid: number;
  host: string;
  since: string;
  bootId?: string;
}

/** Pure: the note a holder writes; tolerant of the bare-PID files older recon versions wrote. */
export function parseLockNote(text: string): LockNote | undefined {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return { pid: Number(trimmed), host: "?", since: "?" };
  try {
    const note = JSON.parse(trimmed) as Partial<LockNote>;
    return typeof note.pid === "number" ? { pid: note.pid, host: String(note.host ?? "?"), since: String(note.since ?? "?"), bootId: note.bootId } : undefined;
  } catch {
    return undefined;
  }
}

function describeHolder(note: LockNote | undefined): string {
  return note === undefined ? "another process" : `process ${note.pid} on ${note.host} (since ${note.since})`;
}

async function bootId(): Promise<string | undefined> {
  return (await readFile("/proc/sys/kernel/random/boot_id", "utf8").catch(() => "")).trim() || undefined;
}

export async function acquireLock(
  path: string,
  options: { log: Logger; what: string; timeoutMs?: number; pollMs?: number; reportEveryMs?: number; hint?: string },
): Promise<HeldLock> {
  const timeoutMs = options.timeoutMs ?? 90 * 60_000;
  const pollMs = options.pollMs ?? 1000;
  const reportEveryMs = options.reportEveryMs ?? 30_000;
  const started = Date.now();
  let lastReport = -1;
  let holder: FlockHolder | undefined;
  for (;;) {
    // flock opens (and creates) the file itself.
    const attempt = await tryFlock(path);
    if (attempt.held) {
      holder = attempt.holder;
      break;
    }
    if (attempt.reason === "error") {
      throw new ReconError("IO", `cannot lock ${path} for ${options.what}: ${attempt.message}`, {
        hint: "is util-linux's flock installed, and is the directory writable?",
      });
    }
    const note = parseLockNote(await readFile(path, "utf8").catch(() => ""));
    const waited = Date.now() - started;
    if (waited >= timeoutMs) {
      throw new ReconError("LOCKED", `${options.what} is locked by ${describeHolder(note)}, still after ${Math.round(waited / 1000)} s (${path})`, {
        hint:
          options.hint ??
          "wait for that process to finish, or stop it; the lock is released by the kernel the moment it ends (even after kill -9 or a power cut)",
      });
    }
    if (lastReport < 0 || waited - lastReport >= reportEveryMs) {
      options.log.info("waiting for another process", { what: options.what, pid: note?.pid, lock: path, waitedSeconds: Math.round(waited / 1000) });
      lastReport = waited;
    }
    await sleep(pollMs);
  }
  const note: LockNote = { pid: process.pid, host: hostname(), since: new Date().toISOString(), bootId: await bootId() };
  await writeFile(path, `${JSON.stringify(note)}\n`);
  let released = false;
  const held = holder;
  const lost = new Promise<void>((resolve) => {
    void held.ended.then(() => {
      if (released) return;
      options.log.error("lock lost: its flock holder ended while the lock was in use", { what: options.what, lock: path, holderPid: held.pid });
      resolve();
    });
  });
  return {
    lost,
    async release() {
      released = true;
      await held.release();
    },
  };
}
