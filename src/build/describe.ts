/**
 * describe = read recipe + overlays + host apt sources (edge) → planDescription (pure) → write.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ReconError } from "../lib/errors.js";
import { hashDescription, planDescription, type DescriptionFile, type OverlayFile } from "./plan-description.js";
import { HTTP_BOOT_GRUB } from "../boot/plan-boot.js";
import type { Recipe } from "./recipe.js";
import type { ResolvedRepository } from "./render-config-xml.js";
import {
  loadRecipe,
  readHostAptSources,
  readOverlay,
  resolveRepositories,
  type AptMirrorOverrides,
} from "./sources.js";
import { writeDescription } from "./write-description.js";

export interface DescribeOptions {
  recipeName: string;
  descriptionsDir: string;
  overlayDir: string;
  runtimeFile: string;
  reconVersion: string;
  aptMirrors?: AptMirrorOverrides;
  /** The build host's HTTP-boot GRUB (default HTTP_BOOT_GRUB). */
  grubHttpFile?: string | undefined;
}

export interface PlannedDescription {
  recipe: Recipe;
  files: DescriptionFile[];
  hash: string;
  /** The repositories with the URLs written into config.xml (mirror overrides applied). */
  repositories: ResolvedRepository[];
}

/** The HTTP-boot GRUB from the build host into the image, at the same path (the master serves it from there). */
export async function readBootFiles(grubHttpFile: string = HTTP_BOOT_GRUB): Promise<OverlayFile[]> {
  try {
    return [{ path: HTTP_BOOT_GRUB.slice(1), data: await readFile(grubHttpFile), mode: 0o644 }];
  } catch (cause) {
    throw new ReconError("ARTEFACT_MISSING", `${grubHttpFile} (the signed GRUB with http for UEFI HTTP boot) is missing on this build host`, {
      hint: "run scripts/install-host-tools.sh build (it fetches Debian 13's grub-efi-amd64-signed, pinned by SHA256)",
      cause,
    });
  }
}

export async function planFromDisk(options: DescribeOptions): Promise<PlannedDescription> {
  const recipe = await loadRecipe(options.descriptionsDir, options.recipeName);
  const hostSources = recipe.repositories.some((r) => r.source === "host-apt")
    ? await readHostAptSources()
    : [];
  const repositories = resolveRepositories(recipe, hostSources, options.aptMirrors);
  let runtime: Buffer;
  try {
    runtime = await readFile(options.runtimeFile);
  } catch (cause) {
    throw new ReconError("ARTEFACT_MISSING", `the recon runtime bundle ${options.runtimeFile} is missing`, {
      hint: "run `npm run build` (the Makefile does this before describe)",
      cause,
    });
  }
  const files = planDescription({
    recipe,
    repositories,
    overlay: await readOverlay(options.overlayDir),
    recipeOverlay: await readOverlay(join(options.descriptionsDir, recipe.name, "root")),
    bootFiles: await readBootFiles(options.grubHttpFile),
    runtime,
    reconVersion: options.reconVersion,
  });
  return { recipe, files, hash: hashDescription(files), repositories };
}

export async function describe(options: DescribeOptions, outDir: string): Promise<PlannedDescription> {
  const planned = await planFromDisk(options);
  await writeDescription(outDir, planned.files);
  return planned;
}
