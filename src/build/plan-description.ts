/**
 * recipe → the files of a KIWI description. Pure (plan), separate from writing them and running
 * kiwi-ng (apply), so the whole description can be snapshot-tested and hashed for caching.
 */
import { createHash } from "node:crypto";
import { ReconError } from "../lib/errors.js";
import type { Recipe } from "./recipe.js";
import { renderConfigSh } from "./render-config-sh.js";
import { renderConfigXml, type ResolvedRepository } from "./render-config-xml.js";

export interface DescriptionFile {
  /** Relative to the description directory, e.g. `config.xml`, `root/usr/bin/recon`. */
  path: string;
  data: string | Uint8Array;
  mode: number;
}

export interface OverlayFile {
  /** Path inside the image, without a leading slash: `etc/systemd/system/recon.service`. */
  path: string;
  data: string | Uint8Array;
  mode: number;
}

export interface DescriptionInputs {
  recipe: Recipe;
  repositories: ResolvedRepository[];
  /** Files every image gets (overlay/), then the recipe's own root/ (which wins on conflict). */
  overlay: OverlayFile[];
  recipeOverlay: OverlayFile[];
  /** Boot files the master serves that no package of the image gives (the HTTP-boot GRUB), from the build host. */
  bootFiles?: OverlayFile[] | undefined;
  /** The bundled recon runtime (one ESM file for node18). */
  runtime: string | Uint8Array;
  reconVersion: string;
}

export const RUNTIME_PATH = "usr/lib/recon/recon.mjs";

export function planDescription(inputs: DescriptionInputs): DescriptionFile[] {
  const { recipe } = inputs;
  const root = new Map<string, OverlayFile>();
  for (const file of [...inputs.overlay, ...inputs.recipeOverlay]) {
    if (file.path.startsWith("/") || file.path.split("/").includes("..")) {
      throw new ReconError("RECIPE_INVALID", `overlay file ${file.path} escapes the image root`, {
        hint: "overlay paths are relative to the image root and may not contain ..",
      });
    }
    root.set(file.path, file);
  }
  for (const file of inputs.bootFiles ?? []) root.set(file.path, file);
  root.set(RUNTIME_PATH, { path: RUNTIME_PATH, data: inputs.runtime, mode: 0o644 });
  const buildInfo = {
    recipe: recipe.name,
    imageVersion: recipe.imageVersion,
    reconVersion: inputs.reconVersion,
    distribution: recipe.distribution,
    // The master reads these on the appliance: what peers boot with, which label to look for.
    kernelArgs: recipe.kernelArgs,
    volumeId: recipe.volumeId,
  };
  root.set("etc/recon/build.json", {
    path: "etc/recon/build.json",
    data: `${JSON.stringify(buildInfo, null, 2)}\n`,
    mode: 0o644,
  });
  const files: DescriptionFile[] = [
    { path: "config.xml", data: renderConfigXml(recipe, inputs.repositories), mode: 0o644 },
    { path: "config.sh", data: renderConfigSh(recipe), mode: 0o755 },
  ];
  for (const path of [...root.keys()].sort()) {
    const file = root.get(path)!;
    files.push({ path: `root/${path}`, data: file.data, mode: file.mode });
  }
  return files;
}

/** A stable hash of a planned description: same description → same ISO cache key. */
export function hashDescription(files: DescriptionFile[]): string {
  const hash = createHash("sha256");
  for (const file of [...files].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    hash.update(`${file.path}\0${file.mode.toString(8)}\0`);
    hash.update(file.data);
    hash.update("\0");
  }
  return hash.digest("hex");
}
