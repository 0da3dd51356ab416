/**
 * Build wall time and ISO size of the debian-12 live ISO, cold (empty KIWI package cache, every
 * package downloaded) against cached (warm /var/cache/kiwi), both measured in this run with
 * FORCE so no finished image is reused. Prints one JSON object. Takes ~10-15 min on 2 cores.
 *   node --import tsx bench/build-image.ts [recipe]
 */
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";

const recipe = process.argv[2] ?? "debian-12";
const root = join(import.meta.dirname, "..");

async function build(label: string, env: Record<string, string>) {
  const buildDir = await mkdtemp(join("/var/tmp", `recon-bench-${label}-`));
  try {
    const started = process.hrtime.bigint();
    const result = await execa(join(root, "bin/recon"), ["build", "image", recipe, "--force", "--build-dir", buildDir], {
      cwd: root,
      env: { ...env, RECON_IMAGE_CACHE: "" },
      all: true,
      reject: false,
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (result.exitCode !== 0) throw new Error(`${label} build failed:\n${(result.all ?? "").slice(-2000)}`);
    const stamp = JSON.parse(await readFile(join(buildDir, recipe, "image-DracutLive.json"), "utf8")) as { image: string };
    const isoBytes = (await stat(stamp.image)).size;
    return { seconds: Math.round(seconds * 10) / 10, isoBytes };
  } finally {
    await rm(buildDir, { recursive: true, force: true });
  }
}

const coldCache = await mkdtemp(join("/var/tmp", "recon-bench-kiwi-cache-"));
try {
  const cold = await build("cold", { KIWI_SHARED_CACHE_DIR: coldCache });
  const cached = await build("cached", {});
  console.log(
    JSON.stringify({
      bench: "build-image",
      recipe,
      baseline: "cold build (empty KIWI package cache)",
      cold,
      cached,
      ratioCachedToCold: Math.round((cached.seconds / cold.seconds) * 1000) / 1000,
      at: new Date().toISOString(),
    }),
  );
} finally {
  await rm(coldCache, { recursive: true, force: true });
}
