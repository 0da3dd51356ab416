/**
 * The live root's inner layer, LiveOS/rootfs.img (ext4): dumpe2fs (what kiwi-ng made), mkfs.ext4
 * (the same again from a directory, `-d`, no mount), and a read-only loop mount to copy the tree
 * out (the host kernel has ext4 and loop devices; docs/lab-facts.md). Argument builders and the
 * parser are pure; the runner is the project's CommandRunner.
 */
import { ReconError } from "../lib/errors.js";
import { runChecked, type CommandRunner } from "../lib/run.js";

export interface Ext4Geometry {
  /** The volume name, or undefined for `<none>`. */
  label: string | undefined;
  blockSizeBytes: number;
  blockCount: number;
  inodeCount: number;
  freeBlocks: number;
  freeInodes: number;
  features: string[];
}

export function dumpe2fsHeaderArgs(image: string): string[] {
  return ["-h", image];
}

function field(output: string, name: string): string | undefined {
  return new RegExp(`^${name}:\\s*(.*)$`, "m").exec(output)?.[1]?.trim();
}

/** Parses `dumpe2fs -h` (e2fsprogs 1.47): the fields a rebuild of the same filesystem needs. */
export function parseDumpe2fsHeader(output: string): Ext4Geometry {
  const numbers = ["Block size", "Block count", "Inode count", "Free blocks", "Free inodes"].map((n) => Number(field(output, n)));
  if (numbers.some((n) => !Number.isFinite(n) || n <= 0)) {
    throw new ReconError("COMMAND_FAILED", `dumpe2fs -h printed no ext4 geometry: ${output.slice(0, 200)}`, {
      hint: "the file is not an ext2/3/4 image: check it with dumpe2fs -h",
    });
  }
  const label = field(output, "Filesystem volume name");
  const [blockSizeBytes, blockCount, inodeCount, freeBlocks, freeInodes] = numbers as [number, number, number, number, number];
  return {
    label: label === undefined || label === "<none>" ? undefined : label,
    blockSizeBytes,
    blockCount,
    inodeCount,
    freeBlocks,
    freeInodes,
    features: (field(output, "Filesystem features") ?? "").split(/\s+/).filter(Boolean),
  };
}

/**
 * The size of a new root filesystem for a tree of `usedBytes` and `files` entries: never smaller
 * than kiwi's original, and with a quarter more than the tree (ext4's metadata and journal, and
 * room for what a shell session added) in whole 4 MiB steps; inodes the same way.
 */
export function planRootFilesystem(original: Ext4Geometry, usedBytes: number, files: number): { blocks: number; inodes: number } {
  const step = (4 * 1024 * 1024) / original.blockSizeBytes;
  const wanted = Math.ceil((usedBytes * 1.25 + 256 * 1024 * 1024) / original.blockSizeBytes);
  const blocks = Math.ceil(Math.max(original.blockCount, wanted) / step) * step;
  const inodes = Math.max(original.inodeCount, Math.ceil(files * 1.5) + 16_384);
  return { blocks, inodes };
}

export function mkfsExt4Args(image: string, fromDir: string, geometry: Pick<Ext4Geometry, "label" | "blockSizeBytes">, plan: { blocks: number; inodes: number }): string[] {
  return [
    "-F",
    "-q",
    ...(geometry.label ? ["-L", geometry.label] : []),
    "-b",
    String(geometry.blockSizeBytes),
    "-N",
    String(plan.inodes),
    "-d",
    fromDir,
    image,
    String(plan.blocks),
  ];
}

export function loopMountReadOnlyArgs(image: string, dir: string): string[] {
  return ["-o", "loop,ro", "-t", "ext4", image, dir];
}

export function umountArgs(dir: string): string[] {
  return [dir];
}

export async function readExt4Geometry(runner: CommandRunner, image: string): Promise<Ext4Geometry> {
  const result = await runChecked(runner, "dumpe2fs", dumpe2fsHeaderArgs(image), { hint: `${image} is not a readable ext4 image` });
  return parseDumpe2fsHeader(result.stdout);
}

/** Mounts `image` read-only at `dir`, runs `body`, and unmounts even when it fails. */
export async function withReadOnlyMount<T>(runner: CommandRunner, image: string, dir: string, body: () => Promise<T>): Promise<T> {
  await runChecked(runner, "mount", loopMountReadOnlyArgs(image, dir), {
    hint: "a loop mount needs root and a free loop device (losetup -f)",
  });
  try {
    return await body();
  } finally {
    await runChecked(runner, "umount", umountArgs(dir), { hint: `unmount ${dir} by hand (umount ${dir})` });
  }
}
