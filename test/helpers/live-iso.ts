import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { repoRoot } from "./repo.js";

/**
 * Runs the main job, `./make-recipe-target <recipe> target`, as a user would: it builds the ISO
 * or reuses the one cached under the same description hash. Returns the ISO and the output.
 */
export async function buildLiveIso(recipe: string): Promise<{ iso: string; output: string; exitCode: number }> {
  const result = await execa(join(repoRoot, "make-recipe-target"), [recipe, "target"], {
    cwd: repoRoot,
    reject: false,
    all: true,
    env: { RECON_IMAGE_CACHE: process.env.RECON_IMAGE_CACHE ?? "/var/cache/recon/images" },
  });
  const output = result.all ?? "";
  if (result.exitCode !== 0) return { iso: "", output, exitCode: result.exitCode ?? 1 };
  const stamp = JSON.parse(await readFile(join(repoRoot, "build", recipe, "image-DracutLive.json"), "utf8")) as { image: string };
  return { iso: join(repoRoot, stamp.image), output, exitCode: 0 };
}
