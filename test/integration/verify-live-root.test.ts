/**
 * The finished-ISO check on real images made here with the real tools (mkfs.ext4 -d, mksquashfs,
 * xorriso), shaped as KIWI's DracutLive lays them out: /LiveOS/squashfs.img holding
 * LiveOS/rootfs.img (ext4). An ISO whose root holds only lost+found — what kiwi-ng produced here
 * twice with exit 0 — is refused with the missing paths; one with the appliance's files passes.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REQUIRED_ROOT_PATHS, verifyLiveRoot } from "../../src/build/verify-live-root.js";
import { execaRunner } from "../../src/lib/run.js";

let work: string;

async function liveIso(name: string, fill: (root: string) => Promise<void>): Promise<string> {
  const root = join(work, `${name}-root`);
  await mkdir(root, { recursive: true });
  await fill(root);
  const container = join(work, `${name}-container`);
  await mkdir(join(container, "LiveOS"), { recursive: true });
  await execa("mkfs.ext4", ["-q", "-F", "-d", root, join(container, "LiveOS", "rootfs.img"), "16M"]);
  const iso = join(work, `${name}-iso`);
  await mkdir(join(iso, "LiveOS"), { recursive: true });
  await execa("mksquashfs", [container, join(iso, "LiveOS", "squashfs.img"), "-noappend", "-quiet", "-comp", "zstd"]);
  const out = join(work, `${name}.iso`);
  await execa("xorriso", ["-as", "mkisofs", "-quiet", "-V", "CDROM", "-o", out, iso]);
  return out;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-verify-root-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("verifyLiveRoot on real live ISOs", () => {
  it("refuses an ISO whose root filesystem is empty, naming what is missing", async () => {
    const iso = await liveIso("empty", async () => {});
    const error = await verifyLiveRoot(execaRunner, iso, work).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(error?.code).toBe("KIWI_FAILED");
    expect(error?.message).toContain(`lacks ${REQUIRED_ROOT_PATHS.join(", ")}`);
    expect(error?.message).toContain("lost+found");
  });

  it("passes an ISO whose root has the appliance's files (symlinks count) and leaves no work files", async () => {
    const iso = await liveIso("good", async (root) => {
      for (const dir of [
        "sbin",
        "usr/bin",
        "usr/lib/recon/grub-http",
        "usr/lib/systemd",
        "etc/systemd/system",
        "usr/lib/shim",
        "usr/lib/grub/x86_64-efi-signed",
      ])
        await mkdir(join(root, dir), { recursive: true });
      await writeFile(join(root, "usr/lib/systemd/systemd"), "elf\n");
      await symlink("/usr/lib/systemd/systemd", join(root, "sbin/init"));
      await writeFile(join(root, "usr/bin/dash"), "elf\n");
      await symlink("dash", join(root, "usr/bin/sh"));
      const files = ["usr/bin/node", "usr/bin/recon", "usr/lib/recon/recon.mjs", "etc/systemd/system/recon.service"];
      for (const file of [
        ...files,
        "usr/lib/shim/shimx64.efi.signed",
        "usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed",
        "usr/lib/recon/grub-http/grubnetx64.efi.signed",
      ])
        await writeFile(join(root, file), "x\n");
    });
    await verifyLiveRoot(execaRunner, iso, work);
    await expect(execa("ls", [join(work, ".verify-live-root")])).rejects.toThrow();
  });
});
