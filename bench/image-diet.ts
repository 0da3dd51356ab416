/**
 * The image diet (issue #14 item 1): what each cut in src/build/image-cuts.ts would take off the
 * debian-12 ISO. Baseline, measured in the same run: the real ISO's size, its squashfs and its
 * initrd. For each cut: files and bytes it removes from the image root (uncompressed), those files
 * compressed the way the squashfs is (tar | zstd -15, the level mksquashfs uses for zstd, with a
 * 1 MiB window like kiwi's 1 MiB blocks), scaled by the root's measured ratio (the real squashfs
 * over the same estimate of the whole tree), and what it takes off the initrd (dracut builds that
 * from the root after config.sh, so a module or firmware file cut there leaves it too: its bytes in
 * the initrd times the initrd's own compression ratio). Then the projected ISO, the ratio to
 * today's, and whether it reaches 250 MB. Read-only on the root; every compressor under nice -n 19,
 * one thread. Prints one JSON object.
 *   node --import tsx bench/image-diet.ts [--root DIR] [--iso FILE] [recipe]
 * Default root: kiwi's build/<recipe>/image-DracutLive/build/image-root; default ISO: the build stamp's.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { join, posix } from "node:path";
import { parseArgs } from "node:util";
import { execa } from "execa";
import { compileCuts, IMAGE_CUTS, type ImageCut } from "../src/build/image-cuts.js";
import { checkImageNeeds, describeMissing } from "../src/build/image-needs.js";
import { initrdToCpio } from "../test/helpers/image-inspect.js";

const TARGET_ISO_BYTES = 250_000_000;
// KIWI's <type efifatimagesize> (MB; default 20): the appended EFI FAT partition is stored whole, used or not.
const EFI_FAT_PROPOSED_BYTES = 8 * 1024 * 1024;
const ZSTD_ARGS = ["-15", "-T1", "--zstd=wlog=20", "-q", "-c"];

const { values, positionals } = parseArgs({ options: { root: { type: "string" }, iso: { type: "string" } }, allowPositionals: true });
const recipe = positionals[0] ?? "debian-12";
const repo = join(import.meta.dirname, "..");
const buildDir = join(repo, "build", recipe);
const imageRoot = values.root ?? join(buildDir, "image-DracutLive", "build", "image-root");
const iso = values.iso ?? join(repo, (JSON.parse(await readFile(join(buildDir, "image-DracutLive.json"), "utf8")) as { image: string }).image);

/** Bytes of `files` (relative to cwd) as tar | zstd, counted, not kept. */
async function zstdBytes(cwd: string, files: string[]): Promise<number> {
  if (files.length === 0) return 0;
  const tar = spawn("nice", ["-n", "19", "tar", "-c", "-f", "-", "--no-recursion", "--null", "-T", "-"], { cwd, stdio: ["pipe", "pipe", "inherit"] });
  const zstd = spawn("nice", ["-n", "19", "zstd", ...ZSTD_ARGS], { stdio: ["pipe", "pipe", "inherit"] });
  tar.stdout.pipe(zstd.stdin);
  let bytes = 0;
  zstd.stdout.on("data", (chunk: Buffer) => (bytes += chunk.length));
  const done = (child: ReturnType<typeof spawn>, name: string) =>
    new Promise<void>((resolve, reject) => child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${name} exited ${code}`)))));
  tar.stdin.end(files.join("\0"));
  await Promise.all([done(tar, "tar"), done(zstd, "zstd")]);
  return bytes;
}

/** Size of one file inside the ISO (`xorriso -lsdl`). */
async function isoFileBytes(path: string): Promise<number> {
  const { stdout } = await execa("xorriso", ["-indev", iso, "-lsdl", path], { stderr: "ignore" });
  const size = /^\S+\s+\d+\s+\S+\s+\S+\s+(\d+)\s/m.exec(stdout)?.[1];
  if (!size) throw new Error(`xorriso -lsdl ${path}: no size in ${stdout.slice(0, 200)}`);
  return Number(size);
}

interface Tally {
  files: string[];
  bytes: number;
}

const started = Date.now();
const compiled = compileCuts();
const perCut = new Map<ImageCut, Tally>(IMAGE_CUTS.map((cut) => [cut, { files: [], bytes: 0 }]));
const rest: Tally = { files: [], bytes: 0 };
for (const entry of await readdir(imageRoot, { withFileTypes: true, recursive: true })) {
  if (!entry.isFile()) continue;
  const path = posix.relative(imageRoot, join(entry.parentPath, entry.name));
  if (/^(proc|sys|dev|run)\//.test(path)) continue;
  const size = (await stat(join(imageRoot, path))).size;
  const cut = compiled.find((c) => c.matches(path))?.cut;
  const tally = (cut && perCut.get(cut)) ?? rest;
  tally.files.push(path);
  tally.bytes += size;
}

// Baseline, this run: the ISO, its squashfs, its initrd (and what the initrd holds, uncompressed).
const isoBytes = (await stat(iso)).size;
const squashfsBytes = await isoFileBytes("/LiveOS/squashfs.img");
const initrdBytes = await isoFileBytes("/boot/x86_64/loader/initrd");
const systemArea = await execa("xorriso", ["-indev", iso, "-report_system_area", "plain"], { stderr: "ignore" });
const efiBlocks = /^MBR partition\s*:\s*\d+\s+0x\S+\s+0xef\s+\d+\s+(\d+)\s*$/m.exec(systemArea.stdout)?.[1];
const efiPartitionBytes = efiBlocks ? Number(efiBlocks) * 512 : 0;
const efiSaved = Math.max(0, efiPartitionBytes - EFI_FAT_PROPOSED_BYTES);
const work = await mkdtemp(join("/var/tmp", "recon-bench-diet-"));
try {
  await execa("xorriso", ["-osirrox", "on", "-indev", iso, "-extract", "/boot/x86_64/loader/initrd", join(work, "initrd")], { stdio: "ignore" });
  await initrdToCpio(join(work, "initrd"), join(work, "initrd.cpio"));
  const initrdCpioBytes = (await stat(join(work, "initrd.cpio"))).size;
  const listing = await execa("cpio", ["-tv", "--quiet"], { inputFile: join(work, "initrd.cpio") });
  const initrdFiles: { path: string; bytes: number }[] = [];
  for (const line of listing.stdout.split("\n")) {
    const match = /^-\S+\s+\d+\s+\S+\s+\S+\s+(\d+)\s+.*\s(\S+)$/.exec(line);
    if (match) initrdFiles.push({ path: match[2]!.replace(/^\.?\//, ""), bytes: Number(match[1]) });
  }
  const initrdRatio = initrdBytes / initrdCpioBytes;
  // dracut's compress="zstd" (dracut 059: zstd -15 -q -T0; one thread here): the initrd lever beside the cuts.
  const initrdZstd = await new Promise<number>((resolve, reject) => {
    const child = spawn("nice", ["-n", "19", "zstd", "-15", "-T1", "-q", "-c", join(work, "initrd.cpio")], { stdio: ["ignore", "pipe", "inherit"] });
    let bytes = 0;
    child.stdout.on("data", (chunk: Buffer) => (bytes += chunk.length));
    child.on("close", (code) => (code === 0 ? resolve(bytes) : reject(new Error(`zstd exited ${code}`))));
  });

  const estimates: { cut: ImageCut; tally: Tally; zstd: number }[] = [];
  for (const [cut, tally] of perCut) estimates.push({ cut, tally, zstd: await zstdBytes(imageRoot, tally.files) });
  const restZstd = await zstdBytes(imageRoot, rest.files);
  // The squashfs holds an ext4 image of the tree (metadata, 1 MiB blocks): scale the per-file estimate to it.
  const scale = squashfsBytes / (restZstd + estimates.reduce((sum, e) => sum + e.zstd, 0));

  let cumulativeIso = isoBytes;
  const cuts = estimates.map(({ cut, tally, zstd }) => {
    const squashfsSaved = Math.round(zstd * scale);
    const match = compileCuts([cut])[0]!;
    const inInitrd = initrdFiles.filter((file) => match.matches(file.path));
    const initrdUncompressed = inInitrd.reduce((sum, file) => sum + file.bytes, 0);
    const initrdSaved = Math.round(initrdUncompressed * initrdRatio);
    cumulativeIso -= squashfsSaved + initrdSaved;
    return {
      id: cut.id,
      ...(cut.risk && { risk: cut.risk }),
      files: tally.files.length,
      bytes: tally.bytes,
      zstdBytes: zstd,
      squashfsSavedBytes: squashfsSaved,
      initrd: { files: inInitrd.length, bytes: initrdUncompressed, savedBytes: initrdSaved },
      isoAfterThisCutAloneBytes: isoBytes - squashfsSaved - initrdSaved,
      isoAfterCumulativeBytes: cumulativeIso,
    };
  });
  const sum = (list: typeof cuts, key: "squashfsSavedBytes" | "bytes") => list.reduce((s, c) => s + c[key], 0);
  const project = (list: typeof cuts) => {
    const squashfs = squashfsBytes - sum(list, "squashfsSavedBytes");
    const initrd = initrdBytes - list.reduce((s, c) => s + c.initrd.savedBytes, 0);
    const isoProjected = isoBytes - (squashfsBytes - squashfs) - (initrdBytes - initrd);
    // The initrd lever: the same content, compressed with zstd -15 instead of gzip -9.
    const initrdWithZstd = Math.round(initrd * (initrdZstd / initrdBytes));
    const isoWithZstdInitrd = isoProjected - (initrd - initrdWithZstd);
    const isoWithLevers = isoWithZstdInitrd - efiSaved;
    return {
      removedBytes: sum(list, "bytes"),
      squashfsBytes: squashfs,
      initrdBytes: initrd,
      isoBytes: isoProjected,
      ratioToBaseline: Math.round((isoProjected / isoBytes) * 1000) / 1000,
      reaches250MB: isoProjected <= TARGET_ISO_BYTES,
      withZstdInitrd: { initrdBytes: initrdWithZstd, isoBytes: isoWithZstdInitrd, reaches250MB: isoWithZstdInitrd <= TARGET_ISO_BYTES },
      withZstdInitrdAndEfiFat8MiB: { isoBytes: isoWithLevers, reaches250MB: isoWithLevers <= TARGET_ISO_BYTES },
    };
  };
  const needs = await checkImageNeeds(imageRoot);

  console.log(
    JSON.stringify(
      {
        bench: "image-diet",
        recipe,
        root: imageRoot,
        baseline: "the ISO as built, measured in this run",
        iso: {
          path: iso,
          bytes: isoBytes,
          squashfsBytes,
          initrdBytes,
          initrdUncompressedBytes: initrdCpioBytes,
          initrdCompression: "gzip -9 (dracut's default)",
        },
        estimate: {
          compressor: `tar | zstd ${ZSTD_ARGS.join(" ")}`,
          restFiles: rest.files.length,
          restBytes: rest.bytes,
          restZstdBytes: restZstd,
          squashfsScale: Math.round(scale * 1000) / 1000,
        },
        cuts,
        projected: { all: project(cuts), withoutRisky: project(cuts.filter((c) => !("risk" in c))) },
        levers: {
          initrdZstd: { bytes: initrdZstd, savedBytes: initrdBytes - initrdZstd },
          efiFatImage: { partitionBytes: efiPartitionBytes, proposedBytes: EFI_FAT_PROPOSED_BYTES, savedBytes: efiSaved },
        },
        targetIsoBytes: TARGET_ISO_BYTES,
        needsInThisRoot: { missing: describeMissing(needs), checked: needs.checked },
        durationMs: Date.now() - started,
        at: new Date().toISOString(),
      },
      null,
      1,
    ),
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
