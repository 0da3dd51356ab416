/**
 * util-linux flock(1) as a lock holder: `flock --exclusive --nonblock FILE cat` takes the
 * kernel's advisory lock on FILE and then runs `cat`, whose stdin is a pipe from this process.
 * The kernel lock lives exactly as long as that pipe: when this process ends in any way (exit,
 * SIGKILL, a power cut that ends every process) the pipe closes, cat sees end of file, and the
 * lock is gone. Nothing on disk is trusted (docs/decisions.md, "Locks"): a PID from an earlier
 * boot or another PID namespace cannot make the lock look held.
 *
 * Node has no flock(2) of its own; a native addon would not go into the image's one-file bundle.
 */
import { execa, type ResultPromise } from "execa";

/** flock exits with this when the lock is held by someone else (EX_TEMPFAIL). */
export const FLOCK_CONFLICT_EXIT = 75;

/** Pure: the argv that holds `path` locked for as long as cat's stdin stays open. */
export function flockHoldArgs(path: string): string[] {
  return ["--exclusive", "--nonblock", "--conflict-exit-code", String(FLOCK_CONFLICT_EXIT), path, "cat"];
}

export type FlockAttempt = { held: true; holder: FlockHolder } | { held: false; reason: "conflict" } | { held: false; reason: "error"; message: string };

export interface FlockHolder {
  pid: number | undefined;
  /** Resolves when the holder ended (released, or killed by someone). */
  ended: Promise<void>;
  release(): Promise<void>;
}

/** One non-blocking attempt. Acquisition is proven by cat echoing a line written to its stdin. */
export async function tryFlock(path: string, timeoutMs = 10_000): Promise<FlockAttempt> {
  const child: ResultPromise = execa("flock", flockHoldArgs(path), { stdin: "pipe", stdout: "pipe", stderr: "pipe", reject: false, buffer: false });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-2000);
  });
  const ended = child.then(
    () => undefined,
    () => undefined,
  );
  const outcome = await new Promise<"echoed" | "exited" | "timeout">((resolve) => {
    const timer = setTimeout(() => resolve("timeout"), timeoutMs);
    child.stdout?.on("data", () => {
      clearTimeout(timer);
      resolve("echoed");
    });
    void ended.then(() => {
      clearTimeout(timer);
      resolve("exited");
    });
    child.stdin?.write("held\n");
  });
  if (outcome === "echoed") {
    // From here on cat's output is not needed; keep reading so it can never block on a full pipe.
    child.stdout?.resume();
    return {
      held: true,
      holder: {
        pid: child.pid,
        ended,
        async release() {
          child.stdin?.end();
          const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
          await ended;
          clearTimeout(timer);
        },
      },
    };
  }
  if (outcome === "timeout") {
    child.stdin?.destroy();
    child.kill("SIGKILL");
    await ended;
    return { held: false, reason: "error", message: `flock did not answer within ${timeoutMs} ms` };
  }
  const result = await child;
  if (result.exitCode === FLOCK_CONFLICT_EXIT) return { held: false, reason: "conflict" };
  return { held: false, reason: "error", message: `flock exited with ${String(result.exitCode ?? result.signal)}: ${stderr.trim()}` };
}
