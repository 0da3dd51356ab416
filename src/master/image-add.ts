/**
 * `recon images add <http tree>`: copies one image (another recipe's `http` target: isos/<label>.iso,
 * install/<label>/{linux,initrd,boot.json}) onto the data partition as images/<label>/, where the
 * master finds it at its next start (master/images.ts). Durable and never half there: the files go to
 * a hidden temporary directory, each fsynced, read back and checked against the sha256 taken while
 * reading the source (and against boot.json's own ISO sum, when the http target wrote one); only then
 * SHA256SUMS is written and the directory renamed into place, and its parent fsynced.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fsyncDir, writeFileAtomic } from "../lib/atomic-write.js";
import { ReconError } from "../lib/errors.js";
import { IMAGE_SUMS_FILE, IMAGES_DIR } from "../model/store-layout.js";
import { readImageTree, listImageLabels } from "./images.js";

export interface AddedImage {
  label: string;
  dir: string;
  files: Array<{ path: string; sizeBytes: number; sha256: string }>;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}

/** Copies `from` to `to` (new file), hashing what was read; fsyncs the copy before it returns. */
async function copyHashed(from: string, to: string): Promise<string> {
  const hash = createHash("sha256");
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(createReadStream(from), tap, createWriteStream(to, { flags: "wx", mode: 0o644 }));
  const handle = await open(to, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  return hash.digest("hex");
}

export async function addImage(source: string, options: { dataDir: string; label?: string | undefined }): Promise<AddedImage> {
  const labels = await listImageLabels(source);
  const label = options.label ?? (labels.length === 1 ? labels[0] : undefined);
  if (label === undefined || !labels.includes(label)) {
    throw new ReconError(
      "USAGE",
      labels.length === 0
        ? `${source} holds no image (no install/<label>/)`
        : `${source} holds images ${labels.join(", ")}${options.label ? `, not ${options.label}` : ""}`,
      {
        hint: labels.length === 0 ? "give the http tree a recipe's http target wrote (./make-recipe-target <recipe> http)" : "name one with --label <label>",
        exitCode: 2,
      },
    );
  }
  const tree = await readImageTree(source, label, "http-root", true);
  if (typeof tree === "string") {
    throw new ReconError("ARTEFACT_MISSING", `${source} is not a complete image: ${tree}`, { hint: "build it again with ./make-recipe-target <recipe> http" });
  }
  const imagesDir = join(options.dataDir, IMAGES_DIR);
  const target = join(imagesDir, label);
  if (
    await stat(target).then(
      () => true,
      () => false,
    )
  ) {
    throw new ReconError("USAGE", `${target} already exists: the data partition holds an image labelled ${label}`, {
      hint: `remove it first (rm -r ${target}) to replace it; the master reads images at start`,
      exitCode: 2,
    });
  }
  await mkdir(imagesDir, { recursive: true, mode: 0o755 });
  const partial = join(imagesDir, `.${label}.partial-${process.pid}`);
  await rm(partial, { recursive: true, force: true });
  const paths = [`isos/${label}.iso`, `install/${label}/linux`, `install/${label}/initrd`, `install/${label}/boot.json`];
  try {
    await mkdir(join(partial, "isos"), { recursive: true, mode: 0o755 });
    await mkdir(join(partial, "install", label), { recursive: true, mode: 0o755 });
    const files: AddedImage["files"] = [];
    for (const path of paths) {
      const read = await copyHashed(join(source, path), join(partial, path));
      const written = await sha256Of(join(partial, path));
      if (written !== read) {
        throw new ReconError("IO", `the copy of ${path} reads back as sha256 ${written}, the source read as ${read}`, {
          hint: "the data partition may be failing: check dmesg, then run recon images add again",
        });
      }
      files.push({ path, sizeBytes: (await stat(join(partial, path))).size, sha256: written });
    }
    const bootJson = JSON.parse(await readFile(join(partial, `install/${label}/boot.json`), "utf8")) as { iso?: { sha256?: unknown } };
    const isoSum = files[0]!.sha256;
    if (typeof bootJson.iso?.sha256 === "string" && bootJson.iso.sha256 !== isoSum) {
      throw new ReconError("ARTEFACT_MISSING", `${source}/isos/${label}.iso has sha256 ${isoSum}, but its boot.json records ${bootJson.iso.sha256}`, {
        hint: "the ISO changed after the http target was made: build the http target again",
      });
    }
    await writeFileAtomic(join(partial, IMAGE_SUMS_FILE), files.map((file) => `${file.sha256}  ${file.path}\n`).join(""));
    for (const dir of [join(partial, "install", label), join(partial, "install"), join(partial, "isos"), partial]) await fsyncDir(dir);
    await rename(partial, target);
    await fsyncDir(imagesDir);
    return { label, dir: target, files };
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    throw error;
  }
}
