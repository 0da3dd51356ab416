import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../lib/log.js";
import type { CommandRunner } from "../lib/run.js";
import { buildImage, sha256File } from "./build-image.js";

let work: string;
let lines: string[];
let kiwiRuns: number;
/** Stands in for kiwi-ng: writes an "ISO" into --target-dir (the build logic is what is tested). */
const fakeKiwi: CommandRunner = {
  async run(_command, args) {
    kiwiRuns += 1;
    const target = args.find((arg) => arg.startsWith("--target-dir="))!.slice("--target-dir=".length);
    await writeFile(join(target, "recon-test.x86_64-0.1.0.iso"), `iso bytes, build ${kiwiRuns}\n`);
    return { command: "kiwi-ng", args, exitCode: 0, stdout: "", stderr: "" };
  },
};

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-build-image-"));
  lines = [];
  kiwiRuns = 0;
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

function build(buildDir: string) {
  return buildImage(
    {
      recipe: "test",
      profile: "DracutLive",
      descriptionDir: join(work, "description"),
      descriptionHash: "a".repeat(64),
      recipeBuildDir: join(work, buildDir),
      sharedCacheDir: join(work, "kiwi-cache"),
      imageCacheDir: join(work, "images"),
    },
    // The fake "ISO" has no root to check: verify-live-root has its own tests on real images.
    { runner: fakeKiwi, log: createLogger({}, { write: (line) => lines.push(line) }), verifyLiveRoot: async () => {} },
  );
}

describe("buildImage's image cache", () => {
  it("records the image's sha256, reuses an intact cached image, and drops one whose bytes changed", async () => {
    const first = await build("one");
    expect(first.reused).toBe("no");
    const cached = join(work, "images", "a".repeat(64), "recon-test.x86_64-0.1.0.iso");
    expect((await readFile(`${cached}.sha256`, "utf8")).split(" ")[0]).toBe(await sha256File(first.image));

    // A clean clone (another build dir): taken from the cache, no kiwi run.
    const second = await build("two");
    expect(second.reused).toBe("image-cache");
    expect(kiwiRuns).toBe(1);

    // Something wrote into the cached file (it is hard-linked into build dirs): never reuse it.
    await writeFile(cached, "changed by a VM\n");
    const third = await build("three");
    expect(third.reused).toBe("no");
    expect(kiwiRuns).toBe(2);
    expect(lines.join("\n")).toContain("the cached image does not match its recorded sha256");
  });

  it("does not reuse a cached image that has no recorded sha256", async () => {
    await build("one");
    await rm(join(work, "images", "a".repeat(64), "recon-test.x86_64-0.1.0.iso.sha256"));
    expect((await build("two")).reused).toBe("no");
  });
});
