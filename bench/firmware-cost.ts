/**
 * What the NIC firmware costs in the debian-12 image: bytes in the root tree, bytes it adds to the
 * ISO (compressed alone with the image's squashfs settings), and bytes in the initrd. The named
 * baseline is the whole ISO measured in the same run. Needs a finished build (kiwi keeps its root
 * tree in build/<recipe>/image-DracutLive/build/image-root). Prints one JSON object.
 *   node --import tsx bench/firmware-cost.ts [recipe]
 */
import { mkdtemp, readFile, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { initrdToCpio } from "../test/helpers/image-inspect.js";

const recipe = process.argv[2] ?? "debian-12";
const root = join(import.meta.dirname, "..");
const buildDir = join(root, "build", recipe);
const imageRoot = join(buildDir, "image-DracutLive", "build", "image-root");

async function treeBytes(dir: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    bytes += (await stat(join(entry.parentPath, entry.name))).size;
    files++;
  }
  return { bytes, files };
}

const stamp = JSON.parse(await readFile(join(buildDir, "image-DracutLive.json"), "utf8")) as { image: string };
const isoBytes = (await stat(join(root, stamp.image))).size;
const work = await mkdtemp(join("/var/tmp", "recon-bench-fw-"));
try {
  const firmwareDir = join(imageRoot, "usr/lib/firmware");
  const rootTree = await treeBytes(firmwareDir);
  const squash = join(work, "firmware.sqfs");
  await execa("mksquashfs", [firmwareDir, squash, "-comp", "zstd", "-b", "1M", "-noappend", "-quiet"]);
  const squashBytes = (await stat(squash)).size;

  // Per package, from dpkg's own record in the image root (Installed-Size is KiB).
  const status = await readFile(join(imageRoot, "var/lib/dpkg/status"), "utf8");
  const packages: Record<string, number> = {};
  for (const block of status.split("\n\n")) {
    const name = /^Package: (firmware-\S+)$/m.exec(block)?.[1];
    const size = /^Installed-Size: (\d+)$/m.exec(block)?.[1];
    if (name && size) packages[name] = Number(size) * 1024;
  }

  // The initrd: firmware files dracut copied in for the network drivers.
  const initrd = join(work, "initrd");
  await execa("xorriso", ["-osirrox", "on", "-indev", join(root, stamp.image), "-extract", "/boot/x86_64/loader/initrd", initrd]);
  const cpio = join(work, "initrd.cpio");
  await initrdToCpio(initrd, cpio);
  const listing = await execa("cpio", ["-tv", "--quiet"], { inputFile: cpio });
  let initrdFirmwareBytes = 0;
  let initrdFirmwareFiles = 0;
  for (const line of listing.stdout.split("\n")) {
    const match = /^-\S+\s+\d+\s+\S+\s+\S+\s+(\d+)\s+.*\s(usr\/lib\/firmware\/\S+)$/.exec(line);
    if (match) {
      initrdFirmwareBytes += Number(match[1]);
      initrdFirmwareFiles++;
    }
  }
  const initrdBytes = (await stat(initrd)).size;

  console.log(
    JSON.stringify({
      bench: "firmware-cost",
      recipe,
      baseline: "whole ISO",
      isoBytes,
      rootFirmware: { bytes: rootTree.bytes, files: rootTree.files, squashfsZstdBytes: squashBytes },
      ratioFirmwareSquashfsToIso: Math.round((squashBytes / isoBytes) * 1000) / 1000,
      firmwarePackagesInstalledBytes: packages,
      initrd: { compressedBytes: initrdBytes, firmwareFiles: initrdFirmwareFiles, firmwareUncompressedBytes: initrdFirmwareBytes },
      at: new Date().toISOString(),
    }),
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
