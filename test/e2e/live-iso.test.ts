/**
 * The main job, for real: ./make-recipe-target debian-12 target builds the live ISO with kiwi-ng
 * (or reuses the image cached under the same description hash), then the ISO is taken apart and
 * booted under qemu (TCG) until recon's unit logs role=master on the serial console.
 */
import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withReadOnlyMount } from "../../src/build/ext4.js";
import { ISO_INITRD, ISO_KERNEL } from "../../src/build/http-tree.js";
import { checkImageNeeds, describeMissing } from "../../src/build/image-needs.js";
import { listIso } from "../../src/build/xorriso.js";
import { ovmfFiles } from "../../src/lab/qemu.js";
import { startVm } from "../../src/lab/vm.js";
import { execaRunner } from "../../src/lib/run.js";
import {
  authenticodeIssuers,
  cpioList,
  cpioRead,
  debugfs,
  elToritoPlatforms,
  extract,
  extractBootImages,
  extractRootfs,
  fatCopyOut,
  fatList,
  initrdToCpio,
  readMbr,
} from "../helpers/image-inspect.js";
import { BUILD_TIMEOUT_MS, buildLiveIso } from "../helpers/live-iso.js";
import { repoRoot } from "../helpers/repo.js";
import { budgetMs } from "../helpers/tier-budget.js";

const recipe = "debian-12";
const buildDir = join(repoRoot, "build", recipe);
let iso: string;
let work: string;
let buildOutput: string;

const sha256 = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

beforeAll(
  async () => {
    work = await mkdtemp(join("/var/tmp", "recon-e2e-iso-"));
    const built = await buildLiveIso(recipe);
    buildOutput = built.output;
    // Show the build's own progress lines in the test log.
    process.stdout.write(
      `${buildOutput
        .split("\n")
        .filter((l) => /msg=(progress|"image)/.test(l))
        .join("\n")}\n`,
    );
    expect(built.exitCode, buildOutput.slice(-3000)).toBe(0);
    iso = built.iso;
  },
  BUILD_TIMEOUT_MS + 2 * 60_000,
);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("the debian-12 live ISO", () => {
  it("was built (or reused by description hash) with progress shown", () => {
    expect(buildOutput).toMatch(/msg=progress .*stage=packages|image taken from the image cache|image up to date/);
    expect(buildOutput).toMatch(/msg="image (built|taken from the image cache|up to date)/);
  });

  it("is hybrid: El Torito for BIOS and UEFI, and an MBR with an EFI partition for USB sticks", async () => {
    expect(await elToritoPlatforms(iso)).toEqual(["BIOS", "UEFI"]);
    const mbr = await readMbr(iso);
    expect(mbr.signature).toBe("55aa");
    expect(mbr.partitions.map((p) => p.type)).toContain(0xef);
  });

  it("boots with Secure Boot on: its EFI image holds shim (Microsoft), Debian's signed GRUB and MokManager, a grub.cfg where that GRUB looks, and a signed kernel", async () => {
    const images = join(work, "boot-images");
    expect(await extractBootImages(iso, images)).toEqual(expect.arrayContaining(["eltorito_img2_uefi.img", "mbr_part2_efi.img"]));
    // A CD's firmware reads the El Torito image, a stick's the EFI partition: the same FAT image.
    const esp = join(images, "eltorito_img2_uefi.img");
    expect(await sha256(join(images, "mbr_part2_efi.img"))).toBe(await sha256(esp));
    expect((await fatList(esp, "/EFI/BOOT")).sort()).toEqual(["/EFI/BOOT/bootx64.efi", "/EFI/BOOT/grub.cfg", "/EFI/BOOT/grubx64.efi", "/EFI/BOOT/mmx64.efi"]);
    const signers = async (path: string) => {
      const to = join(work, path.replaceAll("/", "_"));
      await fatCopyOut(esp, path, to);
      return authenticodeIssuers(to);
    };
    expect(await signers("/EFI/BOOT/bootx64.efi")).toContain("Microsoft Corporation UEFI CA 2011");
    expect(await signers("/EFI/BOOT/grubx64.efi")).toEqual(["Debian Secure Boot CA"]);
    // shim starts MokManager when a MOK is to be enrolled or grub fails verification; an unsigned one would be refused too.
    expect(await signers("/EFI/BOOT/mmx64.efi")).toEqual(["Debian Secure Boot CA"]);
    // Debian's signed GRUB has the prefix /EFI/debian built in and reads grub.cfg there (then beside itself).
    await fatCopyOut(esp, "/EFI/debian/grub.cfg", join(work, "efi-grub.cfg"));
    const grubCfg = await readFile(join(work, "efi-grub.cfg"), "utf8");
    expect(grubCfg).toMatch(/^search --file --set=root \/boot\/0x[0-9a-f]{8}$/m);
    expect(grubCfg).toMatch(/^configfile \(\$root\)\/boot\/grub\/grub\.cfg$/m);
    const kernel = join(work, "linux.signed");
    await extract(iso, ISO_KERNEL, kernel);
    expect(await authenticodeIssuers(kernel)).toEqual(["Debian Secure Boot CA"]);
    await rm(images, { recursive: true });
  });

  it("carries the kernel, the initrd and the squashfs root where dracut expects them", async () => {
    const files = new Map((await listIso(execaRunner, iso)).map((e) => [e.path, e.sizeBytes]));
    expect(files.get(ISO_KERNEL)).toBeGreaterThan(5_000_000);
    expect(files.get(ISO_INITRD)).toBeGreaterThan(10_000_000);
    expect(files.get("/LiveOS/squashfs.img")).toBeGreaterThan(100_000_000);
  });

  it("has an initrd with dmsquash-live, livenet and the network-legacy backend", async () => {
    const initrd = join(work, "initrd");
    const cpio = join(work, "initrd.cpio");
    await extract(iso, ISO_INITRD, initrd);
    await initrdToCpio(initrd, cpio);
    const modules = (await cpioRead(cpio, "usr/lib/dracut/modules.txt", work)).split("\n");
    expect(modules).toEqual(expect.arrayContaining(["dmsquash-live", "livenet", "network-legacy", "url-lib"]));
    expect(modules).not.toContain("systemd-networkd");
    const list = await cpioList(cpio);
    expect(list).toEqual(expect.arrayContaining(["usr/sbin/livenetroot", "usr/sbin/dmsquash-live-root"]));
    // recon-root (#13): when a peer's root does not arrive, its emergency hook says so and tells the master
    // (the hook itself runs in test/integration/boot-failure.test.ts); it needs curl, cut and tr in the initrd.
    expect(modules).toContain("recon-root");
    expect(
      list.some((path) => /^(usr\/)?lib\/dracut\/hooks\/emergency\/05-recon-root-failed\.sh$/.test(path)),
      "the recon-root emergency hook",
    ).toBe(true);
    // root: nfs (#13): overlay-root's pre-pivot hook puts the RAM overlay over the NFS root (kernel argument rootovl).
    expect(modules).toEqual(expect.arrayContaining(["nbd", "nfs", "overlay-root"]));
    expect(
      list.some((path) => /^(usr\/)?lib\/dracut\/hooks\/pre-pivot\/10-overlay-mount\.sh$/.test(path)),
      "overlay-root's pre-pivot hook",
    ).toBe(true);
    // Image diet (#14): every NIC driver stays in the initrd (a peer's boot NIC may be any of them); RAID/HBA
    // drivers and LUKS are omitted there (they load from the root, which still has them: the root check below).
    const modulePath = (name: string) => new RegExp(`^(usr/)?lib/modules/[^/]+/kernel/drivers/.*/${name}\\.ko(\\.[a-z]+)?$`);
    for (const nic of ["e1000e", "igb", "ixgbe", "i40e", "ice", "bnxt_en", "bnx2x", "mlx5_core", "tg3", "virtio_net"])
      expect(
        list.some((path) => modulePath(nic).test(path)),
        `NIC driver ${nic} in the initrd`,
      ).toBe(true);
    for (const hba of ["lpfc", "qla2xxx", "megaraid_sas", "mpt3sas"])
      expect(
        list.some((path) => modulePath(hba).test(path)),
        `HBA driver ${hba} omitted from the initrd`,
      ).toBe(false);
    expect(modules).not.toContain("crypt");
    for (const tool of ["curl", "cut", "tr"])
      expect(
        list.some((path) => new RegExp(`^(usr/)?bin/${tool}$`).test(path)),
        tool,
      ).toBe(true);
    await rm(cpio);
  });

  it("has a root with Node.js >= 18, the recon runtime, its unit enabled and the tools later roles need", async () => {
    const rootfs = await extractRootfs(iso, work);
    const status = await debugfs(rootfs, "cat /var/lib/dpkg/status");
    const version = (pkg: string) => new RegExp(`^Package: ${pkg}\\n(?:[^\\n]+\\n)*?Version: (\\S+)`, "m").exec(status)?.[1];
    const node = version("nodejs");
    expect(node, "nodejs is installed").toBeDefined();
    expect(Number(node!.split(".")[0])).toBeGreaterThanOrEqual(18);
    for (const pkg of [
      "dnsmasq-base",
      "ipxe",
      "curl",
      "lshw",
      "dmidecode",
      "pciutils",
      "ethtool",
      "smartmontools",
      "nvme-cli",
      "lldpd",
      "ipmitool",
      "iproute2",
      "firmware-bnx2",
      "firmware-bnx2x",
      "firmware-qlogic",
      "firmware-misc-nonfree",
    ]) {
      expect(version(pkg), pkg).toBeDefined();
    }
    expect(await debugfs(rootfs, "stat /usr/bin/node")).toMatch(/Type: regular/);
    for (const file of ["undionly.kpxe", "ipxe.efi", "snponly.efi"]) {
      // Debian ships some as symlinks (ipxe.efi → /boot/ipxe.efi): follow one level.
      const info = await debugfs(rootfs, `stat /usr/lib/ipxe/${file}`);
      const target = /Fast link dest: "(.*)"/.exec(info)?.[1];
      const resolved = target === undefined ? info : await debugfs(rootfs, `stat ${target.startsWith("/") ? target : `/usr/lib/ipxe/${target}`}`);
      expect(resolved, file).toMatch(/Type: regular/);
    }
    // What the master serves UEFI peers comes from its own root (an air-gapped site needs nothing else).
    for (const file of ["/usr/lib/shim/shimx64.efi.signed", "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed"]) {
      expect(await debugfs(rootfs, `stat ${file}`), file).toMatch(/Type: regular/);
    }
    const dumped = join(work, "recon.mjs");
    await debugfs(rootfs, `dump /usr/lib/recon/recon.mjs ${dumped}`);
    expect(await sha256(dumped)).toBe(await sha256(join(buildDir, "description/root/usr/lib/recon/recon.mjs")));
    expect(await debugfs(rootfs, "stat /etc/systemd/system/multi-user.target.wants/recon.service")).toMatch(/Type: symlink/);
    // Every tool, library, driver and firmware file the roles need (src/build/image-needs.ts, the one list).
    const mounted = join(work, "rootfs-mount");
    await mkdir(mounted, { recursive: true });
    const needs = await withReadOnlyMount(execaRunner, rootfs, mounted, () => checkImageNeeds(mounted));
    expect(describeMissing(needs)).toEqual([]);
    await rm(rootfs);
  });

  it("is laid out for HTTP by the http target (ISO, kernel and initrd from the ISO, boot.json)", async () => {
    const httpDir = join(work, "http");
    const result = await execa(join(repoRoot, "make-recipe-target"), [recipe, "http"], {
      cwd: repoRoot,
      reject: false,
      all: true,
      env: { HTTP_DIR: httpDir },
      // The ISO is built: this copies it and unpacks kernel and initrd (seconds to ~1 min).
      timeout: budgetMs(5 * 60_000),
    });
    expect(result.exitCode, result.all).toBe(0);
    const config = JSON.parse(await readFile(join(httpDir, "install", recipe, "boot.json"), "utf8"));
    expect(config.iso.path).toBe(`isos/${recipe}.iso`);
    expect(config.arch).toBe("x86_64");
    expect(config.iso.sha256).toBe(await sha256(iso));
    expect(config.imageKernelArgs).toEqual(["console=tty0", "console=ttyS0,115200n8", "systemd.show_status=1"]);
    const kernel = join(work, "linux");
    await extract(iso, ISO_KERNEL, kernel);
    expect(await sha256(join(httpDir, "install", recipe, "linux"))).toBe(await sha256(kernel));
    expect((await stat(join(httpDir, "install", recipe, "initrd"))).size).toBe(config.initrd.sizeBytes);
  });
});

describe("booting the ISO under qemu (TCG)", () => {
  const ROLE_LINE = /recon\[\d+\]: .*msg="role detected" role=master/;
  // Debian's kernel under Secure Boot (seen on this ISO's boot with OVMF's secboot build and Microsoft keys).
  const SECURE_BOOT_ON = /secureboot: Secure boot enabled/;
  const LOCKED_DOWN = /Kernel is locked down from EFI Secure Boot; see man kernel_lockdown\.7/;
  const DATA_READY = /recon\[\d+\]: .*msg="data directory ready" dir=\/var\/lib\/recon persistent=(true|false)/;
  // TCG boots here took 88-285 s (docs/lab-facts.md); 6 minutes is ~1.3x the slowest, clamped to the
  // e2e tier's budget. A VM that exits (-no-reboot) fails its wait at once with its serial log.
  const BOOT_TIMEOUT_MS = 6 * 60_000;
  // Serial logs are kept as test artefacts.
  const artefacts = join(repoRoot, "test-results", "e2e-live-iso");

  beforeAll(async () => {
    await mkdir(artefacts, { recursive: true });
  });

  it("BIOS, as a CD: role=master, and no persistence on read-only media (tmpfs, loud warning)", async () => {
    const vm = startVm({
      name: "recon-e2e-bios-cd",
      memoryMiB: 2048,
      cpus: 2,
      firmware: "bios",
      disks: [{ file: iso, format: "raw", as: "cdrom", readonly: true }],
      nics: [],
      serialLog: join(artefacts, "bios-cd.serial.log"),
      noReboot: true,
    });
    try {
      const serial = await vm.waitForSerial(DATA_READY, budgetMs(BOOT_TIMEOUT_MS));
      expect(serial).toMatch(ROLE_LINE);
      expect(serial).toContain("root=live:CDLABEL=RECON");
      expect(serial).toMatch(/msg="data directory ready" dir=\/var\/lib\/recon persistent=false/);
      expect(serial).toMatch(/level=warn .*NO PERSISTENT STORAGE.* reason="booted from \/dev\/sr0, a CD\/DVD: read-only"/);
    } finally {
      await vm.stop();
    }
  });

  describe("UEFI, written to a USB stick", () => {
    const stick = () => join(work, "stick.img");
    const partitions = async () =>
      (
        JSON.parse((await execa("sfdisk", ["--json", stick()])).stdout) as {
          partitiontable: { partitions: Array<{ start: number; size: number; type: string }> };
        }
      ).partitiontable.partitions;

    async function bootStick(name: string, firmware: "uefi" | "uefi-sb") {
      const ovmf = ovmfFiles(firmware)!;
      const vars = join(work, `${name}.OVMF_VARS.fd`);
      await copyFile(ovmf.varsTemplate, vars);
      return startVm({
        name,
        memoryMiB: 2048,
        cpus: 2,
        firmware,
        ovmfCode: ovmf.code,
        ovmfVars: vars,
        disks: [{ file: stick(), format: "raw", as: "usb" }],
        nics: [],
        serialLog: join(artefacts, `${name}.serial.log`),
        noReboot: true,
      });
    }

    // The first boot is with Secure Boot enforcing (Microsoft keys enrolled): shim → Debian's signed
    // GRUB → Debian's signed kernel. The second is plain UEFI, as when the stick moves to another
    // machine, so both firmware kinds are covered without a third boot.
    it("first boot, Secure Boot on: role=master, and recon adds a RECON_DATA partition in the stick's free space", async () => {
      await copyFile(iso, stick());
      await execa("truncate", ["-s", "1G", stick()]);
      expect((await partitions()).map((p) => p.type)).toEqual(["cd", "ef"]);
      const vm = await bootStick("uefi-sb-usb-first", "uefi-sb");
      try {
        const serial = await vm.waitForSerial(DATA_READY, budgetMs(BOOT_TIMEOUT_MS));
        expect(serial).toMatch(SECURE_BOOT_ON);
        expect(serial).toMatch(LOCKED_DOWN);
        expect(serial).toMatch(ROLE_LINE);
        expect(serial).toMatch(/msg="data partition created" device=\/dev\/sd[a-z]3 .*label=RECON_DATA/);
        expect(serial).toMatch(/msg="data directory ready" dir=\/var\/lib\/recon persistent=true/);
      } finally {
        await vm.stop();
      }
      const parts = await partitions();
      expect(parts.map((p) => p.type)).toEqual(["cd", "ef", "83"]);
      const data = parts[2]!;
      const image = join(work, "data-partition.img");
      await execa("dd", [
        `if=${stick()}`,
        `of=${image}`,
        "bs=1M",
        `skip=${data.start * 512}`,
        `count=${data.size * 512}`,
        "iflag=skip_bytes,count_bytes",
        "status=none",
      ]);
      expect((await execa("blkid", ["-p", "-s", "LABEL", "-o", "value", image])).stdout.trim()).toBe("RECON_DATA");
      // The VM was switched off, not shut down: what fsync made durable may still sit in ext4's
      // journal. e2fsck replays it (as the kernel would at the next mount); debugfs does not.
      const fsck = await execa("e2fsck", ["-f", "-y", image], { reject: false, all: true });
      expect(fsck.exitCode, fsck.all).toBeLessThanOrEqual(1);
      const record = JSON.parse(await debugfs(image, "cat /boot-devices.json")) as { persistent: boolean; lsblk: unknown };
      expect(record.persistent).toBe(true);
      await writeFile(join(artefacts, "uefi-sb-usb-first.lsblk.json"), `${JSON.stringify(record.lsblk, null, 2)}\n`);
      await rm(image);
    });

    it("second boot of the same stick, plain UEFI: recon finds and mounts the data partition it made", async () => {
      const vm = await bootStick("uefi-usb-second", "uefi");
      try {
        const serial = await vm.waitForSerial(DATA_READY, budgetMs(BOOT_TIMEOUT_MS));
        expect(serial).not.toMatch(SECURE_BOOT_ON);
        expect(serial).toMatch(/msg="data partition plan" action=mount reason="found RECON_DATA on \/dev\/sd[a-z]3"/);
        expect(serial).not.toContain("data partition created");
        expect(serial).toMatch(/persistent=true/);
      } finally {
        await vm.stop();
      }
      expect((await partitions()).map((p) => p.type)).toEqual(["cd", "ef", "83"]);
    });
  });
});
