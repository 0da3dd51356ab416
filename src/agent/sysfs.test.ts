import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { lockdownCommand, lockdownSection } from "../../test/fixtures/inventory/lockdown/sections.js";
import { diskByPath, efiFlag, efiState, readDiskByPath, readEdac, readEfi, readKernelLog, readLockdown, readSysBlock } from "./sysfs.js";

const GUID = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
// efivarfs: 4 attribute bytes (NV|BS|RT = 0x07) then the one-byte value.
const efivar = (value: number) => Buffer.from([0x06, 0, 0, 0, value]);

let root: string | undefined;
afterEach(async () => {
  if (root) await rm(root, { recursive: true, force: true });
  root = undefined;
});

async function tree(files: Record<string, string | Buffer>): Promise<string> {
  root = await mkdtemp(join(tmpdir(), "recon-sysfs-"));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

describe("EFI state", () => {
  it("reads the flag byte after the attributes, and null when the variable is short or absent", () => {
    expect(efiFlag(efivar(1))).toBe(true);
    expect(efiFlag(efivar(0))).toBe(false);
    expect(efiFlag(Buffer.from([7, 0, 0, 0]))).toBeNull();
    expect(efiFlag(undefined)).toBeNull();
  });

  it("is all null on a BIOS boot", () => {
    expect(efiState(false, efivar(1), efivar(1))).toEqual({ efi: false, secure_boot: null, setup_mode: null });
  });

  it("reads SecureBoot and SetupMode from efivars", async () => {
    const dir = await tree({
      [`sys/firmware/efi/efivars/SecureBoot-${GUID}`]: efivar(1),
      [`sys/firmware/efi/efivars/SetupMode-${GUID}`]: efivar(0),
    });
    expect(JSON.parse(await readEfi(dir))).toEqual({ efi: true, secure_boot: true, setup_mode: false });
  });

  it("says EFI without knowing Secure Boot when efivarfs is not mounted", async () => {
    const dir = await tree({ "sys/firmware/efi/systab": "ACPI20=0x7fb7e014\n" });
    expect(JSON.parse(await readEfi(dir))).toEqual({ efi: true, secure_boot: null, setup_mode: null });
  });
});

describe("EDAC counters", () => {
  it("lists controllers and DIMMs in numeric order with numbers as numbers", async () => {
    const dir = await tree({
      "sys/devices/system/edac/mc/mc10/ce_count": "0\n",
      "sys/devices/system/edac/mc/mc10/ue_count": "0\n",
      "sys/devices/system/edac/mc/mc2/mc_name": "Skylake Socket#0 IMC#0\n",
      "sys/devices/system/edac/mc/mc2/ce_count": "3\n",
      "sys/devices/system/edac/mc/mc2/ue_count": "0\n",
      "sys/devices/system/edac/mc/mc2/dimm10/dimm_ce_count": "1\n",
      "sys/devices/system/edac/mc/mc2/dimm2/dimm_label": "CPU_SrcID#0_MC#0_Chan#0_DIMM#0\n",
      "sys/devices/system/edac/mc/mc2/dimm2/size": "16384\n",
      "sys/devices/system/edac/mc/mc2/dimm2/dimm_ce_count": "2\n",
      "sys/devices/system/edac/mc/mc2/dimm2/dimm_ue_count": "0\n",
      "sys/devices/system/edac/mc/power/control": "auto\n",
    });
    expect(JSON.parse(await readEdac(dir))).toEqual({
      edac: true,
      mc: [
        {
          name: "mc2",
          mc_name: "Skylake Socket#0 IMC#0",
          ce_count: 3,
          ue_count: 0,
          dimms: [
            { name: "dimm2", label: "CPU_SrcID#0_MC#0_Chan#0_DIMM#0", size_mb: 16384, ce_count: 2, ue_count: 0 },
            { name: "dimm10", ce_count: 1 },
          ],
        },
        { name: "mc10", ce_count: 0, ue_count: 0, dimms: [] },
      ],
    });
  });

  it("says edac false when the kernel has no EDAC driver", async () => {
    const dir = await tree({ "sys/devices/system/cpu/online": "0-1\n" });
    expect(JSON.parse(await readEdac(dir))).toEqual({ edac: false, mc: [] });
  });
});

describe("diskByPath", () => {
  it("maps whole disks to their by-path names, sorted, leaving partitions out", () => {
    expect(
      diskByPath([
        { name: "pci-0000:00:1f.2-ata-1", target: "../../sda" },
        { name: "pci-0000:00:1f.2-ata-1-part1", target: "../../sda1" },
        { name: "pci-0000:00:1f.2-ata-1.0", target: "../../sda" },
        { name: "pci-0000:5e:00.0-nvme-1", target: "../../nvme0n1" },
      ]),
    ).toEqual({ by_path: { nvme0n1: ["pci-0000:5e:00.0-nvme-1"], sda: ["pci-0000:00:1f.2-ata-1", "pci-0000:00:1f.2-ata-1.0"] } });
  });
});

describe("readDiskByPath", () => {
  it("reads the symlinks of <root>/dev/disk/by-path, and an empty map when there is none", async () => {
    const root = await mkdtemp(join(tmpdir(), "recon-bypath-"));
    try {
      expect(JSON.parse(await readDiskByPath(root))).toEqual({ by_path: {} });
      await mkdir(join(root, "dev/disk/by-path"), { recursive: true });
      await symlink("../../vda", join(root, "dev/disk/by-path/pci-0000:00:04.0"));
      await symlink("../../vda1", join(root, "dev/disk/by-path/pci-0000:00:04.0-part1"));
      expect(JSON.parse(await readDiskByPath(root))).toEqual({ by_path: { vda: ["pci-0000:00:04.0"] } });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe("readSysBlock", () => {
  it("reads each whole disk's serial, model, vendor and wwid from <root>/sys/block; loop/zram left out; vendor only beside a model", async () => {
    const root = await mkdtemp(join(tmpdir(), "recon-sysblock-"));
    try {
      expect(JSON.parse(await readSysBlock(root))).toEqual({ disks: {} });
      const put = async (path: string, text: string) => {
        await mkdir(join(root, "sys/block", dirname(path)), { recursive: true });
        await writeFile(join(root, "sys/block", path), text);
      };
      // The layouts the kernel uses: virtio-blk (serial, device/vendor = PCI id), SCSI (device/model+vendor, wwid), NVMe (device/serial).
      await put("vda/serial", "RCNLABDISK1\n");
      await put("vda/device/vendor", "0x1af4\n");
      await put("sda/device/model", "INTEL SSDSC2KB48\n");
      await put("sda/device/vendor", "ATA     \n");
      await put("sda/device/wwid", "naa.55cd2e404c1a2b3c\n");
      await put("nvme0n1/device/serial", "  S4YNNE0N123456  \n");
      await put("nvme0n1/wwid", "eui.0025388b01a2b3c4\n");
      await put("loop0/serial", "x\n");
      await put("zram0/serial", "\n");
      await put("nbd0/serial", "\n");
      expect(JSON.parse(await readSysBlock(root))).toEqual({
        disks: {
          nvme0n1: { serial: "S4YNNE0N123456", model: null, vendor: null, wwid: "eui.0025388b01a2b3c4" },
          sda: { serial: null, model: "INTEL SSDSC2KB48", vendor: "ATA", wwid: "naa.55cd2e404c1a2b3c" },
          vda: { serial: "RCNLABDISK1", model: null, vendor: null, wwid: null },
        },
      });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe("lockdown and the kernel log", () => {
  it("keeps /sys/kernel/security/lockdown as the kernel wrote it, and says why when it is absent", async () => {
    const text = lockdownCommand("integrity", "cat /sys/kernel/security/lockdown").output;
    expect(await readLockdown(await tree({ "sys/kernel/security/lockdown": text }))).toBe(text);
    await expect(readLockdown(await tree({ "sys/kernel/security/.keep": "" }))).rejects.toThrow(
      /lockdown is absent \(ENOENT\): securityfs is not mounted on \/sys\/kernel\/security, or the kernel has no lockdown LSM/,
    );
  });

  it("reads /dev/kmsg records from a time on, and nothing without a kmsg", async () => {
    const dir = await tree({ "dev/kmsg": lockdownSection("integrity", "cat /dev/kmsg (2 s)") });
    const all = await readKernelLog(dir);
    expect(all?.startsWith("5,0,0,-;Linux version 6.1.0-57-amd64")).toBe(true);
    // Since 3.7 s after boot: the refusals of dmidecode (3797018 µs) and dd, not the boot's hibernation one.
    const late = await readKernelLog(dir, 3_700_000);
    expect(late).toMatch(/^5,363,3797018,-;Lockdown: dmidecode: \/dev\/mem,kmem,port is restricted/);
    expect(late).not.toMatch(/hibernation/);
    expect(await readKernelLog(await tree({}))).toBeUndefined();
  });
});
