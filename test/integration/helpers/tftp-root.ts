/**
 * The master's TFTP root as main.ts assembles it (applyTftpRoot(planTftpRoot(…))), from the host's real
 * Debian packages (ipxe, shim-signed, grub-efi-amd64-signed) and the HTTP-boot GRUB scripts/install-host-tools.sh fetched and a throwaway http tree whose kernel and
 * initrd are small random files. Everything world-readable: dnsmasq serves TFTP as nobody.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { applyTftpRoot, DEBIAN_GRUB_NET, DEBIAN_SHIM, ipxeFilesIn, planTftpRoot, RECON_GRUB_HTTP } from "../../../src/master/boot-files/tftp-root.js";

export const IPXE_DIR = "/usr/lib/ipxe";

/** `<work>/serve/tftp` (so an HTTP server rooted at `<work>/serve` answers /tftp/… like the master) and `<work>/http`. */
export async function assembleTftpRoot(work: string, address: string, imageLabel: string): Promise<{ tftpRoot: string; httpRoot: string }> {
  await chmod(work, 0o755);
  const httpRoot = join(work, "http");
  const install = join(httpRoot, "install", imageLabel);
  await mkdir(install, { recursive: true, mode: 0o755 });
  for (const file of ["linux", "initrd"]) await writeFile(join(install, file), randomBytes(64 * 1024), { mode: 0o644 });
  const tftpRoot = join(work, "serve", "tftp");
  await mkdir(join(work, "serve"), { mode: 0o755 });
  await applyTftpRoot(
    tftpRoot,
    planTftpRoot({
      ipxeDir: IPXE_DIR,
      shimFile: DEBIAN_SHIM,
      grubFile: DEBIAN_GRUB_NET,
      grubHttpFile: RECON_GRUB_HTTP,
      httpRoot,
      imageLabel,
      address,
      ipxePresent: await ipxeFilesIn(IPXE_DIR),
    }),
  );
  // createGrubNodeFiles writes here as root; dnsmasq (nobody) must read the result.
  await chmod(join(tftpRoot, "grub", "nodes"), 0o755);
  return { tftpRoot, httpRoot };
}
