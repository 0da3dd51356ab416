/**
 * The apply step of an image build: run kiwi-ng on a written description, report progress by
 * stage, keep the full log in a file, and reuse a result whose description hash is unchanged.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { copyFile, link, mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { writeFileAtomic } from "../lib/atomic-write.js";
import { acquireLock } from "../lib/lock-file.js";
import { ReconError } from "../lib/errors.js";
import type { Logger } from "../lib/log.js";
import { lastLines, type CommandRunner } from "../lib/run.js";
import {
  formatDuration,
  formatProgress,
  kiwiErrorHint,
  reduceBuildProgress,
  runKiwi,
  type BuildProgress,
} from "./kiwi.js";
import type { Profile, Recipe } from "./recipe.js";
import type { ResolvedRepository } from "./render-config-xml.js";
import { checkRepositories, unreachableRepositoryError } from "./repository-reach.js";
import { REQUIRED_ROOT_PATHS, verifyLiveRoot } from "./verify-live-root.js";
import { unmountLeftovers } from "./leftover-mounts.js";
import { pathExists } from "../lib/path-exists.js";

export interface BuildImageOptions {
  recipe: string;
  profile: Profile;
  descriptionDir: string;
  descriptionHash: string;
  /** build/<recipe>: kiwi's target dir, log and stamp go below it. */
  recipeBuildDir: string;
  sharedCacheDir: string;
  /** Optional cache of finished images keyed by description hash (outside the work tree). */
  imageCacheDir?: string;
  force?: boolean;
  /**
   * The recipe and its resolved repositories: probed (curl, bounded) before kiwi runs, and named
   * with the mirror hint when kiwi's own log says a repository failed.
   */
  repositories?: { recipe: Recipe; resolved: ResolvedRepository[] };
}

export interface BuildImageResult {
  image: string;
  logFile: string;
  reused: "no" | "build-dir" | "image-cache";
  durationMs: number;
  sizeBytes: number;
}

/** Set by `repack` (repack.ts): the image no longer is what the recipe builds. */
export interface HandChangeSummary {
  repackedAt: string;
  extractedAt: string;
  /** The commands run in `shell`, "(interactive shell)" for a terminal session. */
  commands: string[];
  /** The ISO kiwi-ng built, before the hand changes. */
  baseIsoSha256: string;
}

export interface Stamp {
  recipe: string;
  profile: Profile;
  descriptionHash: string;
  image: string;
  durationMs: number;
  finishedAt: string;
  changedByHand?: HandChangeSummary;
}

const RESULT_SUFFIX: Record<Profile, RegExp> = {
  DracutLive: /\.iso$/,
  Virtual: /\.raw$/,
  Disk: /\.install\.iso$/,
};

export function profileTargetDir(recipeBuildDir: string, profile: Profile): string {
  return join(recipeBuildDir, `image-${profile}`);
}

export function stampPath(recipeBuildDir: string, profile: Profile): string {
  return join(recipeBuildDir, `image-${profile}.json`);
}

export async function readStamp(recipeBuildDir: string, profile: Profile): Promise<Stamp | undefined> {
  try {
    return JSON.parse(await readFile(stampPath(recipeBuildDir, profile), "utf8")) as Stamp;
  } catch {
    return undefined;
  }
}

async function findResult(targetDir: string, profile: Profile): Promise<string | undefined> {
  const names = await readdir(targetDir).catch(() => [] as string[]);
  const suffix = RESULT_SUFFIX[profile];
  const matches = names.filter((n) => suffix.test(n) && !(profile === "DracutLive" && n.endsWith(".install.iso")));
  return matches.length ? join(targetDir, matches.sort()[0]!) : undefined;
}

/** sha256 of a file, streamed (a 425 MB ISO takes about a second). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * An image reused from the cache or the build dir must still be the bytes kiwi wrote: a VM given
 * the file instead of a copy, or a crash mid-copy, would otherwise hand every later run (and CI)
 * a broken ISO. The digest is written next to the image when it is built.
 */
async function intact(image: string): Promise<boolean> {
  const recorded = (await readFile(`${image}.sha256`, "utf8").catch(() => "")).trim().split(/\s+/)[0];
  return recorded !== undefined && recorded.length === 64 && recorded === (await sha256File(image));
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  await rm(to, { force: true });
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}

/**
 * Removes a profile's target dir, first unmounting what a killed kiwi left mounted in its image root
 * (leftover-mounts.ts); the caller holds the build dir's lock, so no kiwi of this dir is running.
 */
async function clearTargetDir(targetDir: string, runner: CommandRunner, log: Logger): Promise<void> {
  const unmounted = await unmountLeftovers(runner, resolve(targetDir));
  if (unmounted.length > 0) log.warn("unmounted what an earlier, killed build left mounted", { dir: targetDir, mounts: unmounted.length, first: unmounted.at(-1) });
  await rm(targetDir, { recursive: true, force: true });
}

export async function buildImage(
  options: BuildImageOptions,
  deps: {
    runner: CommandRunner;
    log: Logger;
    now?: () => number;
    /** The finished-ISO check (verify-live-root.ts); unit tests of the cache logic replace it. */
    verifyLiveRoot?: (runner: CommandRunner, iso: string, workDir: string) => Promise<void>;
  },
): Promise<BuildImageResult> {
  const now = deps.now ?? Date.now;
  const started = now();
  const { recipeBuildDir, profile } = options;
  const targetDir = profileTargetDir(recipeBuildDir, profile);
  const logFile = join(recipeBuildDir, `kiwi-${profile}.log`);
  const log = deps.log.child({ recipe: options.recipe, profile });

  const stamp = await readStamp(recipeBuildDir, profile);
  const handChanged = stamp?.changedByHand && (await pathExists(stamp.image)) ? stamp.changedByHand : undefined;
  const handFields = handChanged && { image: stamp?.image, repacked_at: handChanged.repackedAt, commands: handChanged.commands.length };
  if (!options.force && stamp?.descriptionHash === options.descriptionHash && (await pathExists(stamp.image)) && !(await intact(stamp.image))) {
    log.warn("the built image no longer matches its recorded sha256; rebuilding", { image: stamp.image });
  } else if (!options.force && stamp?.descriptionHash === options.descriptionHash && (await pathExists(stamp.image))) {
    if (handFields) log.warn("this image was changed by hand (shell, repack) and no longer follows the recipe; FORCE=1 rebuilds it from the recipe", handFields);
    else log.info("image up to date (same description hash); use FORCE=1 to rebuild", { image: stamp.image });
    return { image: stamp.image, logFile, reused: "build-dir", durationMs: 0, sizeBytes: (await stat(stamp.image)).size };
  }

  if (handFields) log.warn("the image at this path was changed by hand (shell, repack); it is replaced by one built from the recipe", handFields);
  const cached = options.imageCacheDir ? join(options.imageCacheDir, options.descriptionHash) : undefined;
  if (!options.force && cached) {
    let image = await findResult(cached, profile);
    if (image && !(await intact(image))) {
      log.warn("the cached image does not match its recorded sha256 (changed after it was built, or cached by an older recon); dropping it", { image });
      await rm(cached, { recursive: true, force: true });
      image = undefined;
    }
    if (image) {
      await clearTargetDir(targetDir, deps.runner, log);
      await mkdir(targetDir, { recursive: true });
      const local = join(targetDir, image.slice(cached.length + 1));
      await linkOrCopy(image, local);
      await linkOrCopy(`${image}.sha256`, `${local}.sha256`);
      await writeStamp(recipeBuildDir, { recipe: options.recipe, profile, descriptionHash: options.descriptionHash, image: local, durationMs: 0, finishedAt: new Date().toISOString() });
      log.info("image taken from the image cache (same description hash)", { image: local, cache: cached });
      return { image: local, logFile, reused: "image-cache", durationMs: now() - started, sizeBytes: (await stat(local)).size };
    }
  }

  // Seconds, not a kiwi run, to learn that a repository is out of reach (or moved: EOL releases).
  if (options.repositories) {
    await checkRepositories(options.repositories.recipe, options.repositories.resolved, { runner: deps.runner, log }, `build ${options.recipe}/${profile} stopped in stage 'prepare'`);
  }

  // kiwi refuses an existing root tree; the package cache (sharedCacheDir) is kept.
  await clearTargetDir(targetDir, deps.runner, log);
  await rm(stampPath(recipeBuildDir, profile), { force: true });
  await mkdir(targetDir, { recursive: true });
  await rm(logFile, { force: true });
  // kiwi imports repository keys with gpg, which needs an existing private GNUPGHOME.
  const gnupgHome = join(recipeBuildDir, "gnupg");
  await mkdir(gnupgHome, { recursive: true, mode: 0o700 });

  // kiwi's package cache is shared by every build on this machine (other recipes, other
  // clones): one kiwi at a time, so two apt runs never write the same cached package.
  await mkdir(options.sharedCacheDir, { recursive: true });
  const cacheLock = await acquireLock(join(options.sharedCacheDir, ".recon-build.lock"), { log, what: `kiwi's shared cache ${options.sharedCacheDir}` });
  log.info("kiwi-ng build started", { log: logFile, target: targetDir });
  let progress: BuildProgress = { stage: "starting", packagesDone: 0 };
  let lastShown = "";
  let lastShownAt = 0;
  const result = await runKiwi(
    deps.runner,
    { descriptionDir: options.descriptionDir, targetDir, profile, logFile, sharedCacheDir: options.sharedCacheDir },
    (event) => {
      const before = progress.stage;
      progress = reduceBuildProgress(progress, event);
      const line = formatProgress(progress, now() - started);
      const stageChanged = progress.stage !== before;
      // Stage changes always show; package counts at most every 5 s.
      if (stageChanged || (line !== lastShown && now() - lastShownAt >= 5000)) {
        log.info("progress", {
          stage: progress.stage,
          packages:
            progress.stage === "packages" && progress.packagesDone
              ? `${progress.packagesDone}/${progress.packagesTotal ?? "?"}`
              : undefined,
          elapsed: formatDuration(now() - started),
          line,
        });
        lastShown = line;
        lastShownAt = now();
      }
    },
    { GNUPGHOME: gnupgHome },
  ).finally(() => cacheLock.release());
  const durationMs = now() - started;
  if (result.exitCode !== 0) {
    const tail = await readFile(logFile, "utf8").then((t) => lastLines(t, 25), () => lastLines(result.stdout + result.stderr, 25));
    if (progress.failedRepositories?.length && options.repositories) {
      const failed = progress.failedRepositories.map((r) => ({ ...r, reason: "zypper: valid metadata not found" }));
      const error = unreachableRepositoryError(options.repositories.recipe, failed, `kiwi-ng stopped ${options.recipe}/${profile} after ${formatDuration(durationMs)} (exit ${result.exitCode}) in stage '${progress.stage}'`);
      throw new ReconError(error.code, `${error.message}\n--- last lines of ${logFile} ---\n${tail}`, { hint: `${error.hint}; the full kiwi log is ${logFile}` });
    }
    throw new ReconError("KIWI_FAILED", `kiwi-ng failed for ${options.recipe}/${profile} after ${formatDuration(durationMs)} (exit ${result.exitCode}) in stage '${progress.stage}'${progress.lastError ? `: ${progress.lastError}` : ""}\n--- last lines of ${logFile} ---\n${tail}`, {
      hint: `${kiwiErrorHint(progress.lastError)}the full kiwi log is ${logFile}`,
    });
  }
  const image = await findResult(targetDir, profile);
  if (!image) {
    throw new ReconError("ARTEFACT_MISSING", `kiwi-ng finished but left no ${RESULT_SUFFIX[profile].source} file in ${targetDir}`, {
      hint: `see ${logFile}`,
    });
  }
  // An ISO whose root is empty must never be recorded, cached or booted (verify-live-root.ts).
  if (profile === "DracutLive") {
    await (deps.verifyLiveRoot ?? verifyLiveRoot)(deps.runner, image, recipeBuildDir);
    log.info("image root checked", { image, paths: REQUIRED_ROOT_PATHS.length });
  }
  const digest = await sha256File(image);
  await writeFileAtomic(`${image}.sha256`, `${digest}  ${basename(image)}\n`);
  await writeStamp(recipeBuildDir, { recipe: options.recipe, profile, descriptionHash: options.descriptionHash, image, durationMs, finishedAt: new Date().toISOString() });
  if (cached) {
    await mkdir(cached, { recursive: true });
    const cachedImage = join(cached, image.slice(targetDir.length + 1));
    // Digest first: an image in the cache without one is never reused.
    await linkOrCopy(`${image}.sha256`, `${cachedImage}.sha256`);
    await linkOrCopy(image, cachedImage);
  }
  const sizeBytes = (await stat(image)).size;
  log.info("image built", { image, sizeBytes, duration: formatDuration(durationMs), log: logFile });
  return { image, logFile, reused: "no", durationMs, sizeBytes };
}

export async function writeStamp(recipeBuildDir: string, stamp: Stamp): Promise<void> {
  await writeFileAtomic(stampPath(recipeBuildDir, stamp.profile), `${JSON.stringify(stamp, null, 2)}\n`);
}
