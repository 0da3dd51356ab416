/**
 * kiwi-ng: argument builder, output classifier (both pure) and a thin runner.
 */
import type { CommandRunner, RunResult } from "../lib/run.js";
import type { Profile } from "./recipe.js";

export interface KiwiBuildArgs {
  descriptionDir: string;
  targetDir: string;
  profile: Profile;
  logFile: string;
  /** KIWI's package cache; shared by every recipe and never removed by `clean`. */
  sharedCacheDir: string;
}

export function kiwiBuildArgs(options: KiwiBuildArgs): string[] {
  return [
    "--debug",
    `--profile=${options.profile}`,
    `--logfile=${options.logFile}`,
    `--shared-cache-dir=${options.sharedCacheDir}`,
    "system",
    "build",
    `--description=${options.descriptionDir}`,
    `--target-dir=${options.targetDir}`,
  ];
}

export const BUILD_STAGES = ["prepare", "packages", "configure", "root filesystem", "squashfs", "image"] as const;
export type BuildStage = (typeof BUILD_STAGES)[number];

export type KiwiEvent =
  | { kind: "stage"; stage: BuildStage; detail: string }
  | { kind: "packages-total"; total: number }
  | { kind: "package-done"; name: string }
  | { kind: "error"; message: string }
  | { kind: "repository-failed"; alias: string; url: string }
  | { kind: "result"; path: string };

/** `[ INFO    ]: 22:41:56 | text` → `text`; other lines (apt, dpkg output) stay as they are. */
export function stripKiwiPrefix(line: string): { level?: string; text: string } {
  const match = /^\[\s*([A-Z]+)\s*\]:\s+\d\d:\d\d:\d\d \| ?(.*)$/.exec(line);
  if (!match) return { text: line };
  // --debug tags the output of the package manager with its phase: `system: Setting up …`.
  return { level: match[1]!, text: match[2]!.replace(/^(?:system|bootstrap): /, "") };
}

const STAGE_PATTERNS: Array<[RegExp, BuildStage]> = [
  [/^Preparing new root system/, "prepare"],
  [/^Installing bootstrap packages/, "prepare"],
  [/^Installing system \(chroot\)/, "packages"],
  [/^Calling config\.sh script/, "configure"],
  [/^Creating system image/, "root filesystem"],
  [/Creating squashfs container/, "squashfs"],
  [/^Creating live ISO image/, "image"],
  [/^Creating raw disk image|^Creating install image|^Creating disk image/, "image"],
];

/** Classifies one line of kiwi-ng --debug output. Pure. */
export function classifyKiwiLine(line: string): KiwiEvent | undefined {
  const { level, text } = stripKiwiPrefix(line);
  if (level === "ERROR") return { kind: "error", message: text };
  // zypper, inside kiwi's error: "[leap-15.1-oss|http://…/repo/oss/] Valid metadata not found at specified URL"
  const repo = /^\[([^|\]]+)\|([^\]]+)\] Valid metadata not found at specified URL/.exec(text);
  if (repo) return { kind: "repository-failed", alias: repo[1]!, url: repo[2]! };
  for (const [pattern, stage] of STAGE_PATTERNS) {
    if (pattern.test(text)) return { kind: "stage", stage, detail: text };
  }
  // apt: "2 upgraded, 124 newly installed, 0 to remove and 7 not upgraded."
  const total = /^(\d+) upgraded, (\d+) newly installed\b/.exec(text);
  if (total) return { kind: "packages-total", total: Number(total[1]) + Number(total[2]) };
  const done = /^Setting up ([^\s:]+)(?::\w+)? \(/.exec(text);
  if (done) return { kind: "package-done", name: done[1]! };
  const result = /--> (?:live_image|disk_image|installation_image|image_packages)?:?\s*(\S+\.(?:iso|raw|install\.iso))$/.exec(text);
  if (result) return { kind: "result", path: result[1]! };
  return undefined;
}

/**
 * What to do about kiwi's last error, when recon knows (with a trailing "; "), else "". Pure.
 * kiwi checks for the host tools a package manager needs only when it gets there: on a host
 * without rpm, a zypper recipe stops with `KiwiCommandNotFound: Command "rpmdb" not found`.
 */
export function kiwiErrorHint(lastError: string | undefined): string {
  const missing = lastError && /^KiwiCommandNotFound: Command "([^"]+)" not found/.exec(lastError);
  return missing ? `the build host lacks '${missing[1]}': run scripts/install-host-tools.sh build as root (it installs what kiwi needs, rpm and zypper included); ` : "";
}

export interface BuildProgress {
  stage: BuildStage | "starting";
  packagesDone: number;
  packagesTotal?: number;
  lastError?: string;
  /** Repositories zypper could not read metadata from (kiwi's log, in stage prepare). */
  failedRepositories?: Array<{ alias: string; url: string }>;
}

export function reduceBuildProgress(progress: BuildProgress, event: KiwiEvent): BuildProgress {
  switch (event.kind) {
    case "stage":
      return { ...progress, stage: event.stage };
    case "packages-total":
      // apt reports once per install transaction; the image packages are the big one.
      return progress.stage === "packages"
        ? { ...progress, packagesTotal: (progress.packagesTotal ?? 0) + event.total }
        : progress;
    case "package-done":
      return progress.stage === "packages" ? { ...progress, packagesDone: progress.packagesDone + 1 } : progress;
    case "error":
      return { ...progress, lastError: event.message };
    case "repository-failed":
      return progress.failedRepositories?.some((r) => r.url === event.url)
        ? progress
        : { ...progress, failedRepositories: [...(progress.failedRepositories ?? []), { alias: event.alias, url: event.url }] };
    case "result":
      return progress;
  }
}

/** One human line per change worth showing: `[3/6] packages 45/157`. */
export function formatProgress(progress: BuildProgress, elapsedMs: number): string {
  const index = progress.stage === "starting" ? 0 : BUILD_STAGES.indexOf(progress.stage) + 1;
  let text = `[${index}/${BUILD_STAGES.length}] ${progress.stage}`;
  if (progress.stage === "packages" && progress.packagesDone > 0) {
    text += ` ${progress.packagesDone}/${progress.packagesTotal ?? "?"}`;
  }
  return `${text} (${formatDuration(elapsedMs)})`;
}

export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return m > 0 ? `${m}m${String(s).padStart(2, "0")}s` : `${s}s`;
}

export async function runKiwi(
  runner: CommandRunner,
  args: KiwiBuildArgs,
  onEvent: (event: KiwiEvent) => void,
  env: Record<string, string> = {},
): Promise<RunResult> {
  return runner.run("kiwi-ng", kiwiBuildArgs(args), {
    env,
    onLine: (line) => {
      const event = classifyKiwiLine(line);
      if (event) onEvent(event);
    },
  });
}
