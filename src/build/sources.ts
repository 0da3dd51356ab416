/**
 * The edge where the build reads the world: recipe files, overlay trees, the host's apt
 * sources. Everything it returns goes into the pure planner.
 */
import { readFile, readdir, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import { ReconError } from "../lib/errors.js";
import {
  findMirror,
  parseDeb822Sources,
  parseOneLineSources,
  type AptSourceEntry,
} from "./apt-sources.js";
import type { OverlayFile } from "./plan-description.js";
import { describeIssues, recipeSchema, type Recipe } from "./recipe.js";
import type { ResolvedRepository } from "./render-config-xml.js";

export async function listRecipes(descriptionsDir: string): Promise<string[]> {
  const entries = await readdir(descriptionsDir, { withFileTypes: true });
  const names: string[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    try {
      await stat(join(descriptionsDir, entry.name, "recipe.json"));
      names.push(entry.name);
    } catch {
      // a directory without recipe.json is not a recipe
    }
  }
  return names.sort();
}

export async function loadRecipe(descriptionsDir: string, name: string): Promise<Recipe> {
  const known = await listRecipes(descriptionsDir);
  if (!known.includes(name)) {
    throw new ReconError("RECIPE_NOT_FOUND", `unknown recipe '${name}'`, {
      hint: `recipes in ${descriptionsDir}: ${known.join(", ") || "(none)"}`,
      exitCode: 2,
    });
  }
  const file = join(descriptionsDir, name, "recipe.json");
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, "utf8"));
  } catch (cause) {
    throw new ReconError("RECIPE_INVALID", `${file} is not valid JSON: ${(cause as Error).message}`, {
      hint: "fix the JSON syntax at the position given",
      cause,
    });
  }
  const result = recipeSchema.safeParse(parsed);
  if (!result.success) {
    throw new ReconError("RECIPE_INVALID", `${file} does not match the recipe schema:\n${describeIssues(result.error)}`, {
      hint: "see docs/recipes.md for every key",
    });
  }
  if (result.data.name !== name) {
    throw new ReconError("RECIPE_INVALID", `${file} names itself '${result.data.name}', its directory is '${name}'`, {
      hint: "make `name` equal to the directory name",
    });
  }
  return result.data;
}

/** Every regular file below `dir` as an overlay file; a missing dir is an empty overlay. */
export async function readOverlay(dir: string): Promise<OverlayFile[]> {
  const files: OverlayFile[] = [];
  async function walk(current: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(current, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = join(current, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) {
        const info = await stat(full);
        files.push({ path: relative(dir, full), data: await readFile(full), mode: info.mode & 0o777 });
      } else {
        throw new ReconError("RECIPE_INVALID", `${full} is not a regular file or directory`, {
          hint: "overlays hold plain files only (no links or devices); create links in config.sh",
        });
      }
    }
  }
  await walk(dir);
  return files;
}

export const HOST_APT_FILES = ["/etc/apt/sources.list.d", "/etc/apt/sources.list"];

export async function readHostAptSources(): Promise<AptSourceEntry[]> {
  const entries: AptSourceEntry[] = [];
  const dir = HOST_APT_FILES[0]!;
  let names: string[] = [];
  try {
    names = (await readdir(dir)).sort();
  } catch {
    names = [];
  }
  for (const name of names) {
    const path = join(dir, name);
    if (name.endsWith(".sources")) entries.push(...parseDeb822Sources(await readFile(path, "utf8"), path));
    if (name.endsWith(".list")) entries.push(...parseOneLineSources(await readFile(path, "utf8"), path));
  }
  try {
    entries.push(...parseOneLineSources(await readFile(HOST_APT_FILES[1]!, "utf8"), HOST_APT_FILES[1]!));
  } catch {
    // no sources.list: deb822 only
  }
  return entries;
}

/**
 * Gives every repository its URL. `host-apt` sources take the host's mirror for the suite,
 * unless the admin overrides it (RECON_APT_MIRROR / --apt-mirror); a zypper recipe's sources
 * below its `mirrorBase` move to RECON_ZYPPER_MIRROR.
 */
export interface AptMirrorOverrides {
  /** The main archive (RECON_APT_MIRROR). */
  main?: string | undefined;
  /** The security archive, suites `*-security` (RECON_APT_SECURITY_MIRROR). */
  security?: string | undefined;
  /** Replaces the recipe's `mirrorBase` in rpm-md sources (RECON_ZYPPER_MIRROR). */
  zypper?: string | undefined;
}

export const ZYPPER_MIRROR_ENV = "RECON_ZYPPER_MIRROR";

/**
 * `http://download.opensuse.org/distribution/leap/15.1/repo/oss/` with base
 * `http://download.opensuse.org/` and mirror `http://mirror.example/opensuse` →
 * `http://mirror.example/opensuse/distribution/leap/15.1/repo/oss/`. Pure.
 */
export function rewriteToMirror(source: string, base: string, mirror: string): string {
  if (!source.startsWith(base)) return source;
  return `${mirror.replace(/\/+$/, "")}/${source.slice(base.length)}`;
}

function zypperMirrorFor(recipe: Recipe, mirror: string | undefined): string | undefined {
  if (!mirror || recipe.packageManager !== "zypper") return undefined;
  if (!/^https?:\/\/[^/]/.test(mirror)) {
    throw new ReconError("USAGE", `${ZYPPER_MIRROR_ENV}=${mirror} is not an http(s) URL`, {
      hint: `${ZYPPER_MIRROR_ENV}=http://<mirror>/<path to the tree that holds distribution/ and update/>`,
      exitCode: 2,
    });
  }
  if (!recipe.mirrorBase) {
    throw new ReconError("RECIPE_INVALID", `${ZYPPER_MIRROR_ENV} is set, and recipe ${recipe.name} names no \`mirrorBase\` (the part of its repository URLs a mirror replaces)`, {
      hint: `add "mirrorBase": "<common prefix of the sources>/" to descriptions/${recipe.name}/recipe.json, or edit each repository's \`source\``,
    });
  }
  return mirror;
}

export function resolveRepositories(
  recipe: Recipe,
  hostSources: AptSourceEntry[],
  overrides: AptMirrorOverrides = {},
): ResolvedRepository[] {
  const zypperMirror = zypperMirrorFor(recipe, overrides.zypper);
  return recipe.repositories.map((repo) => {
    if (repo.source !== "host-apt") {
      const url = zypperMirror && repo.type === "rpm-md" ? rewriteToMirror(repo.source, recipe.mirrorBase!, zypperMirror) : repo.source;
      return { ...repo, url };
    }
    const override = repo.distribution!.endsWith("-security") ? overrides.security : overrides.main;
    const url = override?.replace(/\/+$/, "") ?? findMirror(hostSources, repo.distribution!);
    if (!url) {
      throw new ReconError(
        "APT_SOURCES",
        `recipe ${recipe.name}: repository '${repo.alias}' wants the host's apt mirror for '${repo.distribution}', and no apt source on this host serves that suite`,
        {
          hint: `add a source for ${repo.distribution} to /etc/apt/sources.list.d/, or set ${repo.distribution!.endsWith("-security") ? "RECON_APT_SECURITY_MIRROR=http://<mirror>/debian-security" : "RECON_APT_MIRROR=http://<mirror>/debian"}`,
        },
      );
    }
    return { ...repo, url };
  });
}
