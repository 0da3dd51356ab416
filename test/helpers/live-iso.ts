import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { repoRoot } from "./repo.js";
import { budgetMs, tierDeadline } from "./tier-budget.js";

/**
 * The bound on one `make-recipe-target <recipe> target`: a cold kiwi build took 8.5 min on the
 * clean clone of 2026-12-06 (xz squashfs; the xz initrd adds about 40 s), a cached one seconds to
 * ~2 min on busy cores; 12 min (was 10) is ~1.3x that. Clamped to what is left of the tier's budget (tier-budget.ts).
 */
export const BUILD_TIMEOUT_MS = Number(process.env.RECON_BUILD_TIMEOUT_MS ?? 12 * 60_000);

export interface BuiltIso {
  iso: string;
  output: string;
  exitCode: number;
}

/** One record per test run (keyed by the tier's deadline): later files reuse the first result. */
const memoFile = (recipe: string) => join(tmpdir(), `recon-e2e-live-iso-${recipe}-${tierDeadline()}.json`);

async function runBounded(recipe: string, timeoutMs: number): Promise<{ exitCode: number; output: string; timedOut: boolean }> {
  // Its own process group, so a timeout ends make, recon and kiwi together (by group id: only
  // processes this call started).
  const child = execa(join(repoRoot, "make-recipe-target"), [recipe, "target"], {
    cwd: repoRoot,
    reject: false,
    all: true,
    detached: true,
    env: { RECON_IMAGE_CACHE: process.env.RECON_IMAGE_CACHE ?? "/var/cache/recon/images" },
  });
  let timedOut = false;
  const group = (signal: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  const term = setTimeout(() => {
    timedOut = true;
    group("SIGTERM");
  }, timeoutMs);
  const kill = setTimeout(() => group("SIGKILL"), timeoutMs + 60_000);
  const result = await child;
  clearTimeout(term);
  clearTimeout(kill);
  return { exitCode: result.exitCode ?? 1, output: result.all ?? "", timedOut };
}

/**
 * Runs the main job, `./make-recipe-target <recipe> target`, as a user would: it builds the ISO
 * or reuses the one cached under the same description hash. Returns the ISO and the output.
 * Bounded (BUILD_TIMEOUT_MS, then the whole process group is ended) and done once per test run:
 * the e2e files after the first get the same result, a failed or timed-out build included, so a
 * hung build costs its bound once, not once per file.
 */
export async function buildLiveIso(recipe: string): Promise<BuiltIso> {
  const memo = await readFile(memoFile(recipe), "utf8").then(
    (text) => JSON.parse(text) as BuiltIso,
    () => undefined,
  );
  if (memo && (memo.exitCode !== 0 || existsSync(memo.iso))) return memo;
  const timeoutMs = budgetMs(BUILD_TIMEOUT_MS);
  const run = await runBounded(recipe, timeoutMs);
  let built: BuiltIso;
  if (run.timedOut) {
    built = {
      iso: "",
      exitCode: 124,
      output: `${run.output}\nmake-recipe-target ${recipe} target: ended after ${Math.round(timeoutMs / 1000)} s (BUILD_TIMEOUT_MS)`,
    };
  } else if (run.exitCode !== 0) {
    built = { iso: "", output: run.output, exitCode: run.exitCode };
  } else {
    const stamp = JSON.parse(await readFile(join(repoRoot, "build", recipe, "image-DracutLive.json"), "utf8")) as { image: string };
    built = { iso: join(repoRoot, stamp.image), output: run.output, exitCode: 0 };
  }
  await writeFile(memoFile(recipe), JSON.stringify({ ...built, output: built.output.slice(-200_000) }));
  return built;
}
