/**
 * `shell` and `repack` for real, on the ISO the e2e suite already builds (buildLiveIso: built once
 * per run or taken from the image cache): a file added with `shell` is in the repacked ISO's root,
 * the repacked ISO boots the way the built one does (volume id, El Torito entries, MBR), the image
 * says it was changed by hand, `target` warns, and repack is timed against the recorded kiwi build.
 *
 * Works in its own build dir under /var/tmp (BUILD_DIR=), the ISO hard-linked in, so the build dir
 * the other e2e files use and the image cache keep kiwi's bytes (checked at the end). The repack
 * runs under flock /tmp/recon-heavy.lock like every whole-image job on this machine.
 */
import { copyFile, link, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildImage, sha256File } from "../../src/build/build-image.js";
import { verifyLiveRoot } from "../../src/build/verify-live-root.js";
import { readBootRecords } from "../../src/build/xorriso.js";
import { type CommandRunner, execaRunner } from "../../src/lib/run.js";
import { createLogger } from "../../src/lib/log.js";
import { debugfs, elToritoPlatforms, extractRootfs, readMbr } from "../helpers/image-inspect.js";
import { BUILD_TIMEOUT_MS, buildLiveIso } from "../helpers/live-iso.js";
import { repoRoot } from "../helpers/repo.js";
import { budgetMs } from "../helpers/tier-budget.js";

const recipe = "debian-12";
/** Extracting the root (xorriso, unsquashfs, loop mount, cp of ~800 MB) took ~40 s here; repack ~2 min. */
const SHELL_TIMEOUT_MS = 5 * 60_000;
const REPACK_TIMEOUT_MS = 8 * 60_000;
const ADDED = "/opt/vendor/added-in-shell";

let builtIso: string;
let builtStamp: { image: string; descriptionHash: string; durationMs: number };
let work: string;
let buildDir: string;
let iso: string;
let repackMs = 0;

const sha256 = sha256File;

const make = (args: string[], env: Record<string, string>, timeoutMs: number, flock = false) =>
  execa(flock ? "flock" : join(repoRoot, "make-recipe-target"), flock ? ["/tmp/recon-heavy.lock", join(repoRoot, "make-recipe-target"), ...args] : args, {
    cwd: repoRoot,
    reject: false,
    all: true,
    // A timeout ends the whole group (make, recon, nspawn or mksquashfs): only what this test started.
    timeout: budgetMs(timeoutMs),
    killSignal: "SIGTERM",
    env: { BUILD_DIR: buildDir, RECON_IMAGE_CACHE: "", ...env },
  });

beforeAll(
  async () => {
    const built = await buildLiveIso(recipe);
    expect(built.exitCode, built.output.slice(-3000)).toBe(0);
    builtIso = built.iso;
    builtStamp = JSON.parse(await readFile(join(repoRoot, "build", recipe, "image-DracutLive.json"), "utf8")) as typeof builtStamp;
    work = await mkdtemp(join("/var/tmp", "recon-e2e-shell-"));
    buildDir = join(work, "build");
    const imageDir = join(buildDir, recipe, "image-DracutLive");
    await mkdir(imageDir, { recursive: true });
    iso = join(imageDir, basename(builtIso));
    await link(builtIso, iso).catch(() => copyFile(builtIso, iso));
    await copyFile(`${builtIso}.sha256`, `${iso}.sha256`);
    // The stamp `target` wrote for that ISO, pointing at the copy: this dir's image is the built one.
    await writeFile(join(buildDir, recipe, "image-DracutLive.json"), JSON.stringify({ ...builtStamp, image: iso }, null, 2));
  },
  BUILD_TIMEOUT_MS + 2 * 60_000,
);

afterAll(async () => {
  if (!work) return;
  // A failed extraction could leave its read-only loop mount: unmount anything below the work dir.
  const mounts = await execa("findmnt", ["-rn", "-o", "TARGET"], { reject: false });
  for (const target of mounts.stdout
    .split("\n")
    .filter((t) => t.startsWith(work))
    .reverse())
    await execa("umount", [target], { reject: false });
  await rm(work, { recursive: true, force: true });
});

describe("shell and repack", () => {
  it(
    "shell runs a command in the image's root and keeps the root between calls",
    async () => {
      const first = await make(
        [recipe, "shell", "--", `mkdir -p /opt/vendor && echo recon-e2e > ${ADDED} && . /etc/os-release && echo "inside $ID $VERSION_ID"`],
        {},
        SHELL_TIMEOUT_MS,
      );
      expect(first.exitCode, first.all?.slice(-3000)).toBe(0);
      expect(first.all).toMatch(/msg="live root extracted"/);
      expect(first.all).toMatch(/^inside debian 12$/m);
      expect(first.all).toMatch(/msg="hand change recorded".* changes=1/);
      const second = await make([recipe, "shell"], { CMD: `test "$(cat ${ADDED})" = recon-e2e` }, SHELL_TIMEOUT_MS);
      expect(second.exitCode, second.all?.slice(-3000)).toBe(0);
      expect(second.all).not.toMatch(/live root extracted/);
      expect(second.all).toMatch(/changes=2/);
      // A failing command is reported as one, and still recorded.
      const failing = await make([recipe, "shell", "--", "exit 3"], {}, SHELL_TIMEOUT_MS);
      expect(failing.exitCode).toBe(1);
    },
    3 * SHELL_TIMEOUT_MS,
  );

  it(
    "repack puts the file into the ISO's root and keeps every boot record",
    async () => {
      const before = await readBootRecords(execaRunner, iso);
      const mbrBefore = await readMbr(iso);
      const started = Date.now();
      const result = await make([recipe, "repack"], {}, REPACK_TIMEOUT_MS, true);
      repackMs = Date.now() - started;
      expect(result.exitCode, result.all?.slice(-3000)).toBe(0);
      expect(result.all).toMatch(/step=mksquashfs/);
      expect(result.all).toMatch(/msg="image repacked"/);

      const rootfs = await extractRootfs(iso, join(work, "inspect"));
      expect((await debugfs(rootfs, `cat ${ADDED}`)).trim()).toBe("recon-e2e");
      const record = JSON.parse(await debugfs(rootfs, "cat /etc/recon-image.json")) as {
        changed_by_hand: boolean;
        changes: Array<{ command: string; exit_code: number }>;
      };
      expect(record.changed_by_hand).toBe(true);
      expect(record.changes.map((c) => c.exit_code)).toEqual([0, 0, 3]);
      // Everything the appliance needs to start is still there (the build's own check).
      await verifyLiveRoot(execaRunner, iso, work);

      const after = await readBootRecords(execaRunner, iso);
      expect(after.volumeId).toBe("RECON");
      expect(after).toEqual(before);
      expect(await elToritoPlatforms(iso)).toEqual(["BIOS", "UEFI"]);
      const mbrAfter = await readMbr(iso);
      expect(mbrAfter.signature).toBe("55aa");
      expect(mbrAfter.partitions.map((p) => p.type)).toEqual(mbrBefore.partitions.map((p) => p.type));

      const stamp = JSON.parse(await readFile(join(buildDir, recipe, "image-DracutLive.json"), "utf8")) as { changedByHand?: { commands: string[] } };
      expect(stamp.changedByHand?.commands).toHaveLength(3);
      expect((await readFile(`${iso}.sha256`, "utf8")).split(" ")[0]).toBe(await sha256(iso));
      // The built ISO (and the image cache's hard link to it) still holds kiwi's bytes.
      expect((await readFile(`${builtIso}.sha256`, "utf8")).split(" ")[0]).toBe(await sha256(builtIso));

      const kiwiMs = builtStamp.durationMs;
      process.stdout.write(
        `repack ${Math.round(repackMs / 1000)} s; target from scratch (kiwi, this ISO's stamp) ${kiwiMs ? `${Math.round(kiwiMs / 1000)} s` : "not measured (taken from the image cache)"}\n`,
      );
      if (kiwiMs > 0) expect(repackMs).toBeLessThan(kiwiMs);
    },
    REPACK_TIMEOUT_MS + 2 * 60_000,
  );

  it("target's build step warns that the image no longer follows the recipe, and keeps it (no kiwi run possible)", async () => {
    // buildImage itself, not `make target`: the description hash is the stamp's own, so the
    // reuse path is taken whatever the current description is, and a runner that refuses
    // every command makes a kiwi (or curl) start fail the test instead of running.
    const started: string[][] = [];
    const refusing: CommandRunner = {
      run: (command, args) => {
        started.push([command, ...args]);
        return Promise.reject(new Error(`no command may run here: ${command}`));
      },
    };
    const lines: string[] = [];
    const stamp = JSON.parse(await readFile(join(buildDir, recipe, "image-DracutLive.json"), "utf8")) as { descriptionHash: string };
    const result = await buildImage(
      {
        recipe,
        profile: "DracutLive",
        descriptionDir: join(buildDir, recipe, "description"),
        descriptionHash: stamp.descriptionHash,
        recipeBuildDir: join(buildDir, recipe),
        sharedCacheDir: join(work, "kiwi-cache"),
      },
      { runner: refusing, log: createLogger({}, { write: (line: string) => lines.push(line) }) },
    );
    expect(started).toEqual([]);
    expect(result.reused).toBe("build-dir");
    expect(result.image).toBe(iso);
    expect(lines.join("")).toMatch(/level=warn .*changed by hand .*no longer follows the recipe/);
  }, 60_000);
});
