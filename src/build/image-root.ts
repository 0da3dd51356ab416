/**
 * The built image's root tree for `shell` and `repack`: extracted once from the ISO kiwi-ng built
 * (LiveOS/squashfs.img → LiveOS/rootfs.img, ext4 → a plain directory), kept between calls in
 * build/<recipe>/shell-root, and every hand change recorded twice: inside the image
 * (/etc/recon-image.json, so a booted stick says it) and beside it (shell-root.json, which
 * `repack` carries into the build stamp, so `target` can warn).
 *
 * Works from the ISO, not kiwi's own image-root tree, so any built or cached image can be opened.
 */
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../lib/atomic-write.js";
import { ReconError } from "../lib/errors.js";
import type { Logger } from "../lib/log.js";
import { runChecked, type CommandRunner } from "../lib/run.js";
import { sha256File } from "./build-image.js";
import { readExt4Geometry, withReadOnlyMount, type Ext4Geometry } from "./ext4.js";
import { formatDuration } from "./kiwi.js";
import { readSquashfsSuperblock, type SquashfsSuperblock } from "./squashfs.js";
import { unsquashfsOneArgs } from "./verify-live-root.js";
import { extractFromIso } from "./xorriso.js";
import { pathExists } from "../lib/path-exists.js";

/** Inside the ISO, and inside its squashfs (KIWI's dmsquash layout). */
export const ISO_SQUASHFS = "/LiveOS/squashfs.img";
export const SQUASHFS_ROOTFS = "LiveOS/rootfs.img";
/** The record of hand changes inside the image. */
export const IMAGE_RECORD = "etc/recon-image.json";

export interface ImageRootPaths {
  root: string;
  record: string;
  work: string;
}

export function imageRootPaths(recipeBuildDir: string): ImageRootPaths {
  return { root: join(recipeBuildDir, "shell-root"), record: join(recipeBuildDir, "shell-root.json"), work: join(recipeBuildDir, ".shell-work") };
}

export interface HandChange {
  at: string;
  /** The command line run in `shell`, or "(interactive shell)". */
  command: string;
  exitCode: number;
}

export interface ImageRootRecord {
  recipe: string;
  /** The ISO the tree came from, and its sha256 then (or after the last repack). */
  iso: string;
  isoSha256: string;
  descriptionHash: string;
  extractedAt: string;
  squashfs: SquashfsSuperblock;
  ext4: Ext4Geometry;
  changes: HandChange[];
  repackedAt?: string;
}

/** What the image carries in /etc/recon-image.json (snake_case, as other files read on the stick). */
export function renderImageRecord(record: ImageRootRecord): string {
  return `${JSON.stringify(
    {
      changed_by_hand: record.changes.length > 0,
      recipe: record.recipe,
      description_hash: record.descriptionHash,
      base_iso_sha256: record.isoSha256,
      extracted_at: record.extractedAt,
      changes: record.changes.map((c) => ({ at: c.at, command: c.command, exit_code: c.exitCode })),
    },
    null,
    2,
  )}\n`;
}

export async function readImageRootRecord(paths: ImageRootPaths): Promise<ImageRootRecord | undefined> {
  return readFile(paths.record, "utf8").then(
    (text) => JSON.parse(text) as ImageRootRecord,
    () => undefined,
  );
}

/**
 * The root tree of `iso`, extracted on first use. A tree taken from another ISO than the one now
 * built (a `target` rebuilt it since) is refused rather than silently replaced, since it may hold
 * hand changes not yet repacked.
 */
export async function ensureImageRoot(
  image: { recipe: string; iso: string; descriptionHash: string },
  paths: ImageRootPaths,
  deps: { runner: CommandRunner; log: Logger; now?: () => number },
): Promise<ImageRootRecord> {
  const now = deps.now ?? Date.now;
  const isoSha256 = await sha256File(image.iso);
  const known = await readImageRootRecord(paths);
  if (known && (await pathExists(paths.root))) {
    if (known.isoSha256 !== isoSha256) {
      throw new ReconError("ARTEFACT_MISSING", `${paths.root} was extracted from another image than ${image.iso} (rebuilt since, sha256 ${isoSha256.slice(0, 12)} ≠ ${known.isoSha256.slice(0, 12)})`, {
        hint: `repack it first (./make-recipe-target ${image.recipe} repack overwrites the new image with the hand-changed one), or start over from the new image: rm -rf ${paths.root} ${paths.record}`,
      });
    }
    return known;
  }
  const started = now();
  const log = deps.log.child({ recipe: image.recipe, step: "extract" });
  await rm(paths.work, { recursive: true, force: true });
  const partial = `${paths.root}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(join(paths.work, "mnt"), { recursive: true });
  await mkdir(partial, { recursive: true });
  try {
    const squashfs = join(paths.work, "squashfs.img");
    log.info("extracting the live root from the ISO", { iso: image.iso, to: paths.root });
    await extractFromIso(deps.runner, image.iso, [[ISO_SQUASHFS, squashfs]]);
    const superblock = await readSquashfsSuperblock(deps.runner, squashfs);
    await runChecked(deps.runner, "unsquashfs", unsquashfsOneArgs(squashfs, join(paths.work, "sq"), SQUASHFS_ROOTFS), {
      hint: `${image.iso}'s squashfs has no ${SQUASHFS_ROOTFS} (not a KIWI DracutLive image?)`,
    });
    await rm(squashfs);
    log.info("progress", { step: "unsquashfs", elapsed: formatDuration(now() - started), compression: superblock.compression });
    const rootfs = join(paths.work, "sq", SQUASHFS_ROOTFS);
    const ext4 = await readExt4Geometry(deps.runner, rootfs);
    // cp -a: owners by number, modes, times, hard links, xattrs (file capabilities), ACLs.
    await withReadOnlyMount(deps.runner, rootfs, join(paths.work, "mnt"), () =>
      runChecked(deps.runner, "cp", ["-a", `${join(paths.work, "mnt")}/.`, `${partial}/`], { hint: `copying the root tree to ${partial} failed (disk full?)` }),
    );
    await rm(join(partial, "lost+found"), { recursive: true, force: true });
    await rm(paths.root, { recursive: true, force: true });
    await rename(partial, paths.root);
    const record: ImageRootRecord = {
      recipe: image.recipe,
      iso: image.iso,
      isoSha256,
      descriptionHash: image.descriptionHash,
      extractedAt: new Date(now()).toISOString(),
      squashfs: superblock,
      ext4,
      changes: [],
    };
    await writeFileAtomic(paths.record, `${JSON.stringify(record, null, 2)}\n`);
    log.info("live root extracted", { root: paths.root, duration: formatDuration(now() - started) });
    return record;
  } finally {
    await rm(paths.work, { recursive: true, force: true });
    await rm(partial, { recursive: true, force: true });
  }
}

/** Appends one hand change to both records (beside the tree and inside it). */
export async function recordHandChange(paths: ImageRootPaths, record: ImageRootRecord, change: HandChange): Promise<ImageRootRecord> {
  const next = { ...record, changes: [...record.changes, change] };
  await writeFileAtomic(join(paths.root, IMAGE_RECORD), renderImageRecord(next));
  await writeFileAtomic(paths.record, `${JSON.stringify(next, null, 2)}\n`);
  return next;
}
