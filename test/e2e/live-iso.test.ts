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
import { ISO_INITRD, ISO_KERNEL } from "../../src/build/http-tree.js";
import { listIso } from "../../src/build/xorriso.js";
import { startVm } from "../../src/lab/vm.js";
import { execaRunner } from "../../src/lib/run.js";
import { cpioList, cpioRead, debugfs, elToritoPlatforms, extract, extractRootfs, initrdToCpio, readMbr } from "../helpers/image-inspect.js";
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
    const dumped = join(work, "recon.mjs");
    await debugfs(rootfs, `dump /usr/lib/recon/recon.mjs ${dumped}`);
    expect(await sha256(dumped)).toBe(await sha256(join(buildDir, "description/root/usr/lib/recon/recon.mjs")));
    expect(await debugfs(rootfs, "stat /etc/systemd/system/multi-user.target.wants/recon.service")).toMatch(/Type: symlink/);
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

    async function bootStick(name: string) {
      const vars = join(work, `${name}.OVMF_VARS.fd`);
      await copyFile("/usr/share/OVMF/OVMF_VARS_4M.fd", vars);
      return startVm({
        name,
        memoryMiB: 2048,
        cpus: 2,
        firmware: "uefi",
        ovmfCode: "/usr/share/OVMF/OVMF_CODE_4M.fd",
        ovmfVars: vars,
        disks: [{ file: stick(), format: "raw", as: "usb" }],
        nics: [],
        serialLog: join(artefacts, `${name}.serial.log`),
        noReboot: true,
      });
    }

    it("first boot: role=master, and recon adds a RECON_DATA partition in the stick's free space", async () => {
      await copyFile(iso, stick());
      await execa("truncate", ["-s", "1G", stick()]);
      expect((await partitions()).map((p) => p.type)).toEqual(["cd", "ef"]);
      const vm = await bootStick("uefi-usb-first");
      try {
        const serial = await vm.waitForSerial(DATA_READY, budgetMs(BOOT_TIMEOUT_MS));
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
      await writeFile(join(artefacts, "uefi-usb-first.lsblk.json"), `${JSON.stringify(record.lsblk, null, 2)}\n`);
      await rm(image);
    });

    it("second boot of the same stick: recon finds and mounts the data partition it made", async () => {
      const vm = await bootStick("uefi-usb-second");
      try {
        const serial = await vm.waitForSerial(DATA_READY, budgetMs(BOOT_TIMEOUT_MS));
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
