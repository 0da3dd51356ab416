/**
 * A server recon started in an earlier run that outlived it (recon killed with -9: its children
 * are not told). It is found only through the pid file recon itself wrote in its own run
 * directory, and ended only when /proc says that PID really is that program.
 */
import { readdir, readFile, readlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Logger } from "./log.js";
import { processAlive } from "./lock-file.js";
import { sleep } from "./abortable-sleep.js";

export async function stopLeftover(pidFile: string, program: string, log: Logger, waitMs = 5000): Promise<boolean> {
  const pid = Number((await readFile(pidFile, "utf8").catch(() => "")).trim());
  if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid || !processAlive(pid)) return false;
  const comm = (await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "")).trim();
  if (comm !== program) return false;
  log.warn(`stopping a ${program} left over from an earlier run`, { pid, pidFile });
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + waitMs;
  while (processAlive(pid) && Date.now() < deadline) await sleep(50);
  if (processAlive(pid)) process.kill(pid, "SIGKILL");
  return true;
}

/**
 * Processes named `program` whose working directory is `dir`: how recon recognises the workers
 * of an nginx it started in an earlier run (its conf sets `working_directory` to recon's run
 * dir). nginx's workers outlive a master killed with SIGKILL, keep the listening socket and
 * answer with a dead upstream; their pid is in no file. Only this PID namespace's /proc is seen.
 */
export async function findByWorkingDir(program: string, dir: string, procRoot = "/proc"): Promise<number[]> {
  const wanted = resolve(dir);
  const found: number[] = [];
  for (const name of await readdir(procRoot).catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const comm = (await readFile(join(procRoot, name, "comm"), "utf8").catch(() => "")).trim();
    if (comm !== program) continue;
    const cwd = await readlink(join(procRoot, name, "cwd")).catch(() => "");
    if (cwd === wanted) found.push(pid);
  }
  return found;
}

/** Ends the given processes: SIGTERM, at most `waitMs` for all of them, then SIGKILL. */
export async function endProcesses(pids: number[], waitMs = 5000): Promise<void> {
  const signal = (pid: number, name: NodeJS.Signals) => {
    try {
      process.kill(pid, name);
    } catch {
      // already gone
    }
  };
  for (const pid of pids) signal(pid, "SIGTERM");
  const deadline = Date.now() + waitMs;
  while (pids.some(processAlive) && Date.now() < deadline) await sleep(50);
  for (const pid of pids.filter(processAlive)) signal(pid, "SIGKILL");
}

/** The orphaned workers of an nginx recon started with `working_directory dir`, ended. */
export async function stopLeftoverWorkers(program: string, dir: string, log: Logger): Promise<number[]> {
  const pids = await findByWorkingDir(program, dir);
  if (pids.length === 0) return [];
  log.warn(`stopping ${program} processes left over from an earlier run`, { pids: pids.join(","), dir });
  await endProcesses(pids);
  return pids;
}

/**
 * Whether the program whose pid file this is still runs. A missing or empty pid file says nothing
 * (true: not known to be dead); a PID that is gone or is another program says it died.
 */
export async function programRuns(pidFile: string, program: string): Promise<boolean> {
  const pid = Number((await readFile(pidFile, "utf8").catch(() => "")).trim());
  if (!Number.isInteger(pid) || pid <= 0) return true;
  if (!processAlive(pid)) return false;
  return (await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "")).trim() === program;
}
