/**
 * squashfs-tools (unsquashfs, mksquashfs): argument builders, the superblock parser and a runner
 * that shows progress. The live root's outer layer is LiveOS/squashfs.img; `repack` writes it
 * again with the compression and block size read from the image kiwi-ng built.
 */
import { stat } from "node:fs/promises";
import { ReconError } from "../lib/errors.js";
import type { Logger } from "../lib/log.js";
import { runChecked, type CommandRunner } from "../lib/run.js";
import { formatDuration } from "./kiwi.js";

export interface SquashfsSuperblock {
  compression: string;
  blockSizeBytes: number;
  /** Bytes of the filesystem as unsquashfs reports it. */
  sizeBytes: number;
}

export function unsquashfsStatArgs(image: string): string[] {
  return ["-s", image];
}

/** Parses `unsquashfs -s` ("Compression zstd", "Block size 131072", "Filesystem size 242.08 Kbytes …"). */
export function parseSquashfsSuperblock(output: string): SquashfsSuperblock {
  const compression = /^Compression (\S+)/m.exec(output)?.[1];
  const blockSize = /^Block size (\d+)/m.exec(output)?.[1];
  const size = /^Filesystem size [\d.]+ Kbytes \(([\d.]+) Mbytes\)/m.exec(output)?.[1] ?? /^Filesystem size (\d+) bytes/m.exec(output)?.[1];
  if (!compression || !blockSize) {
    throw new ReconError("COMMAND_FAILED", `unsquashfs -s printed no compression or block size: ${output.slice(0, 200)}`, {
      hint: "the file is not a squashfs image (or squashfs-tools is too old): check it with unsquashfs -s",
    });
  }
  const sizeBytes = size === undefined ? 0 : size.includes(".") ? Math.round(Number(size) * 1024 * 1024) : Number(size);
  return { compression, blockSizeBytes: Number(blockSize), sizeBytes };
}

/**
 * kiwi-ng's own call (kiwi/filesystem/squashfs.py): `-noappend -b <block size> -comp <c>`, and
 * for xz the x86 BCJ filter. The superblock gives the compression and block size back.
 */
export function mksquashfsArgs(sourceDir: string, image: string, superblock: Pick<SquashfsSuperblock, "compression" | "blockSizeBytes">): string[] {
  const args = [sourceDir, image, "-noappend", "-no-progress", "-b", String(superblock.blockSizeBytes), "-comp", superblock.compression];
  if (superblock.compression === "xz") args.push("-Xbcj", "x86");
  return args;
}

export async function readSquashfsSuperblock(runner: CommandRunner, image: string): Promise<SquashfsSuperblock> {
  const result = await runChecked(runner, "unsquashfs", unsquashfsStatArgs(image), { hint: `${image} is not a readable squashfs image` });
  return parseSquashfsSuperblock(result.stdout);
}

/**
 * Runs a long tool and logs, every `everyMs`, the elapsed time and how large its output file has
 * grown (mksquashfs's own progress bar is no log line).
 */
export async function runWithGrowthProgress(
  runner: CommandRunner,
  command: string,
  args: string[],
  output: string,
  log: Logger,
  what: { step: string; hint: string; everyMs?: number; now?: () => number },
): Promise<void> {
  const now = what.now ?? Date.now;
  const started = now();
  const timer = setInterval(() => {
    void stat(output).then(
      (s) => log.info("progress", { step: what.step, elapsed: formatDuration(now() - started), written_mb: Math.round(s.size / 1048576) }),
      () => log.info("progress", { step: what.step, elapsed: formatDuration(now() - started) }),
    );
  }, what.everyMs ?? 10_000);
  try {
    await runChecked(runner, command, args, { hint: what.hint });
  } finally {
    clearInterval(timer);
  }
}
