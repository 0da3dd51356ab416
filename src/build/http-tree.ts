/**
 * The `http` target: ISO, kernel and initrd (read out of the ISO) and a boot config, laid out as
 * the master serves them (/isos/, /install/<label>/). Plan is pure; apply does the I/O.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { copyFile, link, mkdir, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../lib/atomic-write.js";
import type { CommandRunner } from "../lib/run.js";
import type { HandChangeSummary } from "./build-image.js";
import type { Recipe } from "./recipe.js";
import { extractFromIso, readBootRecords } from "./xorriso.js";

/**
 * What the images recon builds run on. KIWI builds for the build host's architecture and puts
 * the kernel and initrd of a live ISO under /boot/<arch>/loader; recon's recipes are x86_64.
 */
export const IMAGE_ARCH = "x86_64";
/** Where KIWI puts the kernel and initrd inside a live ISO. */
export const ISO_KERNEL = `/boot/${IMAGE_ARCH}/loader/linux`;
export const ISO_INITRD = `/boot/${IMAGE_ARCH}/loader/initrd`;

export interface HttpTreePlan {
  label: string;
  isoPath: string;
  kernelPath: string;
  initrdPath: string;
  bootConfigPath: string;
  /** The image's architecture; boot.json's `arch`, which the master's boot decision reads. */
  arch: typeof IMAGE_ARCH;
  /**
   * The recipe's own kernel args (consoles …). What a peer boots with is decided by planBoot on
   * the master, which adds these; the tree does not repeat that decision.
   */
  imageKernelArgs: string[];
}

export function planHttpTree(recipe: Recipe): HttpTreePlan {
  const label = recipe.name;
  const isoPath = `isos/${label}.iso`;
  return {
    label,
    isoPath,
    kernelPath: `install/${label}/linux`,
    initrdPath: `install/${label}/initrd`,
    bootConfigPath: `install/${label}/boot.json`,
    arch: IMAGE_ARCH,
    imageKernelArgs: recipe.kernelArgs,
  };
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export async function applyHttpTree(
  plan: HttpTreePlan,
  iso: string,
  httpDir: string,
  runner: CommandRunner,
  /** From the build stamp: boot.json then says the image no longer follows the recipe. */
  changedByHand?: HandChangeSummary,
): Promise<{ files: string[] }> {
  const isoTarget = join(httpDir, plan.isoPath);
  const kernel = join(httpDir, plan.kernelPath);
  const initrd = join(httpDir, plan.initrdPath);
  await mkdir(dirname(isoTarget), { recursive: true });
  await mkdir(dirname(kernel), { recursive: true });
  await rm(isoTarget, { force: true });
  try {
    await link(iso, isoTarget);
  } catch {
    await copyFile(iso, isoTarget);
  }
  await rm(kernel, { force: true });
  await rm(initrd, { force: true });
  await extractFromIso(runner, iso, [
    [ISO_KERNEL, kernel],
    [ISO_INITRD, initrd],
  ]);
  // The ISO's own volume id (not the recipe's: a repacked ISO keeps what it was loaded with); root: nbd
  // finds the exported ISO by it (root=live:CDLABEL=…), as the appliance's own boot.json does.
  const { volumeId } = await readBootRecords(runner, isoTarget);
  const bootConfig = {
    label: plan.label,
    arch: plan.arch,
    ...(volumeId === "" ? {} : { volumeId }),
    iso: { path: plan.isoPath, sizeBytes: (await stat(isoTarget)).size, sha256: await sha256File(isoTarget) },
    kernel: { path: plan.kernelPath, sizeBytes: (await stat(kernel)).size },
    initrd: { path: plan.initrdPath, sizeBytes: (await stat(initrd)).size },
    imageKernelArgs: plan.imageKernelArgs,
    ...(changedByHand ? { changedByHand } : {}),
  };
  await writeFileAtomic(join(httpDir, plan.bootConfigPath), `${JSON.stringify(bootConfig, null, 2)}\n`);
  return { files: [isoTarget, kernel, initrd, join(httpDir, plan.bootConfigPath)] };
}
