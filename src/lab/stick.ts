/**
 * The lab master's USB stick: a writable copy of the recon ISO, grown to `sizeBytes`, with the
 * RECON_DATA partition already appended (as an admin would after the first boot) holding the
 * site config and BMC password files. The master finds the partition by its label and mounts it
 * at /var/lib/recon, so it reads <data>/site.yaml like on any stick (src/cli.ts boot case).
 *
 * Built without loop devices or mounts: `mkfs.ext4 -d` fills a filesystem image from a staging
 * directory, sfdisk appends the partition to the image's MBR (aligned to 1 MiB like
 * data-partition.ts does on a real stick), dd writes the filesystem into place.
 */
import { chmod, copyFile, mkdir, rm, truncate, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ReconError } from "../lib/errors.js";
import { runChecked, type CommandRunner } from "../lib/run.js";
import { DATA_LABEL, MIN_DATA_BYTES, parseSfdiskJson } from "../master/store/data-partition.js";

export interface StickFile {
  /** Path inside the data partition, e.g. `site.yaml` or `bmc/peer1.password`. */
  path: string;
  content: string;
  mode: number;
}

export interface StickOptions {
  iso: string;
  stick: string;
  sizeBytes: number;
  files: StickFile[];
  /** Fills more of the data partition's staging directory (e.g. an image tree under images/). */
  populate?: (staging: string) => Promise<void>;
}

const MIB = 1024 * 1024;

/** First sector of the data partition: after the last partition, aligned to 1 MiB (pure). */
export function dataPartitionStart(partitions: Array<{ start: number; size: number }>, sectorSize: number): number {
  const end = Math.max(0, ...partitions.map((p) => p.start + p.size));
  const alignment = MIB / sectorSize;
  return Math.ceil(end / alignment) * alignment;
}

export async function prepareLabStick(runner: CommandRunner, options: StickOptions): Promise<{ dataStartBytes: number }> {
  const work = `${options.stick}.data`;
  const staging = join(work, "root");
  const image = join(work, "data.ext4");
  await rm(work, { recursive: true, force: true });
  // The data partition's root, as mkfs.ext4 gives a real stick: 0755, so the master's boot services
  // (nobody) reach images/; what is secret in it (site.yaml, BMC passwords) is 0600 in 0700 directories.
  await mkdir(staging, { recursive: true, mode: 0o755 });
  await chmod(staging, 0o755);
  try {
    await copyFile(options.iso, options.stick);
    await truncate(options.stick, options.sizeBytes);
    const table = parseSfdiskJson((await runChecked(runner, "sfdisk", ["--json", options.stick])).stdout);
    if (table.label !== "dos") throw new ReconError("IO", `${options.iso} has a ${table.label} partition table, not the hybrid ISO's MBR`);
    const start = dataPartitionStart(table.partitions, table.sectorsize);
    const startBytes = start * table.sectorsize;
    const dataBytes = options.sizeBytes - startBytes;
    if (dataBytes < MIN_DATA_BYTES) throw new ReconError("USAGE", `a ${options.sizeBytes} byte stick leaves only ${dataBytes} bytes after the ISO`);
    for (const file of options.files) {
      const path = join(staging, file.path);
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      await writeFile(path, file.content, { mode: file.mode });
      await chmod(path, file.mode);
    }
    await options.populate?.(staging);
    await runChecked(runner, "mkfs.ext4", ["-q", "-F", "-L", DATA_LABEL, "-d", staging, image, `${Math.floor(dataBytes / 1024)}k`]);
    await runChecked(runner, "sfdisk", ["--append", "--no-reread", "--no-tell-kernel", options.stick], { input: `start=${start}, type=83\n` });
    await runChecked(runner, "dd", [`if=${image}`, `of=${options.stick}`, "bs=1M", `seek=${startBytes / MIB}`, "conv=notrunc,sparse", "status=none"]);
    return { dataStartBytes: startBytes };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
