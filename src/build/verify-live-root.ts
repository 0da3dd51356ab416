/**
 * A finished DracutLive ISO is checked before it is recorded or cached: its root filesystem must
 * hold what a boot needs. Twice a kiwi-ng run here ended with exit 0 and an ISO whose
 * LiveOS/rootfs.img held only lost+found (ext4 made, rsync into it reported success, the image
 * empty): such an ISO boots to "Failed to execute /bin/sh: Exec format error" minutes later.
 * This check costs seconds (xorriso, unsquashfs of one file, debugfs: no mounts) and turns that
 * into a build failure that says what is missing.
 *
 * Argument builders and the debugfs parser are pure; the runner is the project's CommandRunner.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { ReconError } from "../lib/errors.js";
import { runChecked, type CommandRunner } from "../lib/run.js";
import { xorrisoExtractArgs } from "./xorriso.js";

/**
 * What a live root must hold for recon's appliance to start (symlinks count), and the first stages
 * the master serves UEFI peers from its own root (shim, then Debian's signed network GRUB as
 * grubx64.efi beside it, and the HTTP-capable one for UEFI HTTP boot), so an air-gapped site needs nothing
 * but the stick.
 */
export const REQUIRED_ROOT_PATHS = [
  "/sbin/init",
  "/usr/bin/sh",
  "/usr/bin/node",
  "/usr/bin/recon",
  "/usr/lib/recon/recon.mjs",
  "/etc/systemd/system/recon.service",
  "/usr/lib/shim/shimx64.efi.signed",
  "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed",
  // UEFI HTTP boot's second stage (master/boot-files/tftp-root.ts RECON_GRUB_HTTP), put in by describe.
  "/usr/lib/recon/grub-http/grubnetx64.efi.signed",
];

export function unsquashfsOneArgs(squashfs: string, dest: string, member: string): string[] {
  return ["-no-progress", "-quiet", "-d", dest, squashfs, member];
}

export function debugfsStatArgs(image: string, path: string): string[] {
  return ["-R", `stat ${path}`, image];
}

/** debugfs prints "Inode: N   Type: ..." for a path it found, an ext2_lookup error otherwise. */
export function debugfsFound(output: string): boolean {
  return /^Inode:\s+\d+/m.test(output) && !/File not found by ext2_lookup/.test(output);
}

export async function verifyLiveRoot(runner: CommandRunner, iso: string, workDir: string): Promise<void> {
  const dir = join(workDir, ".verify-live-root");
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  try {
    const squashfs = join(dir, "squashfs.img");
    await runChecked(runner, "xorriso", xorrisoExtractArgs(iso, [["/LiveOS/squashfs.img", squashfs]]), { hint: `${iso} has no readable /LiveOS/squashfs.img` });
    await runChecked(runner, "unsquashfs", unsquashfsOneArgs(squashfs, join(dir, "sq"), "LiveOS/rootfs.img"), { hint: `${iso}'s squashfs has no LiveOS/rootfs.img` });
    const rootfs = join(dir, "sq", "LiveOS", "rootfs.img");
    const missing: string[] = [];
    for (const path of REQUIRED_ROOT_PATHS) {
      const result = await runner.run("debugfs", debugfsStatArgs(rootfs, path));
      if (!debugfsFound(result.stdout + result.stderr)) missing.push(path);
    }
    if (missing.length > 0) {
      const listing = await runner.run("debugfs", ["-R", "ls /", rootfs]);
      throw new ReconError("KIWI_FAILED", `kiwi-ng built ${iso}, but its root filesystem (LiveOS/rootfs.img) lacks ${missing.join(", ")}; its top level holds: ${listing.stdout.replace(/\s+/g, " ").trim().slice(0, 300)}`, {
        hint: "the image is not recorded or cached; build again (FORCE=1). If it repeats, look in the kiwi log for the 'Syncing data to ext4 root image' step and for other processes using loop devices at that time",
      });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
