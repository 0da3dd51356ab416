/**
 * Reads a built live ISO without mounting anything: xorriso for the ISO9660 tree and El Torito,
 * the MBR bytes for hybrid boot, cpio for the initrd, unsquashfs + debugfs for the root tree.
 */
import { createWriteStream } from "node:fs";
import { open, readFile, readdir } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { join } from "node:path";
import { execa } from "execa";

export async function elToritoPlatforms(iso: string): Promise<string[]> {
  const { stdout } = await execa("xorriso", ["-indev", iso, "-report_el_torito", "plain"], { stderr: "ignore" });
  return [...stdout.matchAll(/^El Torito boot img :\s+\d+\s+(\S+)/gm)].map((m) => m[1]!);
}

export interface MbrPartition {
  type: number;
  startLba: number;
  sectors: number;
}

/** The ISO's first sector as a PC disk: a hybrid ISO has a boot signature and partitions. */
export async function readMbr(iso: string): Promise<{ signature: string; partitions: MbrPartition[] }> {
  const handle = await open(iso, "r");
  try {
    const sector = Buffer.alloc(512);
    await handle.read(sector, 0, 512, 0);
    const partitions: MbrPartition[] = [];
    for (let i = 0; i < 4; i++) {
      const entry = sector.subarray(446 + 16 * i, 462 + 16 * i);
      if (entry[4] === 0) continue;
      partitions.push({ type: entry[4]!, startLba: entry.readUInt32LE(8), sectors: entry.readUInt32LE(12) });
    }
    return { signature: sector.subarray(510, 512).toString("hex"), partitions };
  } finally {
    await handle.close();
  }
}

export async function extract(iso: string, isoPath: string, to: string): Promise<void> {
  await execa("xorriso", ["-osirrox", "on", "-indev", iso, "-extract", isoPath, to], { stderr: "ignore", stdout: "ignore" });
}

const DECOMPRESSORS: Array<[magic: string, command: string]> = [
  ["1f8b", "zcat"],
  ["28b52ffd", "zstdcat"],
  ["fd377a585a00", "xzcat"],
];

/** Decompresses a (single-archive) initrd to a plain cpio file. */
export async function initrdToCpio(initrd: string, cpio: string): Promise<void> {
  const head = (await readFile(initrd)).subarray(0, 6).toString("hex");
  if (head.startsWith("303730373031")) {
    throw new Error("initrd starts with an uncompressed (early microcode) cpio; not expected with KIWI's dracut call");
  }
  const tool = DECOMPRESSORS.find(([magic]) => head.startsWith(magic));
  if (!tool) throw new Error(`unknown initrd compression (magic ${head})`);
  // Streamed to the file: the uncompressed cpio is ~200 MB, too much to buffer as a string.
  const child = execa(tool[1], [initrd], { buffer: false, stdout: "pipe", stderr: "inherit" });
  await Promise.all([pipeline(child.stdout, createWriteStream(cpio)), child]);
}

export async function cpioList(cpio: string): Promise<string[]> {
  const { stdout } = await execa("cpio", ["-t", "--quiet"], { inputFile: cpio });
  return stdout.split("\n").filter(Boolean);
}

export async function cpioRead(cpio: string, path: string, workDir: string): Promise<string> {
  await execa("cpio", ["-i", "-d", "--quiet", path], { inputFile: cpio, cwd: workDir });
  return readFile(join(workDir, path), "utf8");
}

/** dmsquash layout: LiveOS/squashfs.img holds LiveOS/rootfs.img (ext4). Returns rootfs.img's path. */
export async function extractRootfs(iso: string, workDir: string): Promise<string> {
  const squash = join(workDir, "squashfs.img");
  await extract(iso, "/LiveOS/squashfs.img", squash);
  const out = join(workDir, "squashfs-root");
  await execa("unsquashfs", ["-q", "-n", "-d", out, squash, "LiveOS/rootfs.img"]);
  const names = await readdir(join(out, "LiveOS"));
  if (!names.includes("rootfs.img")) throw new Error(`no LiveOS/rootfs.img in the squashfs (found ${names.join(", ")})`);
  return join(out, "LiveOS", "rootfs.img");
}

export async function debugfs(image: string, request: string): Promise<string> {
  const { stdout } = await execa("debugfs", ["-R", request, image], { stderr: "ignore" });
  return stdout;
}

/**
 * The ISO's boot images as xorriso finds them (`-extract_boot_images`): the El Torito images
 * (BIOS, UEFI) and the partitions appended for USB sticks. Returns the file names in `dir`.
 */
export async function extractBootImages(iso: string, dir: string): Promise<string[]> {
  await execa("xorriso", ["-osirrox", "on", "-indev", iso, "-extract_boot_images", dir], { stderr: "ignore", stdout: "ignore" });
  return (await readdir(dir)).sort();
}

/** Names in one directory of a FAT image, read with mtools (no mount: the host has no vfat). */
export async function fatList(image: string, dir: string): Promise<string[]> {
  const { stdout } = await execa("mdir", ["-i", image, "-b", `::${dir}`]);
  return stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => line.replace(/^::/, "").replace(/\/$/, ""));
}

export async function fatCopyOut(image: string, path: string, to: string): Promise<void> {
  await execa("mcopy", ["-n", "-i", image, `::${path}`, to]);
}

/**
 * sbverify --list: who signed a PE (EFI) image, as the CN of each signature's issuer, in signature
 * order (shim: Microsoft Corporation UEFI CA 2011, then Microsoft UEFI CA 2023). Empty when unsigned.
 */
export async function authenticodeIssuers(file: string): Promise<string[]> {
  const { stdout } = await execa("sbverify", ["--list", file], { reject: false, stderr: "ignore" });
  return [...stdout.matchAll(/^image signature issuers:\n - .*\/CN=([^/\n]+)$/gm)].map((m) => m[1]!.trim());
}
