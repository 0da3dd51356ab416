import { readFile } from "node:fs/promises";
import type { ResultPromise } from "execa";

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/**
 * Ends a child this test started, by its PID: SIGTERM, at most `graceMs` for it to exit, then
 * SIGKILL and at most 5 s more. Resolves either way (bounded).
 */
export async function stopChild(child: ResultPromise, graceMs = 5000): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  let exited = false;
  const done = child.then(
    () => (exited = true),
    () => (exited = true),
  );
  signal(pid, "SIGTERM");
  await Promise.race([done, new Promise((r) => setTimeout(r, graceMs))]);
  if (exited) return;
  signal(pid, "SIGKILL");
  await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
}

/** The PID's /proc comm, or undefined when no such process (or a zombie) exists. */
async function liveComm(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  if (stat === undefined || /^\d+ \(.*\) Z /.test(stat)) return undefined;
  return (await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "")).trim();
}

/**
 * Ends a process that is not this test's child (a grandchild whose PID a file recorded), only
 * when /proc says it is `program`: SIGTERM, at most `graceMs`, then SIGKILL. Bounded.
 */
export async function stopPid(pid: number, program: string, graceMs = 5000): Promise<boolean> {
  if (pid === process.pid || (await liveComm(pid)) !== program) return false;
  signal(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while ((await liveComm(pid)) !== undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if ((await liveComm(pid)) !== undefined) signal(pid, "SIGKILL");
  return true;
}
