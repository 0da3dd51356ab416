/**
 * On the appliance the master serves the image it booted from: kernel and initrd from the
 * mounted live medium (dracut's /run/initramfs/live), the ISO straight from the boot device.
 * Parse (pure) and prepare (I/O) are separate.
 */
import { open, mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ReconError } from "../lib/errors.js";
import { runChecked, type CommandRunner } from "../lib/run.js";
import { findBootDisk, LSBLK_ARGS, parseLsblk, parseSfdiskJson, type SfdiskTable } from "./store/data-partition.js";

/** ISO 9660 primary volume descriptor (sector 16): the volume's size in bytes, or undefined. */
export function parseIsoVolumeBytes(sector: Uint8Array): number | undefined {
  const buf = Buffer.from(sector.buffer, sector.byteOffset, sector.byteLength);
  if (buf.length < 2048 || buf[0] !== 1 || buf.toString("latin1", 1, 6) !== "CD001") return undefined;
  // Both-endian fields (ECMA-119 8.4.8, 8.4.12): the little-endian half comes first.
  return buf.readUInt32LE(80) * buf.readUInt16LE(128);
}

/**
 * The bytes of the ISO image on the medium: the ISO 9660 volume, or further where KIWI's
 * hybrid layout put the EFI partition after it. recon's own data partition (type 83) is not
 * part of the image.
 */
export function isoImageBytes(volumeBytes: number, table: SfdiskTable | undefined): number {
  const imageEnd = Math.max(
    0,
    ...(table?.partitions ?? []).filter((p) => p.type !== "83").map((p) => (p.start + p.size) * table!.sectorsize),
  );
  return Math.max(volumeBytes, imageEnd);
}

export const LIVE_DIR = "/run/initramfs/live";
export const LIVE_KERNEL = "boot/x86_64/loader/linux";
export const LIVE_INITRD = "boot/x86_64/loader/initrd";

export interface LiveImage {
  label: string;
  httpRoot: string;
  isoDevice: { path: string; sizeBytes: number };
}

export async function prepareLiveHttpRoot(
  runner: CommandRunner,
  options: { httpRoot: string; volumeLabel: string; buildInfoPath?: string; liveDir?: string },
): Promise<LiveImage> {
  const liveDir = options.liveDir ?? LIVE_DIR;
  const info = JSON.parse(await readFile(options.buildInfoPath ?? "/etc/recon/build.json", "utf8")) as { recipe: string; kernelArgs?: string[] };
  const label = info.recipe;
  const devices = parseLsblk((await runChecked(runner, "lsblk", LSBLK_ARGS)).stdout);
  const disk = findBootDisk(devices, options.volumeLabel);
  if (!disk) {
    throw new ReconError("ARTEFACT_MISSING", `no boot medium labelled ${options.volumeLabel}: cannot serve the image to peers`, {
      hint: "the master must run from the recon stick or CD (root=live:CDLABEL=…)",
    });
  }
  let table: SfdiskTable | undefined;
  if (disk.type === "disk") {
    const result = await runner.run("sfdisk", ["--json", disk.path]);
    if (result.exitCode === 0) table = parseSfdiskJson(result.stdout);
  }
  const handle = await open(disk.path, "r");
  const sector = Buffer.alloc(2048);
  try {
    await handle.read(sector, 0, 2048, 16 * 2048);
  } finally {
    await handle.close();
  }
  const volumeBytes = parseIsoVolumeBytes(sector);
  if (volumeBytes === undefined) {
    throw new ReconError("ARTEFACT_MISSING", `${disk.path} carries no ISO 9660 volume`, { hint: "boot the master from the recon stick" });
  }
  const install = join(options.httpRoot, "install", label);
  await rm(options.httpRoot, { recursive: true, force: true });
  await mkdir(install, { recursive: true });
  await mkdir(join(options.httpRoot, "isos"), { recursive: true });
  await symlink(join(liveDir, LIVE_KERNEL), join(install, "linux"));
  await symlink(join(liveDir, LIVE_INITRD), join(install, "initrd"));
  await writeFile(join(install, "boot.json"), `${JSON.stringify({ label, imageKernelArgs: info.kernelArgs ?? [] }, null, 2)}\n`);
  return { label, httpRoot: options.httpRoot, isoDevice: { path: disk.path, sizeBytes: isoImageBytes(volumeBytes, table) } };
}
