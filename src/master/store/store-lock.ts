/**
 * One master per store: start-up recovery empties tmp/, which would destroy the uploads a
 * second, running master has in flight. The lock is the kernel's (lib/lock-file.ts): it dies
 * with its holder, so a killed master, a power cut or a reboot never leaves it held.
 */
import { join } from "node:path";
import { isReconError, ReconError } from "../../lib/errors.js";
import { acquireLock, type HeldLock } from "../../lib/lock-file.js";
import type { Logger } from "../../lib/log.js";

export async function lockStore(rootDir: string, log: Logger): Promise<HeldLock> {
  return acquireLock(join(rootDir, "master.lock"), {
    log,
    what: `the store ${rootDir}`,
    timeoutMs: 0,
    hint: "another recon master runs on this data directory right now: stop it first (master.lock names it), or give this one another --data-dir",
  }).catch((error: unknown) => {
    if (isReconError(error) && error.code === "LOCKED") {
      throw new ReconError("LOCKED", `another recon master is using the store ${rootDir}: ${error.message}`, { hint: error.hint, exitCode: 3 });
    }
    throw error;
  });
}
