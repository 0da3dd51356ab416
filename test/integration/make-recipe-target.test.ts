/**
 * The user's entry point: argument checks, listings and exit codes of ./make-recipe-target,
 * and the describe target through make and the recon CLI.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/repo.js";

const mrt = join(repoRoot, "make-recipe-target");
const run = (args: string[], env: Record<string, string> = {}) => execa(mrt, args, { cwd: repoRoot, reject: false, env });

describe("make-recipe-target", () => {
  it("without arguments prints usage and the recipes found in descriptions/", async () => {
    const result = await run([]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain("usage: ./make-recipe-target <recipe> <target>");
    for (const recipe of ["debian-12", "suse-leap-15.1", "suse-leap-15.6"]) expect(result.stdout).toContain(recipe);
  });

  it.each([[["debian-12"]], [["debian-12", "all"]]])("%j lists the targets", async (args) => {
    const result = await run(args);
    expect(result.exitCode).toBe(0);
    for (const target of ["describe", "target", "http", "shell", "repack", "virtual", "disk", "clean"]) {
      expect(result.stdout).toMatch(new RegExp(`^  ${target} `, "m"));
    }
    expect(result.stdout).toContain("RECON_ZYPPER_MIRROR=URL");
  });

  it("rejects an unknown recipe with the valid names and exit 2", async () => {
    const result = await run(["debian-13", "target"]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("unknown recipe 'debian-13'");
    expect(result.stderr).toContain("valid recipes: debian-12 suse-leap-15.1 suse-leap-15.6");
  });

  it("rejects an unknown target with the valid names and exit 2", async () => {
    const result = await run(["debian-12", "iso"]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("unknown target 'iso'");
    expect(result.stderr).toContain("valid targets: describe target http shell repack virtual disk lab clean all");
  });

  it("describe writes the generated description into BUILD_DIR and clean removes it", async () => {
    const buildDir = await mkdtemp(join(tmpdir(), "recon-mrt-"));
    try {
      const described = await execa("make", ["--no-print-directory", "RECIPE=suse-leap-15.6", `BUILD_DIR=${buildDir}`, "describe"], {
        cwd: repoRoot,
        reject: false,
        all: true,
      });
      expect(described.exitCode, described.all).toBe(0);
      expect((await readdir(join(buildDir, "suse-leap-15.6", "description"))).sort()).toEqual(["config.sh", "config.xml", "root"]);
      const cleaned = await execa("make", ["--no-print-directory", "RECIPE=suse-leap-15.6", `BUILD_DIR=${buildDir}`, "clean"], {
        cwd: repoRoot,
        reject: false,
      });
      expect(cleaned.exitCode).toBe(0);
      expect(await readdir(buildDir)).toEqual([]);
    } finally {
      await rm(buildDir, { recursive: true, force: true });
    }
  });
});
