/**
 * Mounts an earlier build left behind. kiwi bind-mounts /proc, /sys, /dev and its cache into the image
 * root while it runs; a kiwi killed by a power cut, an OOM kill or SIGKILL never unmounts them, and the
 * next build's `rm -r` of that root then fails with EBUSY (seen here: five mounts left by a kiwi killed
 * at "Calling config.sh"). Pure parser (`/proc/self/mountinfo`) and plan, then `umount` per mount point,
 * deepest first; through the runner, never a shell.
 */
import { readFile } from "node:fs/promises";
import { ReconError } from "../lib/errors.js";
import { runChecked, type CommandRunner } from "../lib/run.js";
import { umountArgs } from "./ext4.js";

/** mountinfo escapes space, tab, newline and backslash as octal (proc(5)). */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** The mount points in a mountinfo text (field 5), in the kernel's order. */
export function parseMountPoints(mountinfo: string): string[] {
  return mountinfo
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((field): field is string => field !== undefined && field !== "")
    .map(unescapeMountPath);
}

/** The mount points at or below `dir`, deepest first (so each umount finds nothing mounted below it). */
export function mountsBelow(mountPoints: readonly string[], dir: string): string[] {
  const base = dir.replace(/\/+$/, "");
  const below = mountPoints.filter((point) => point === base || point.startsWith(`${base}/`));
  return [...new Set(below)].sort((a, b) => b.split("/").length - a.split("/").length || b.localeCompare(a));
}

/**
 * Unmounts what is mounted at or below `dir` (an absolute path) and returns those mount points. A mount
 * that will not go is a BUILD_LEFTOVER error naming it and how to clear it; nothing is removed then.
 */
export async function unmountLeftovers(runner: CommandRunner, dir: string, mountinfoPath = "/proc/self/mountinfo"): Promise<string[]> {
  const points = mountsBelow(parseMountPoints(await readFile(mountinfoPath, "utf8")), dir);
  for (const point of points) {
    try {
      await runChecked(runner, "umount", umountArgs(point), { hint: `unmount it by hand: umount -R ${dir}` });
    } catch (cause) {
      throw new ReconError("BUILD_LEFTOVER", `${point} is still mounted from an earlier build (a kiwi that was killed) and could not be unmounted`, {
        hint: `make sure no kiwi-ng runs for this build dir, then: umount -R ${dir}`,
        cause,
      });
    }
  }
  return points;
}
