import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { renderGrubChainConfig } from "../../boot/render-grub.js";
import { ReconError } from "../../lib/errors.js";
import { applyTftpRoot, GRUB_WAIT_SECONDS, ipxeFilesIn, planTftpRoot, tftpLink, type TftpRootInput } from "./tftp-root.js";

const INPUT: TftpRootInput = {
  ipxeDir: "/usr/lib/ipxe",
  shimFile: "/usr/lib/shim/shimx64.efi.signed",
  grubFile: "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed",
  grubHttpFile: "/usr/lib/recon/grub-http/grubnetx64.efi.signed",
  httpRoot: "/run/recon/http",
  imageLabel: "debian-12",
  address: "10.20.0.1",
  ipxePresent: ["ipxe.efi", "undionly.kpxe", "snponly.efi"],
};

describe("planTftpRoot", () => {
  it("links the iPXE binaries present, shim, GRUB as grubx64.efi beside it, kernel and initrd; writes GRUB's chain file", () => {
    expect(planTftpRoot(INPUT)).toEqual([
      { path: "undionly.kpxe", link: "/usr/lib/ipxe/undionly.kpxe" },
      { path: "ipxe.efi", link: "/usr/lib/ipxe/ipxe.efi" },
      { path: "snponly.efi", link: "/usr/lib/ipxe/snponly.efi" },
      { path: "shimx64.efi", link: "/usr/lib/shim/shimx64.efi.signed" },
      { path: "grubx64.efi", link: "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed" },
      { path: "uefi-http/shimx64.efi", link: "/usr/lib/shim/shimx64.efi.signed" },
      { path: "uefi-http/grubx64.efi", link: "/usr/lib/recon/grub-http/grubnetx64.efi.signed" },
      { path: "grub/grub.cfg", text: renderGrubChainConfig({ tftpServer: "10.20.0.1", waitSeconds: GRUB_WAIT_SECONDS }) },
      { path: "grub/nodes", dir: true },
      { path: "install/debian-12/linux", link: "/run/recon/http/install/debian-12/linux" },
      { path: "install/debian-12/initrd", link: "/run/recon/http/install/debian-12/initrd" },
    ]);
  });

  it("adds the arm64 binary only when it is there", () => {
    const paths = (present: string[]) => planTftpRoot({ ...INPUT, ipxePresent: present }).map((entry) => entry.path);
    expect(paths(["undionly.kpxe", "ipxe.efi", "ipxe-arm64.efi"]).slice(0, 3)).toEqual(["undionly.kpxe", "ipxe.efi", "ipxe-arm64.efi"]);
    expect(paths(["undionly.kpxe"])).not.toContain("ipxe.efi");
  });
});

describe("applyTftpRoot", () => {
  let work: string;
  let input: TftpRootInput;

  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), "recon-tftp-root-"));
    // Stand-ins for the medium's files: only their paths matter here (the integration tier serves the real ones).
    const medium = join(work, "medium");
    await mkdir(join(medium, "ipxe"), { recursive: true });
    await mkdir(join(medium, "http", "install", "debian-12"), { recursive: true });
    for (const file of ["undionly.kpxe", "ipxe.efi"]) await writeFile(join(medium, "ipxe", file), file);
    for (const file of ["shimx64.efi.signed", "grubnetx64.efi.signed", "grubnetx64-http.efi.signed"]) await writeFile(join(medium, file), file);
    for (const file of ["linux", "initrd"]) await writeFile(join(medium, "http", "install", "debian-12", file), file);
    input = {
      ...INPUT,
      ipxeDir: join(medium, "ipxe"),
      shimFile: join(medium, "shimx64.efi.signed"),
      grubFile: join(medium, "grubnetx64.efi.signed"),
      grubHttpFile: join(medium, "grubnetx64-http.efi.signed"),
      httpRoot: join(medium, "http"),
      ipxePresent: await ipxeFilesIn(join(medium, "ipxe")),
    };
  });
  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it("finds the iPXE binaries the directory holds", () => {
    expect(input.ipxePresent).toEqual(["undionly.kpxe", "ipxe.efi"]);
  });

  it("makes symlinks to the medium, GRUB's chain file (0644) and an empty nodes dir, replacing a previous run's root", async () => {
    const root = join(work, "run", "tftp");
    await mkdir(join(root, "grub", "nodes"), { recursive: true });
    await writeFile(join(root, "grub", "nodes", "52:54:00:00:00:01.cfg"), "old token");
    await applyTftpRoot(root, planTftpRoot(input));

    expect(await tftpLink(root, "shimx64.efi")).toBe(input.shimFile);
    expect(await tftpLink(root, "grubx64.efi")).toBe(input.grubFile);
    expect(await tftpLink(root, "uefi-http/shimx64.efi")).toBe(input.shimFile);
    expect(await tftpLink(root, "uefi-http/grubx64.efi")).toBe(input.grubHttpFile);
    expect(await tftpLink(root, "ipxe.efi")).toBe(join(input.ipxeDir, "ipxe.efi"));
    expect(await tftpLink(root, "undionly.kpxe")).toBe(join(input.ipxeDir, "undionly.kpxe"));
    expect(await tftpLink(root, "install/debian-12/linux")).toBe(join(input.httpRoot, "install/debian-12/linux"));
    expect(await tftpLink(root, "install/debian-12/initrd")).toBe(join(input.httpRoot, "install/debian-12/initrd"));
    // Through the links, the medium's bytes.
    expect(await readFile(join(root, "grubx64.efi"), "utf8")).toBe("grubnetx64.efi.signed");
    expect(await readFile(join(root, "uefi-http/grubx64.efi"), "utf8")).toBe("grubnetx64-http.efi.signed");
    expect(await readFile(join(root, "install/debian-12/initrd"), "utf8")).toBe("initrd");

    expect(await readFile(join(root, "grub/grub.cfg"), "utf8")).toBe(renderGrubChainConfig({ tftpServer: "10.20.0.1", waitSeconds: GRUB_WAIT_SECONDS }));
    expect((await lstat(join(root, "grub/grub.cfg"))).isSymbolicLink()).toBe(false);
    expect((await stat(join(root, "grub/grub.cfg"))).mode & 0o777).toBe(0o644);
    expect(await readdir(join(root, "grub/nodes"))).toEqual([]);
    expect((await readdir(root)).sort()).toEqual(["grub", "grubx64.efi", "install", "ipxe.efi", "shimx64.efi", "uefi-http", "undionly.kpxe"]);
  });

  it.each([
    ["shimFile", "shim-signed"],
    ["grubFile", "grub-efi-amd64-signed"],
    ["grubHttpFile", "grub-efi-amd64-signed"],
  ] as const)("refuses a missing %s with CONFIG_INVALID, exit 3, naming the package, and leaves the old root alone", async (key, pkg) => {
    const root = join(work, "tftp");
    await mkdir(root);
    await writeFile(join(root, "kept"), "");
    const missing = join(work, "nowhere", "missing.efi.signed");
    const error = await applyTftpRoot(root, planTftpRoot({ ...input, [key]: missing })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReconError);
    expect(error).toMatchObject({ code: "CONFIG_INVALID", exitCode: 3 });
    expect((error as ReconError).message).toContain(missing);
    expect((error as ReconError).message).toContain(`package ${pkg}`);
    expect((error as ReconError).hint).toContain(pkg);
    expect(await readdir(root)).toEqual(["kept"]);
  });

  it("links a missing kernel anyway (a master without an image still serves the rest; dnsmasq answers not found)", async () => {
    await rm(join(input.httpRoot, "install/debian-12/linux"));
    await applyTftpRoot(join(work, "tftp"), planTftpRoot(input));
    expect(await tftpLink(join(work, "tftp"), "install/debian-12/linux")).toBe(join(input.httpRoot, "install/debian-12/linux"));
  });
});
