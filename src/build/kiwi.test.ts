import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  classifyKiwiLine,
  formatProgress,
  kiwiBuildArgs,
  kiwiErrorHint,
  reduceBuildProgress,
  type BuildProgress,
  type KiwiEvent,
} from "./kiwi.js";

// Lines cut from a real `kiwi-ng --debug` build of debian-12 (kiwi 9.24) in this lab.
const excerpt = await readFile(
  join(import.meta.dirname, "../../test/fixtures/kiwi/debian-12-dracutlive.excerpt.log"),
  "utf8",
);

describe("kiwiBuildArgs", () => {
  it("builds one profile with a log file and the shared package cache", () => {
    expect(
      kiwiBuildArgs({
        descriptionDir: "build/debian-12/description",
        targetDir: "build/debian-12/image-DracutLive",
        profile: "DracutLive",
        logFile: "build/debian-12/kiwi-DracutLive.log",
        sharedCacheDir: "/var/cache/kiwi",
      }),
    ).toEqual([
      "--debug",
      "--profile=DracutLive",
      "--logfile=build/debian-12/kiwi-DracutLive.log",
      "--shared-cache-dir=/var/cache/kiwi",
      "system",
      "build",
      "--description=build/debian-12/description",
      "--target-dir=build/debian-12/image-DracutLive",
    ]);
  });
});

describe("classifyKiwiLine on real kiwi output", () => {
  const events = excerpt.split("\n").filter(Boolean).map(classifyKiwiLine).filter((e): e is KiwiEvent => e !== undefined);

  it("finds the stages, the package count and the error in order", () => {
    expect(events).toEqual([
      { kind: "stage", stage: "prepare", detail: "Preparing new root system" },
      { kind: "stage", stage: "prepare", detail: "Installing bootstrap packages" },
      { kind: "stage", stage: "packages", detail: "Installing system (chroot) for build type: iso" },
      { kind: "packages-total", total: 126 },
      { kind: "package-done", name: "perl-base" },
      { kind: "package-done", name: "libargon2-1" },
      { kind: "package-done", name: "libjson-c5" },
      { kind: "stage", stage: "configure", detail: "Calling config.sh script" },
      { kind: "stage", stage: "root filesystem", detail: "Creating system image" },
      { kind: "stage", stage: "squashfs", detail: "--> Creating squashfs container for root image" },
      { kind: "error", message: "KiwiCommandError: chroot: stderr: Locale en_US.UTF-8 is not installed." },
    ]);
  });

  it("counts packages only in the packages stage and shows n/m", () => {
    let progress: BuildProgress = { stage: "starting", packagesDone: 0 };
    const shown: string[] = [];
    for (const event of events) {
      progress = reduceBuildProgress(progress, event);
      shown.push(formatProgress(progress, 65_000));
    }
    expect(shown).toContain("[2/6] packages 3/126 (1m05s)");
    expect(progress.stage).toBe("squashfs");
    expect(progress.packagesDone).toBe(3);
    expect(progress.lastError).toContain("Locale en_US.UTF-8");
  });

  it("ignores the bootstrap's own unpack lines and unrelated text", () => {
    expect(classifyKiwiLine("[ DEBUG   ]: 22:46:16 | bootstrap: I: Unpacking apt...")).toBeUndefined();
    expect(classifyKiwiLine("random text")).toBeUndefined();
  });
});

// Lines cut from a real suse-leap-15.1 build here, with no openSUSE host reachable.
const unreachable = await readFile(
  join(import.meta.dirname, "../../test/fixtures/kiwi/suse-leap-15.1-unreachable.excerpt.log"),
  "utf8",
);

describe("classifyKiwiLine on a zypper build whose repositories cannot be read", () => {
  const events = unreachable.split("\n").filter(Boolean).map(classifyKiwiLine).filter((e): e is KiwiEvent => e !== undefined);

  it("names each repository zypper found no metadata for, after kiwi's error", () => {
    expect(events).toEqual([
      { kind: "error", message: "KiwiBootStrapPhaseFailed: Bootstrap package installation failed: Repository 'leap-15.1-oss' is invalid." },
      { kind: "repository-failed", alias: "leap-15.1-oss", url: "http://download.opensuse.org/distribution/leap/15.1/repo/oss/" },
      { kind: "repository-failed", alias: "leap-15.1-update-oss", url: "http://download.opensuse.org/update/leap/15.1/oss/" },
    ]);
  });

  it("keeps the failed repositories in the progress, each once", () => {
    let progress: BuildProgress = { stage: "prepare", packagesDone: 0 };
    for (const event of [...events, ...events]) progress = reduceBuildProgress(progress, event);
    expect(progress.stage).toBe("prepare");
    expect(progress.failedRepositories).toEqual([
      { alias: "leap-15.1-oss", url: "http://download.opensuse.org/distribution/leap/15.1/repo/oss/" },
      { alias: "leap-15.1-update-oss", url: "http://download.opensuse.org/update/leap/15.1/oss/" },
    ]);
  });
});

describe("kiwiErrorHint", () => {
  it("points a missing host command at the host-tools script", () => {
    // kiwi's error as issue #9 item 11 quotes it (suse-leap-15.1 on a host without rpm).
    expect(kiwiErrorHint('KiwiCommandNotFound: Command "rpmdb" not found')).toContain("lacks 'rpmdb': run scripts/install-host-tools.sh build");
    expect(kiwiErrorHint("KiwiCommandError: chroot: stderr: Locale en_US.UTF-8 is not installed.")).toBe("");
    expect(kiwiErrorHint(undefined)).toBe("");
  });
});
