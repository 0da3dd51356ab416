/** Ending a child this process started: by its PID only, SIGTERM then SIGKILL, then reaped. */

/** Sends `signal` to `pid`; false when it is already gone. */
export function signalPid(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, SIGKILL after `graceMs`, and resolves once `finished` (the child's promise) settles. */
export async function terminateChild(pid: number, finished: Promise<unknown>, graceMs = 5000): Promise<void> {
  signalPid(pid, "SIGTERM");
  const timer = setTimeout(() => signalPid(pid, "SIGKILL"), graceMs);
  await finished;
  clearTimeout(timer);
}
