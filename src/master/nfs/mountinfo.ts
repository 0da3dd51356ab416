/**
 * /proc/self/mountinfo (proc(5)), parsed (pure): which mount points are mounted, with what. The NFS
 * root transport (master-nfs.ts) reads it at start, so a master process restarted after a crash
 * finds its image mounts of the earlier run (they outlive the process, not a reboot) and reuses or
 * unmounts them instead of stacking a second set.
 */

export interface MountEntry {
  mountId: number;
  parentId: number;
  /** The mount point, with mountinfo's octal escapes (\040 for a space) undone. */
  mountPoint: string;
  fsType: string;
  /** The mount source: a device (/dev/loop3, /dev/sdb), or a name such as nfsd, proc, tmpfs. */
  source: string;
  /** Per-mount options (ro, rw, relatime…). */
  options: string[];
}

/** mountinfo escapes space, tab, newline and backslash as \ooo (the kernel's seq_file mangle). */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * Every well-formed line, in the file's order (a later line for the same mount point is mounted
 * over an earlier one). Fields: id parent major:minor root mountpoint options [optional…] - fstype source super-options.
 */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(" ");
    const dash = fields.indexOf("-");
    if (dash < 6 || fields.length < dash + 3) continue;
    const mountId = Number(fields[0]);
    const parentId = Number(fields[1]);
    if (!Number.isInteger(mountId) || !Number.isInteger(parentId)) continue;
    entries.push({
      mountId,
      parentId,
      mountPoint: unescape(fields[4]!),
      fsType: fields[dash + 1]!,
      source: unescape(fields[dash + 2]!),
      options: fields[5]!.split(","),
    });
  }
  return entries;
}

/** What is visible at `mountPoint` now: the last mount on it, or undefined. */
export function mountedAt(entries: readonly MountEntry[], mountPoint: string): MountEntry | undefined {
  return entries.filter((entry) => entry.mountPoint === mountPoint).at(-1);
}
