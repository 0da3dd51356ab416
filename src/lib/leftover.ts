/**
 * A server recon started in an earlier run that outlived it (recon killed with -9: its children
 * are not told). It is found only through the pid file recon itself wrote in its own run
 * directory, and ended only when /proc says that PID really is that program.
 */
import { readFile } from "node:fs/promises";
import type { Logger } from "./log.js";
import { processAlive } from "./lock-file.js";

export async function stopLeftover(pidFile: string, program: string, log: Logger, waitMs = 5000): Promise<boolean> {
  const pid = Number((await readFile(pidFile, "utf8").catch(() => "")).trim());
  if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid || !processAlive(pid)) return false;
  const comm = (await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "")).trim();
  if (comm !== program) return false;
  log.warn(`stopping a ${program} left over from an earlier run`, { pid, pidFile });
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + waitMs;
  while (processAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  if (processAlive(pid)) process.kill(pid, "SIGKILL");
  return true;
}
