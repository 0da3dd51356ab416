/**
 * The images the master serves (issue #13, "Several images"), discovered at every start: its own (the
 * stick's, or `--image-label` in the http root), any other complete tree already in the http root, and
 * every `images/<label>/` on the data partition (an `http` target copied there by `recon images add`).
 * A tree without its ISO, kernel, initrd or boot.json, or with a label already taken, is logged and
 * skipped; the rest are served. A node's writable copy for `root: nbd-rw` (images/<label>/ holding
 * copy.json, nbd/rw-copy.ts) has no ISO and boots nobody by itself: one info line, not served. With
 * images from the data partition the master serves a tree of symlinks in its run dir
 * (isos/<label>.iso, install/<label>/ for each image), so nginx and express see one http root and
 * nothing large is copied.
 */
import { chmod, mkdir, readdir, readFile, rm, stat, symlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { imageArchFromBootJson, type ServedImage } from "../boot/plan-boot.js";
import { isReconError, ReconError } from "../lib/errors.js";
import type { Logger } from "../lib/log.js";
import { IMAGE_LABEL } from "../model/site-config.js";
import { IMAGES_DIR } from "../model/store-layout.js";
import { isRwCopyDir } from "./nbd/rw-copy.js";
import { pathExists } from "../lib/path-exists.js";

/** One image and where its files are: `root` is an http tree holding isos/<label>.iso and install/<label>/. */
export interface ImageTree extends ServedImage {
  root: string;
  from: "own" | "http-root" | "data-partition";
}

export interface DiscoveredImages {
  own: ImageTree;
  others: ImageTree[];
  /** The http root to serve: the given one, or (with data-partition images) the symlink tree in the run dir. */
  httpRoot: string;
}

/** The labels an http tree holds: its install/<label>/ directories. */
export async function listImageLabels(httpRoot: string): Promise<string[]> {
  return (await listDirs(join(httpRoot, "install"))).filter((name) => !name.startsWith("."));
}

async function listDirs(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isDirectory() || entry.isSymbolicLink())
    .map((entry) => entry.name)
    .sort();
}

/** The files one image must have: a reason when one is missing or boot.json is unreadable, else the image. */
export async function readImageTree(root: string, label: string, from: ImageTree["from"], bootJsonRequired: boolean): Promise<ImageTree | string> {
  if (!IMAGE_LABEL.test(label)) return `'${label}' is not an image label (lower-case letters, digits, dots and dashes)`;
  const install = join(root, "install", label);
  for (const file of [join(root, "isos", `${label}.iso`), join(install, "linux"), join(install, "initrd")]) {
    if (!(await pathExists(file))) return `${file} is missing`;
  }
  const bootJsonPath = join(install, "boot.json");
  if (!(await pathExists(bootJsonPath))) {
    if (bootJsonRequired) return `${bootJsonPath} is missing`;
    // The master's own tree from before boot.json existed: x86_64, no image args.
    return { label, arch: "x86_64", kernelArgs: [], root, from };
  }
  try {
    const bootJson = JSON.parse(await readFile(bootJsonPath, "utf8")) as { label?: unknown; imageKernelArgs?: unknown; arch?: unknown; volumeId?: unknown };
    if (bootJson.label !== undefined && bootJson.label !== label) return `${bootJsonPath} names label ${JSON.stringify(bootJson.label)}, not ${label}`;
    const args = bootJson.imageKernelArgs ?? [];
    if (!Array.isArray(args) || !args.every((arg) => typeof arg === "string")) return `${bootJsonPath}: imageKernelArgs is not a list of strings`;
    const volumeId = typeof bootJson.volumeId === "string" ? bootJson.volumeId : undefined;
    return { label, arch: imageArchFromBootJson(bootJson), kernelArgs: args, volumeId, root, from };
  } catch (error) {
    return `${bootJsonPath}: ${isReconError(error) || error instanceof Error ? error.message : String(error)}`;
  }
}

/**
 * Finds every image to serve. The own image must be whole (kernel, initrd; the ISO may still be on the
 * boot device, so only install/ is checked for it); the others are skipped with an error line each.
 */
export async function discoverImages(options: { httpRoot: string; ownLabel: string; dataDir: string; runDir: string; log: Logger }): Promise<DiscoveredImages> {
  const { log } = options;
  const own: ImageTree = await (async () => {
    const bootJsonPath = join(options.httpRoot, "install", options.ownLabel, "boot.json");
    const bootJson = (await pathExists(bootJsonPath))
      ? (JSON.parse(await readFile(bootJsonPath, "utf8")) as { imageKernelArgs?: string[]; arch?: unknown; volumeId?: unknown })
      : {};
    const volumeId = typeof bootJson.volumeId === "string" ? bootJson.volumeId : undefined;
    return {
      label: options.ownLabel,
      arch: imageArchFromBootJson(bootJson),
      kernelArgs: bootJson.imageKernelArgs ?? [],
      volumeId,
      root: options.httpRoot,
      from: "own",
    };
  })();
  const taken = new Map<string, string>([[own.label, "the master's own image"]]);
  const others: ImageTree[] = [];
  const consider = async (root: string, label: string, from: ImageTree["from"]) => {
    const where = from === "http-root" ? `${join(root, "install", label)} (in the http root)` : root;
    if (taken.has(label)) {
      log.error("image skipped: its label is taken", {
        image: label,
        where,
        takenBy: taken.get(label)!,
        hint: "remove one of the two or rebuild one under another recipe name",
      });
      return;
    }
    const tree = await readImageTree(root, label, from, true);
    if (typeof tree === "string") {
      log.error("image skipped: its tree is incomplete", {
        image: label,
        where,
        reason: tree,
        hint: "copy a complete http target with recon images add <http tree>",
      });
      return;
    }
    if (from === "data-partition") await makeServable(options.dataDir, root, label, log);
    taken.set(label, where);
    others.push(tree);
  };
  for (const label of await listImageLabels(options.httpRoot)) {
    if (label !== own.label) await consider(options.httpRoot, label, "http-root");
  }
  const imagesDir = join(options.dataDir, IMAGES_DIR);
  for (const label of await listDirs(imagesDir)) {
    if (label.startsWith(".")) continue;
    if (await isRwCopyDir(join(imagesDir, label))) {
      log.info("writable copy, not a bootable image: nbd-server exports it", { copy: label, where: join(imagesDir, label) });
      continue;
    }
    await consider(join(imagesDir, label), label, "data-partition");
  }
  for (const image of [own, ...others]) log.info("serving image", { image: image.label, arch: image.arch, from: image.from, root: image.root });
  if (!others.some((image) => image.from === "data-partition")) return { own, others, httpRoot: options.httpRoot };
  // Its own directory: on the appliance the own tree is <runDir>/http itself (cli.ts defaults), with the
  // RAM copy of the ISO mounted on its isos/, so the served tree must never be that path or inside it.
  const served = servedTreeDir(options.runDir);
  const ownRoot = resolve(options.httpRoot);
  if (resolve(served) === ownRoot || resolve(served).startsWith(`${ownRoot}/`) || ownRoot.startsWith(`${resolve(served)}/`)) {
    throw new ReconError("CONFIG_INVALID", `the served image tree ${served} and the medium's http root ${options.httpRoot} overlap`, {
      hint: "give --run-dir and --http-root directories that do not contain each other",
    });
  }
  await linkServedTree(served, [own, ...others]);
  return { own, others, httpRoot: served };
}

/** Where the served http root is built when the data partition holds images: `<runDir>/served-http`. */
export function servedTreeDir(runDir: string): string {
  return join(runDir, "served-http");
}

/** The served http root: isos/<label>.iso and install/<label> as symlinks to each image's own files (rebuilt at every start). */
export async function linkServedTree(dir: string, images: readonly ImageTree[]): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, "isos"), { recursive: true, mode: 0o755 });
  await mkdir(join(dir, "install"), { recursive: true, mode: 0o755 });
  for (const image of images) {
    // The own ISO may not exist yet on the appliance (staged into RAM later; until then express serves the device).
    await symlink(resolve(image.root, "isos", `${image.label}.iso`), join(dir, "isos", `${image.label}.iso`));
    await symlink(resolve(image.root, "install", image.label), join(dir, "install", image.label));
  }
}

/**
 * dnsmasq (TFTP) and nginx's workers read an image as an unprivileged user (nobody): every directory
 * from the data partition's root down to the image's files must let others through (o+x) and each file
 * be readable (o+r). The data root may be 0700 (a stick staged so, a restrictive umask): then the boot
 * of every node set to this image failed with "Permission denied" in its firmware (lab e2e, GRUB over
 * TFTP). Only those bits are added — no directory becomes listable that was not — and each change is logged.
 */
export async function makeServable(dataDir: string, imageRoot: string, label: string, log: Logger): Promise<void> {
  const changed: string[] = [];
  const add = async (path: string, bits: number) => {
    const mode = (await stat(path)).mode & 0o7777;
    if ((mode & bits) === bits) return;
    await chmod(path, mode | bits);
    changed.push(`${path} ${(mode & 0o777).toString(8)}→${((mode | bits) & 0o777).toString(8)}`);
  };
  await add(dataDir, 0o001);
  await add(join(dataDir, IMAGES_DIR), 0o001);
  await add(imageRoot, 0o005);
  for (const dir of ["isos", "install", join("install", label)]) await add(join(imageRoot, dir), 0o005);
  for (const file of [join("isos", `${label}.iso`), join("install", label, "linux"), join("install", label, "initrd"), join("install", label, "boot.json")]) {
    await add(join(imageRoot, file), 0o004).catch(() => undefined);
  }
  if (changed.length > 0) log.info("image made readable for the boot services", { image: label, changed: changed.join(", ") });
}
