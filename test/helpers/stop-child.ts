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
