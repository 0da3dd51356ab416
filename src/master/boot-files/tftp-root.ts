/**
 * The master's TFTP root (also served over HTTP at /tftp/), assembled in the run dir at every start from
 * what the stick carries, so an air-gapped site needs nothing else: the iPXE binaries (Debian's ipxe
 * package), Microsoft-signed shim and Debian's signed network GRUB beside it as `grubx64.efi` (shim loads
 * that name from the directory it came from), GRUB's chain file, and the image's kernel and initrd, which
 * Debian 12's signed GRUB can only read by TFTP. Plan (pure) then apply; files are symlinks (dnsmasq
 * follows them), so nothing large is copied.
 */
import { mkdir, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { GRUB_FILE, HTTP_BOOT_DIR, HTTP_BOOT_GRUB } from "../../boot/plan-boot.js";
import { GRUB_CHAIN_FILE, GRUB_NODE_DIR, renderGrubChainConfig } from "../../boot/render-grub.js";
import { ReconError } from "../../lib/errors.js";
import { pathExists } from "../../lib/path-exists.js";

/** Debian 12's paths (packages shim-signed, grub-efi-amd64-signed). */
export const DEBIAN_SHIM = "/usr/lib/shim/shimx64.efi.signed";
export const DEBIAN_GRUB_NET = "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed";
/** UEFI HTTP boot's second stage (plan-boot.ts HTTP_BOOT_GRUB: Debian 13's signed network GRUB, with http). */
export const RECON_GRUB_HTTP = HTTP_BOOT_GRUB;
export const IPXE_FILES = ["undionly.kpxe", "ipxe.efi", "snponly.efi", "ipxe-arm64.efi"] as const;

export interface TftpRootInput {
  /** Where the iPXE binaries are (Debian: /usr/lib/ipxe). */
  ipxeDir: string;
  shimFile: string;
  grubFile: string;
  /** The HTTP-capable signed GRUB, shim's second stage under UEFI HTTP boot (RECON_GRUB_HTTP). */
  grubHttpFile: string;
  /** The http tree: install/<label>/{linux,initrd}. */
  httpRoot: string;
  imageLabel: string;
  /** The other images' labels (master/images.ts): GRUB reads every image's kernel and initrd by TFTP. */
  otherLabels?: readonly string[] | undefined;
  /** The master's address, the TFTP server GRUB's chain file names. */
  address: string;
  /** The iPXE binaries present in ipxeDir (the caller looked). */
  ipxePresent: readonly string[];
}

export type TftpEntry = { path: string; link: string } | { path: string; text: string } | { path: string; dir: true };

/** Seconds GRUB's chain file waits for the machine's own file. */
export const GRUB_WAIT_SECONDS = 10;

export function planTftpRoot(input: TftpRootInput): TftpEntry[] {
  const entries: TftpEntry[] = IPXE_FILES.filter((file) => input.ipxePresent.includes(file)).map((file) => ({ path: file, link: join(input.ipxeDir, file) }));
  entries.push(
    { path: "shimx64.efi", link: input.shimFile },
    { path: GRUB_FILE, link: input.grubFile },
    // UEFI HTTP boot: shim by URL from its own directory, so that the grubx64.efi it loads beside it is the HTTP one.
    { path: `${HTTP_BOOT_DIR}/shimx64.efi`, link: input.shimFile },
    { path: `${HTTP_BOOT_DIR}/${GRUB_FILE}`, link: input.grubHttpFile },
    { path: GRUB_CHAIN_FILE, text: renderGrubChainConfig({ tftpServer: input.address, waitSeconds: GRUB_WAIT_SECONDS }) },
    { path: GRUB_NODE_DIR, dir: true },
  );
  for (const label of [input.imageLabel, ...(input.otherLabels ?? [])]) {
    entries.push(
      { path: `install/${label}/linux`, link: join(input.httpRoot, "install", label, "linux") },
      { path: `install/${label}/initrd`, link: join(input.httpRoot, "install", label, "initrd") },
    );
  }
  return entries;
}

/** The iPXE binaries ipxeDir holds (undionly.kpxe and ipxe.efi are required: BIOS and the UEFI fallback). */
export async function ipxeFilesIn(ipxeDir: string): Promise<string[]> {
  const present: string[] = [];
  for (const file of IPXE_FILES) if (await pathExists(join(ipxeDir, file))) present.push(file);
  return present;
}

/** Writes the plan under `root` (emptied first: a previous run's per-MAC files carry old tokens). */
export async function applyTftpRoot(root: string, entries: readonly TftpEntry[]): Promise<void> {
  for (const entry of entries) {
    // Only the signed first stages are required: a tree without kernel or initrd (a master started by hand
    // without an image) still serves the rest, and dnsmasq answers "file not found" for those.
    if (!("link" in entry) || entry.path.startsWith("install/") || (await pathExists(entry.link))) continue;
    const what =
      entry.path === "shimx64.efi" || entry.path === `${HTTP_BOOT_DIR}/shimx64.efi`
        ? "shim (package shim-signed)"
        : entry.path === GRUB_FILE
          ? "the signed network GRUB (package grub-efi-amd64-signed)"
          : entry.path === `${HTTP_BOOT_DIR}/${GRUB_FILE}`
            ? "the HTTP-capable signed GRUB for UEFI HTTP boot (package grub-efi-amd64-signed of Debian 13, which scripts/install-host-tools.sh fetches)"
            : entry.path;
    throw new ReconError("CONFIG_INVALID", `the TFTP root needs ${entry.link} (${what}) and it is missing`, {
      hint: "rebuild the image with this recon's recipe, or on a host run scripts/install-host-tools.sh test (shim-signed, grub-efi-amd64-signed, ipxe and the HTTP-boot GRUB)",
      exitCode: 3,
    });
  }
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true, mode: 0o755 });
  for (const entry of entries) {
    const path = join(root, entry.path);
    if ("dir" in entry) {
      await mkdir(path, { recursive: true, mode: 0o755 });
      continue;
    }
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    if ("link" in entry) await symlink(entry.link, path);
    else await writeFile(path, entry.text, { mode: 0o644 });
  }
}

/** For tests and logs: where each link of the assembled root points. */
export async function tftpLink(root: string, path: string): Promise<string> {
  return readlink(join(root, path));
}
