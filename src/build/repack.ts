/**
 * `repack`: the live ISO again from the hand-changed root tree (image-root.ts), without kiwi and
 * without installing a package: mkfs.ext4 -d (LiveOS/rootfs.img, kiwi's label and block size),
 * mksquashfs (kiwi's compression and block size), xorriso (the old ISO with its squashfs replaced,
 * every boot record replayed). The new ISO must boot the way the old one did: same volume id (the
 * GRUB line's root=live:CDLABEL= needs it), same El Torito entries, same system area. It replaces
 * the built image (a new file renamed over it, so the image cache's hard link keeps kiwi's bytes),
 * with its sha256 and a build stamp that says it was changed by hand.
 */
import { readdir, rename, rm, mkdir, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { writeFileAtomic } from "../lib/atomic-write.js";
import { ReconError } from "../lib/errors.js";
import type { Logger } from "../lib/log.js";
import { runChecked, type CommandRunner } from "../lib/run.js";
import { readStamp, sha256File, writeStamp, type HandChangeSummary } from "./build-image.js";
import { mkfsExt4Args, planRootFilesystem } from "./ext4.js";
import { ISO_SQUASHFS, SQUASHFS_ROOTFS, readImageRootRecord, imageRootPaths, type ImageRootRecord } from "./image-root.js";
import { formatDuration } from "./kiwi.js";
import { mksquashfsArgs, runWithGrowthProgress } from "./squashfs.js";
import { readBootRecords, xorrisoReplaceArgs, type IsoBootRecords } from "./xorriso.js";

/** What differs between two ISOs' boot records; empty = they boot the same way. */
export function bootRecordDifferences(before: IsoBootRecords, after: IsoBootRecords): string[] {
  const out: string[] = [];
  if (before.volumeId !== after.volumeId) out.push(`volume id '${before.volumeId}' became '${after.volumeId}'`);
  const show = (r: IsoBootRecords) => r.elTorito.map((e) => `${e.platform}/${e.media}/${e.loadSize}`).join(", ");
  if (show(before) !== show(after)) out.push(`El Torito entries [${show(before)}] became [${show(after)}]`);
  if (before.systemArea.join("; ") !== after.systemArea.join("; ")) out.push(`system area [${before.systemArea.join("; ")}] became [${after.systemArea.join("; ")}]`);
  return out;
}

export function summarizeHandChanges(record: ImageRootRecord, repackedAt: string): HandChangeSummary {
  return { repackedAt, extractedAt: record.extractedAt, commands: record.changes.map((c) => c.command), baseIsoSha256: record.isoSha256 };
}

/** Bytes the tree uses (du -s -B1 --apparent-size would miss block rounding: take the allocated size). */
async function treeUsage(runner: CommandRunner, root: string): Promise<{ bytes: number; files: number }> {
  const du = await runChecked(runner, "du", ["-s", "-x", "-B1", root]);
  const bytes = Number(du.stdout.split(/\s+/)[0]);
  const files = (await readdir(root, { recursive: true })).length;
  return { bytes, files };
}

export async function repackImage(
  options: { recipe: string; recipeBuildDir: string },
  deps: { runner: CommandRunner; log: Logger; now?: () => number },
): Promise<{ image: string; durationMs: number; sizeBytes: number }> {
  const now = deps.now ?? Date.now;
  const started = now();
  const log = deps.log.child({ recipe: options.recipe, step: "repack" });
  const paths = imageRootPaths(options.recipeBuildDir);
  const record = await readImageRootRecord(paths);
  const stamp = await readStamp(options.recipeBuildDir, "DracutLive");
  if (!record || !stamp) {
    throw new ReconError("ARTEFACT_MISSING", `no image root to repack in ${paths.root}`, {
      hint: `build the image (./make-recipe-target ${options.recipe} target), open it with ./make-recipe-target ${options.recipe} shell, then repack`,
    });
  }
  if (record.changes.length === 0) log.warn("the root has no recorded hand change; repacking anyway", { root: paths.root });
  const iso = stamp.image;
  if ((await sha256File(iso)) !== record.isoSha256) {
    throw new ReconError("ARTEFACT_MISSING", `${iso} is not the image ${paths.root} was extracted from (rebuilt by 'target' since)`, {
      hint: `repacking would replace the new image with the old tree plus the hand changes; if that is wanted, remove ${paths.record} and ${paths.root} and start over with shell`,
    });
  }
  await rm(paths.work, { recursive: true, force: true });
  const sqDir = join(paths.work, "sq");
  await mkdir(join(sqDir, "LiveOS"), { recursive: true });
  const rootfs = join(sqDir, SQUASHFS_ROOTFS);
  const squashfs = join(paths.work, "squashfs.img");
  const newIso = `${iso}.repack`;
  try {
    const usage = await treeUsage(deps.runner, paths.root);
    const plan = planRootFilesystem(record.ext4, usage.bytes, usage.files);
    log.info("progress", { step: "mkfs.ext4", tree_mb: Math.round(usage.bytes / 1048576), files: usage.files, fs_mb: Math.round((plan.blocks * record.ext4.blockSizeBytes) / 1048576) });
    await runWithGrowthProgress(deps.runner, "mkfs.ext4", mkfsExt4Args(rootfs, paths.root, record.ext4, plan), rootfs, log, {
      step: "mkfs.ext4",
      hint: `mkfs.ext4 -d could not copy ${paths.root} into a filesystem (disk full? see df ${paths.work})`,
    });
    log.info("progress", { step: "mksquashfs", elapsed: formatDuration(now() - started), compression: record.squashfs.compression });
    await runWithGrowthProgress(deps.runner, "mksquashfs", mksquashfsArgs(sqDir, squashfs, record.squashfs), squashfs, log, {
      step: "mksquashfs",
      hint: "install squashfs-tools (scripts/install-host-tools.sh build)",
    });
    await rm(rootfs);
    log.info("progress", { step: "xorriso", elapsed: formatDuration(now() - started), squashfs_mb: Math.round((await stat(squashfs)).size / 1048576) });
    await rm(newIso, { force: true });
    await runWithGrowthProgress(deps.runner, "xorriso", xorrisoReplaceArgs(iso, newIso, [[squashfs, ISO_SQUASHFS]]), newIso, log, {
      step: "xorriso",
      hint: `xorriso could not write ${newIso} from ${iso}`,
    });
    const differences = bootRecordDifferences(await readBootRecords(deps.runner, iso), await readBootRecords(deps.runner, newIso));
    if (differences.length > 0) {
      throw new ReconError("COMMAND_FAILED", `the repacked ISO would not boot the way ${iso} does: ${differences.join("; ")}`, {
        hint: `${iso} is left as it was; report the xorriso version (xorriso -version) with this message`,
      });
    }
    const digest = await sha256File(newIso);
    await writeFileAtomic(`${iso}.sha256`, `${digest}  ${basename(iso)}\n`);
    await rename(newIso, iso);
    const repackedAt = new Date(now()).toISOString();
    const durationMs = now() - started;
    await writeStamp(options.recipeBuildDir, { ...stamp, changedByHand: summarizeHandChanges(record, repackedAt) });
    const next: ImageRootRecord = { ...record, isoSha256: digest, repackedAt };
    await writeFileAtomic(paths.record, `${JSON.stringify(next, null, 2)}\n`);
    const sizeBytes = (await stat(iso)).size;
    log.info("image repacked", { image: iso, sizeBytes, duration: formatDuration(durationMs), changes: record.changes.length });
    return { image: iso, durationMs, sizeBytes };
  } finally {
    await rm(paths.work, { recursive: true, force: true });
    await rm(newIso, { force: true });
  }
}
