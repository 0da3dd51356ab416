/**
 * On the appliance the master serves the image it booted from: kernel and initrd from the
 * mounted live medium (dracut's /run/initramfs/live), the ISO straight from the boot device.
 * Parse (pure) and prepare (I/O) are separate.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { chmod, copyFile, open, mkdir, readFile, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Logger } from "../lib/log.js";
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
  const imageEnd = Math.max(0, ...(table?.partitions ?? []).filter((p) => p.type !== "83").map((p) => (p.start + p.size) * table!.sectorsize));
  return Math.max(volumeBytes, imageEnd);
}

export const LIVE_DIR = "/run/initramfs/live";

/**
 * Puts a file of the live medium under the http root: a symlink when everyone may read it, else
 * a world-readable copy. dracut writes the initrd mode 0600 and the ISO keeps that mode, but the
 * nginx front's workers run as nobody (the copy costs ~64 MB of /run; the kernel is 0644).
 */
export async function placeForPeers(source: string, target: string): Promise<"link" | "copy"> {
  const info = await stat(source);
  if ((info.mode & 0o004) !== 0) {
    await symlink(source, target);
    return "link";
  }
  await copyFile(source, target);
  await chmod(target, 0o644);
  return "copy";
}
/** The live medium's kernel and initrd: KIWI puts them under boot/<arch>/loader. */
export const LIVE_ARCH = "x86_64";
export const LIVE_KERNEL = `boot/${LIVE_ARCH}/loader/linux`;
export const LIVE_INITRD = `boot/${LIVE_ARCH}/loader/initrd`;

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
  await placeForPeers(join(liveDir, LIVE_KERNEL), join(install, "linux"));
  await placeForPeers(join(liveDir, LIVE_INITRD), join(install, "initrd"));
  await writeFile(
    join(install, "boot.json"),
    `${JSON.stringify({ label, arch: LIVE_ARCH, volumeId: options.volumeLabel, imageKernelArgs: info.kernelArgs ?? [] }, null, 2)}\n`,
  );
  return { label, httpRoot: options.httpRoot, isoDevice: { path: disk.path, sizeBytes: isoImageBytes(volumeBytes, table) } };
}

/** Memory the master keeps for itself (node, dnsmasq, nginx, uploads) after staging the ISO. */
export const STAGING_RESERVE_BYTES = 1024 * 1024 * 1024;

export type IsoStagingPlan = { stage: true; tmpfsBytes: number } | { stage: false; reason: string };

/**
 * Whether to copy the ISO from the boot medium into RAM (pure). nginx cannot sendfile a block
 * device, so from RAM the ISO goes out at nginx speed; from the device it goes through express.
 * A node with too little memory keeps serving from the device.
 */
export function planIsoStaging(facts: { isoBytes: number; memAvailableBytes: number | undefined }): IsoStagingPlan {
  if (facts.memAvailableBytes === undefined) return { stage: false, reason: "MemAvailable unknown (/proc/meminfo)" };
  const left = facts.memAvailableBytes - facts.isoBytes;
  if (left < STAGING_RESERVE_BYTES) {
    return {
      stage: false,
      reason: `only ${Math.round(facts.memAvailableBytes / 2 ** 20)} MiB available; staging a ${Math.round(facts.isoBytes / 2 ** 20)} MiB ISO would leave less than ${STAGING_RESERVE_BYTES / 2 ** 20} MiB`,
    };
  }
  // Room for the file plus tmpfs's own rounding.
  return { stage: true, tmpfsBytes: facts.isoBytes + 16 * 1024 * 1024 };
}

/** /proc/meminfo → MemAvailable in bytes (pure). */
export function parseMemAvailable(meminfo: string): number | undefined {
  const kib = /^MemAvailable:\s+(\d+)\s+kB/m.exec(meminfo)?.[1];
  return kib === undefined ? undefined : Number(kib) * 1024;
}

/**
 * Copies the first `sizeBytes` of the boot device into a tmpfs mounted on `<httpRoot>/isos`,
 * under a temporary name renamed into place at the end, so nginx (try_files) switches from the
 * device route to the RAM copy atomically. Progress is logged every 10%. Any failure leaves the
 * device route serving and is logged; it never stops the master.
 */
export async function stageIsoInRam(
  runner: CommandRunner,
  log: Logger,
  options: { httpRoot: string; label: string; isoDevice: { path: string; sizeBytes: number }; meminfoPath?: string },
): Promise<boolean> {
  const meminfo = await readFile(options.meminfoPath ?? "/proc/meminfo", "utf8").catch(() => "");
  const plan = planIsoStaging({ isoBytes: options.isoDevice.sizeBytes, memAvailableBytes: parseMemAvailable(meminfo) });
  if (!plan.stage) {
    log.warn("serving the ISO from the boot medium (not staged in RAM)", { reason: plan.reason });
    return false;
  }
  const dir = join(options.httpRoot, "isos");
  const partial = join(dir, `.${options.label}.iso.partial`);
  const target = join(dir, `${options.label}.iso`);
  const started = Date.now();
  try {
    await mkdir(dir, { recursive: true });
    await runChecked(runner, "mount", ["-t", "tmpfs", "-o", `size=${plan.tmpfsBytes},mode=0755`, "recon-isos", dir]);
    let copied = 0;
    let nextReport = 0.1;
    const source = createReadStream(options.isoDevice.path, { start: 0, end: options.isoDevice.sizeBytes - 1, highWaterMark: 4 * 1024 * 1024 });
    source.on("data", (chunk) => {
      copied += chunk.length;
      if (copied / options.isoDevice.sizeBytes >= nextReport) {
        log.info("staging the ISO in RAM", { percent: Math.floor((copied / options.isoDevice.sizeBytes) * 100), bytes: copied });
        nextReport += 0.1;
      }
    });
    await pipeline(source, createWriteStream(partial, { mode: 0o644 }));
    if (copied !== options.isoDevice.sizeBytes) throw new Error(`copied ${copied} of ${options.isoDevice.sizeBytes} bytes`);
    await rename(partial, target);
    log.info("ISO staged in RAM; nginx now sends it with sendfile", { path: target, bytes: copied, seconds: Math.round((Date.now() - started) / 100) / 10 });
    return true;
  } catch (error) {
    await rm(partial, { force: true });
    log.warn("staging the ISO in RAM failed; serving it from the boot medium", { error: (error as Error).message });
    return false;
  }
}
