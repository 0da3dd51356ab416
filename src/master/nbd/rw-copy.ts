/**
 * A node's writable copy for `root: nbd-rw` (issue #13 item 3; docs/site-config.md, "Root
 * transports"): the ext4 root tree of its image (LiveOS/rootfs.img, which KIWI puts inside
 * LiveOS/squashfs.img inside the ISO), as <dataDir>/images/<rwCopyLabel>/rootfs.img beside a
 * copy.json record. Made once, when absent, and then kept across master starts: an existing copy is
 * reused, never made again or overwritten, whatever the image it came from does since.
 *
 * Made without a temporary squashfs: xorriso reports where LiveOS/squashfs.img lies in the ISO
 * (one extent: xorriso and KIWI write files contiguously), and unsquashfs reads the squashfs at that
 * byte offset of the ISO itself (`-o`), first to list rootfs.img's size (the free space checked:
 * the copy may fill all of it), then to extract it into a hidden directory beside the target, which
 * is fsynced with its record and renamed into place (like image-add.ts). On the appliance the own
 * image's ISO is the boot device, whose ISO file system dracut has mounted: its squashfs is read
 * from there (offset 0, no xorriso).
 *
 * Only a hosts.<mac> layer names one node, so only there may `root: nbd-rw` be set (planRwCopies).
 * Argument builders and parsers are pure; the runner is the injected CommandRunner.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat, statfs } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { rwCopyLabel } from "../../boot/root-transport.js";
import { fsyncDir, writeFileAtomic } from "../../lib/atomic-write.js";
import { ReconError } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import { runChecked, type CommandRunner } from "../../lib/run.js";
import { resolveNodeSettings } from "../../model/resolve-node-settings.js";
import { IMAGE_LABEL, type SiteConfig } from "../../model/site-config.js";
import { IMAGES_DIR } from "../../model/store-layout.js";

/** The squashfs in a KIWI live ISO, and the root tree image inside it. */
export const ISO_SQUASHFS = "/LiveOS/squashfs.img";
export const SQUASHFS_ROOTFS = "LiveOS/rootfs.img";
/** The files of a writable copy's directory. */
export const RW_COPY_IMAGE = "rootfs.img";
export const RW_COPY_RECORD = "copy.json";

/** One node's writable copy, as the site config asks for it. */
export interface RwCopyWanted {
  /** The settings layer that asks: hosts.<mac>. */
  where: string;
  mac: string;
  /** The image the node boots (its copy is made from that image's ISO). */
  from: string;
  /** rwCopyLabel(from, mac): the export name and the directory under images/. */
  label: string;
}

/** What copy.json records. */
export interface RwCopyRecord {
  label: string;
  from: string;
  /** What was read: the ISO, or the mounted medium's squashfs. */
  source: string;
  /** The ISO's sha256 (its boot.json's, else read from the ISO file). */
  fromIsoSha256?: string;
  /** When the source was the squashfs and boot.json recorded no ISO sum: the squashfs's. */
  fromSquashfsSha256?: string;
  mac: string;
  createdAt: string;
  bytes: number;
  note: string;
}

/**
 * The writable copies the site config asks for: one per hosts.<mac> layer with `root: nbd-rw`.
 * Any other layer (defaults, networks, groups, ips) could name many nodes or none in particular:
 * CONFIG_INVALID naming the layer. The image is the one the node's MAC alone resolves to (defaults,
 * its groups, its host entry); a networks/ips layer that changed it is not seen here.
 */
export function planRwCopies(config: SiteConfig, layers: readonly (readonly [string, { root?: string | undefined }])[], ownLabel: string): RwCopyWanted[] {
  const wanted: RwCopyWanted[] = [];
  for (const [where, settings] of layers) {
    if (settings.root !== "nbd-rw") continue;
    if (!where.startsWith("hosts.")) {
      throw new ReconError("CONFIG_INVALID", `the site config's ${where} sets root: nbd-rw, but a writable copy belongs to one node`, {
        hint: `set root: nbd-rw under hosts.<mac> of the one node that mounts its copy; ${where} may set root: nbd (read-only, any number of nodes)`,
      });
    }
    const mac = where.slice("hosts.".length);
    const from = resolveNodeSettings(config, { mac }).image ?? ownLabel;
    const label = rwCopyLabel(from, mac);
    if (!IMAGE_LABEL.test(label)) {
      throw new ReconError("CONFIG_INVALID", `the site config's ${where}: the writable copy of ${from} would be labelled '${label}', not an image label`, {
        hint: "image labels of up to 48 characters fit; boot this node another image or set root: nbd",
      });
    }
    wanted.push({ where, mac, from, label });
  }
  return wanted;
}

/** xorriso: where LiveOS/squashfs.img lies in the ISO (`stdio:` so a block device is read like a file). */
export function xorrisoReportLbaArgs(iso: string): string[] {
  return ["-indev", `stdio:${iso}`, "-find", ISO_SQUASHFS, "-exec", "report_lba", "--"];
}

/**
 * Parses xorriso 1.5's report_lba: `File data lba:  0 ,       33 ,        2 ,     4096 , '/LiveOS/squashfs.img'`
 * (extent, start block of 2048 bytes, blocks, file size, path) → the squashfs's byte offset and size.
 */
export function parseReportLba(stdout: string, iso: string): { offset: number; bytes: number } {
  const extents = stdout
    .split("\n")
    .map((line) => /^File data lba:\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*'(.*)'\s*$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null && match[5] === ISO_SQUASHFS);
  if (extents.length !== 1) {
    throw new ReconError(
      "ARTEFACT_MISSING",
      extents.length === 0 ? `${iso} holds no ${ISO_SQUASHFS}` : `${iso}: ${ISO_SQUASHFS} lies in ${extents.length} pieces, unsquashfs reads one`,
      { hint: "nbd-rw needs a KIWI live ISO (a recon recipe's iso target); rebuild the image" },
    );
  }
  const [, , start, , size] = extents[0]!;
  return { offset: Number(start) * 2048, bytes: Number(size) };
}

/** unsquashfs 4.5: the long listing of rootfs.img in the squashfs at `offset` of the ISO. */
export function unsquashfsListArgs(iso: string, offset: number): string[] {
  return ["-o", String(offset), "-lls", iso, SQUASHFS_ROOTFS];
}

/** Parses `-rw-r--r-- root/root          16777216 2026-12-03 05:36 squashfs-root/LiveOS/rootfs.img` → its size. */
export function parseUnsquashfsList(stdout: string, iso: string): number {
  for (const line of stdout.split("\n")) {
    const match = /^-\S+\s+\S+\s+(\d+)\s+\S+\s+\S+\s+(.*)$/.exec(line.trim());
    if (match !== null && match[2]!.endsWith(`/${SQUASHFS_ROOTFS}`)) return Number(match[1]);
  }
  throw new ReconError("ARTEFACT_MISSING", `${iso}: its ${ISO_SQUASHFS} holds no ${SQUASHFS_ROOTFS}`, {
    hint: "nbd-rw exports the ext4 root tree KIWI's DracutLive profile puts there; rebuild the image with that profile",
  });
}

/** unsquashfs: extract rootfs.img only, into `dest` (made by unsquashfs), quietly. */
export function unsquashfsExtractArgs(iso: string, offset: number, dest: string): string[] {
  return ["-q", "-n", "-o", String(offset), "-d", dest, iso, SQUASHFS_ROOTFS];
}

/** Too little free space is a typed error saying what, where and how much. */
export function checkFreeSpace(what: string, where: string, neededBytes: number, freeBytes: number): void {
  if (freeBytes >= neededBytes) return;
  const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  throw new ReconError("DATA_PARTITION", `${what} needs ${mib(neededBytes)} (${neededBytes} bytes) free on ${where}; there are ${mib(freeBytes)}`, {
    hint: `free space on the data partition (remove an image under ${where} the site config no longer boots), or set this node's root to nbd`,
  });
}

export function renderRwCopyRecord(record: RwCopyRecord): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}

/** The source's sum for the record: the ISO's as its http target wrote it in boot.json, else read from the file read. */
async function sourceSums(source: RwCopySource, bootJson: string | undefined): Promise<Pick<RwCopyRecord, "fromIsoSha256" | "fromSquashfsSha256">> {
  const recorded =
    bootJson === undefined
      ? undefined
      : await readFile(bootJson, "utf8").then(
          (text) => (JSON.parse(text) as { iso?: { sha256?: unknown } }).iso?.sha256,
          () => undefined,
        );
  if (typeof recorded === "string") return { fromIsoSha256: recorded };
  return "iso" in source ? { fromIsoSha256: await sha256Of(source.iso) } : { fromSquashfsSha256: await sha256Of(source.squashfs) };
}

/** Where the image's root tree is read from: its ISO (a file or the boot device), or a squashfs file (the mounted medium's). */
export type RwCopySource = { iso: string } | { squashfs: string };

export interface RwCopy {
  label: string;
  /** The exported file: <dataDir>/images/<label>/rootfs.img. */
  path: string;
  bytes: number;
  record: RwCopyRecord;
  made: boolean;
}

/**
 * The node's writable copy: reused when its directory exists (checked whole: image and record),
 * else made from `iso`. Never overwrites anything; a directory without both files is an error.
 */
export async function ensureRwCopy(options: {
  runner: CommandRunner;
  dataDir: string;
  wanted: RwCopyWanted;
  source: RwCopySource;
  /** The image's boot.json (its iso.sha256 is recorded); unset or without one, the ISO is hashed. */
  bootJson?: string;
  log: Logger;
  now?: () => Date;
}): Promise<RwCopy> {
  const { runner, wanted, log } = options;
  const imagesDir = join(options.dataDir, IMAGES_DIR);
  const target = join(imagesDir, wanted.label);
  const image = join(target, RW_COPY_IMAGE);
  if (await stat(target).catch(() => undefined)) {
    const record = await readFile(join(target, RW_COPY_RECORD), "utf8").then(
      (text) => JSON.parse(text) as RwCopyRecord,
      () => undefined,
    );
    const size = await stat(image).catch(() => undefined);
    if (record === undefined || size === undefined) {
      throw new ReconError(
        "ARTEFACT_MISSING",
        `${target} exists but is not a whole writable copy (${size === undefined ? RW_COPY_IMAGE : RW_COPY_RECORD} is missing)`,
        {
          hint: `recon never overwrites a writable copy: look at what is there, then remove it (rm -r ${target}) to have the master make it again`,
        },
      );
    }
    if (record.from !== wanted.from) {
      log.warn("nbd-rw copy kept: it was made from another image than the node boots now", {
        label: wanted.label,
        from: record.from,
        boots: wanted.from,
        hint: `remove ${target} to have it made again from ${wanted.from}`,
      });
    }
    return { label: wanted.label, path: image, bytes: size.size, record, made: false };
  }

  const started = Date.now();
  const { source } = options;
  // unsquashfs reads `file` from byte `offset`: the squashfs inside the ISO, or the squashfs file itself.
  const { file, offset } =
    "iso" in source
      ? {
          file: source.iso,
          offset: parseReportLba(
            (await runChecked(runner, "xorriso", xorrisoReportLbaArgs(source.iso), { timeoutMs: 60_000, hint: `check that ${source.iso} is the image's ISO` }))
              .stdout,
            source.iso,
          ).offset,
        }
      : { file: source.squashfs, offset: 0 };
  const listed = await runChecked(runner, "unsquashfs", unsquashfsListArgs(file, offset), { timeoutMs: 60_000 });
  const bytes = parseUnsquashfsList(listed.stdout, file);
  await mkdir(imagesDir, { recursive: true, mode: 0o755 });
  const free = await statfs(imagesDir);
  checkFreeSpace(
    `the writable copy ${wanted.label} of ${wanted.from} (its ${SQUASHFS_ROOTFS}; the node may fill all of it)`,
    imagesDir,
    bytes,
    free.bavail * free.bsize,
  );

  // One master per data partition (the store's lock): a partial copy left by an earlier, killed start is ours to remove.
  for (const name of await readdir(imagesDir)) {
    if (name.startsWith(`.${wanted.label}.partial-`)) await rm(join(imagesDir, name), { recursive: true, force: true });
  }
  const partial = join(imagesDir, `.${wanted.label}.partial-${process.pid}`);
  try {
    await mkdir(partial, { mode: 0o755 });
    const tree = join(partial, "tree");
    // A whole-image extraction on a busy master: bounded, generous (a 4 GiB tree takes about a minute).
    await runChecked(runner, "unsquashfs", unsquashfsExtractArgs(file, offset, tree), { timeoutMs: 30 * 60_000 });
    await rename(join(tree, SQUASHFS_ROOTFS), join(partial, RW_COPY_IMAGE));
    await rm(tree, { recursive: true, force: true });
    const handle = await open(join(partial, RW_COPY_IMAGE), "r+");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    const record: RwCopyRecord = {
      label: wanted.label,
      from: wanted.from,
      source: file,
      ...(await sourceSums(source, options.bootJson)),
      mac: wanted.mac,
      createdAt: (options.now?.() ?? new Date()).toISOString(),
      bytes,
      note: `writable copy: never replaces ${wanted.from}`,
    };
    await writeFileAtomic(join(partial, RW_COPY_RECORD), renderRwCopyRecord(record));
    await fsyncDir(partial);
    await rename(partial, target);
    await fsyncDir(imagesDir);
    log.info("nbd-rw copy made", { label: wanted.label, from: wanted.from, bytes, seconds: ((Date.now() - started) / 1000).toFixed(1) });
    return { label: wanted.label, path: image, bytes, record, made: true };
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    throw error;
  }
}

/** Whether an images/<label>/ directory is a writable copy (it has copy.json): not a bootable image. */
export async function isRwCopyDir(dir: string): Promise<boolean> {
  return stat(join(dir, RW_COPY_RECORD)).then(
    (s) => s.isFile(),
    () => false,
  );
}
