import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findBootDisk, parseFindmnt, parseLsblk, parseSfdiskJson, planDataPartition, planMountStep, type BlockDevice } from "./data-partition.js";

const fixtures = join(import.meta.dirname, "../../../test/fixtures/block");
const read = (name: string) => readFile(join(fixtures, name), "utf8");

// `sfdisk --json` of the debian-12 ISO written to a 1 GiB image attached as /dev/loop1 (real).
const stickTable = parseSfdiskJson(await read("debian-12-stick-1G-loop.sfdisk.json"));

/** A block device list shaped as lsblk reports a hybrid ISO on a stick. */
function stick(overrides: Partial<BlockDevice> = {}): BlockDevice[] {
  const disk: BlockDevice = {
    name: "loop1",
    path: "/dev/loop1",
    label: "RECON",
    fstype: "iso9660",
    type: "disk",
    pkname: null,
    size: 1073741824,
    ro: false,
    mountpoint: null,
    ...overrides,
  };
  return [
    disk,
    {
      name: "loop1p1",
      path: "/dev/loop1p1",
      label: "RECON",
      fstype: "iso9660",
      type: "part",
      pkname: "loop1",
      size: 460955648,
      ro: false,
      mountpoint: "/run/initramfs/live",
    },
    { name: "loop1p2", path: "/dev/loop1p2", label: "EFI", fstype: "vfat", type: "part", pkname: "loop1", size: 20971520, ro: false, mountpoint: null },
  ];
}

describe("parseSfdiskJson", () => {
  it("reads the hybrid ISO's two MBR partitions", () => {
    expect(stickTable.label).toBe("dos");
    expect(stickTable.partitions.map((p) => [p.start, p.size, p.type])).toEqual([
      [64, 900304, "cd"],
      [900368, 40960, "ef"],
    ]);
  });
});

describe("parseLsblk", () => {
  it("flattens a real lsblk -J -b listing of this lab machine", async () => {
    const devices = parseLsblk(await read("host-lab-vm.lsblk.json"));
    expect(devices.find((d) => d.name === "vda")).toMatchObject({ type: "disk", path: "/dev/vda" });
    expect(devices.every((d) => typeof d.size === "number")).toBe(true);
  });
});

describe("planDataPartition", () => {
  it("keeps to tmpfs on a machine with no RECON medium (this lab machine)", async () => {
    const devices = parseLsblk(await read("host-lab-vm.lsblk.json"));
    expect(planDataPartition(devices, "RECON", undefined)).toEqual({
      action: "tmpfs",
      reason: "no boot medium labelled RECON (network boot or renamed volume)",
    });
  });

  it("creates a partition after the image, aligned to 1 MiB, on a writable stick", () => {
    expect(findBootDisk(stick(), "RECON")?.path).toBe("/dev/loop1");
    // The image ends at sector 941328; the next MiB boundary is 942080 (what sfdisk chose too).
    expect(planDataPartition(stick(), "RECON", stickTable)).toEqual({
      action: "create",
      disk: "/dev/loop1",
      startSector: 942080,
      reason: "564 MiB free on /dev/loop1 after the image",
    });
  });

  it("finds the disk through the ISO partition when lsblk labels only the partition", () => {
    const devices = stick({ label: null, fstype: null });
    expect(planDataPartition(devices, "RECON", stickTable)).toMatchObject({ action: "create", disk: "/dev/loop1" });
  });

  it("mounts an existing RECON_DATA partition", () => {
    const devices = [
      ...stick(),
      {
        name: "loop1p3",
        path: "/dev/loop1p3",
        label: "RECON_DATA",
        fstype: "ext4",
        type: "part",
        pkname: "loop1",
        size: 591396864,
        ro: false,
        mountpoint: null,
      },
    ];
    expect(planDataPartition(devices, "RECON", stickTable)).toMatchObject({ action: "mount", device: "/dev/loop1p3" });
  });

  it.each([
    ["a CD", stick({ type: "rom", path: "/dev/sr0", name: "sr0" }), stickTable, /a CD\/DVD: read-only/],
    ["a write-protected stick", stick({ ro: true }), stickTable, /read-only \(write-protect switch\?\)/],
    ["a stick the image fills", stick({ size: 482017280 }), stickTable, /only 0 MiB free/],
    ["a GPT disk", stick(), { ...stickTable, label: "gpt" }, /gpt table/],
    ["an unreadable table", stick(), undefined, /could not read the partition table/],
  ])("falls back to tmpfs on %s", (_name, devices, table, reason) => {
    const plan = planDataPartition(devices, "RECON", table);
    expect(plan.action).toBe("tmpfs");
    expect(plan.reason).toMatch(reason);
  });
});

describe("planMountStep (start-up is idempotent)", () => {
  // Real outputs: findmnt and lsblk of an ext4 image on /dev/loop0 mounted at a data dir, and of
  // recon's own tmpfs; findmnt prints nothing (exit 1) for a directory that is no mount point.
  const target = "/tmp/fm/var/lib/recon";
  const dataPlan = { action: "mount" as const, device: "/dev/loop0", reason: "found RECON_DATA on /dev/loop0" };
  const tmpfsPlan = { action: "tmpfs" as const, reason: "a CD" };

  it("mounts when nothing is mounted there", async () => {
    const devices = parseLsblk((await read("lsblk-mounted-data-loop.json")).replace(/"mountpoint": "[^"]*"/, '"mountpoint": null'));
    expect(planMountStep(dataPlan, target, parseFindmnt(""), devices)).toEqual({ kind: "mount" });
  });

  it("reuses the data partition already mounted where recon wants it (a second start)", async () => {
    const devices = parseLsblk(await read("lsblk-mounted-data-loop.json"));
    const step = planMountStep(dataPlan, target, parseFindmnt(await read("findmnt-ext4-loop.json")), devices);
    expect(step).toEqual({ kind: "reuse", reason: `/dev/loop0 is already mounted at ${target} (an earlier start)` });
  });

  it("refuses a data partition mounted elsewhere, saying where and what to do", async () => {
    const devices = parseLsblk(await read("lsblk-mounted-data-loop.json"));
    const step = planMountStep(dataPlan, "/var/lib/recon", undefined, devices);
    expect(step).toEqual({
      kind: "conflict",
      message: `the data partition /dev/loop0 is already mounted at ${target}, not at /var/lib/recon where recon keeps its data`,
      hint: `unmount it (umount ${target}) and start recon again (systemctl restart recon)`,
    });
  });

  it("reuses recon's own tmpfs, and refuses to mount over something else", async () => {
    const tmpfs = parseFindmnt(await read("findmnt-recon-tmpfs.json"));
    expect(planMountStep(tmpfsPlan, "/tmp/fm", tmpfs, [])).toMatchObject({ kind: "reuse" });
    const ext4 = parseFindmnt(await read("findmnt-ext4-loop.json"));
    expect(planMountStep(tmpfsPlan, target, ext4, [])).toMatchObject({
      kind: "conflict",
      message: `${target} already has /dev/loop0 (ext4) mounted; recon wants recon's tmpfs there`,
    });
    expect(planMountStep({ action: "create", disk: "/dev/sda", startSector: 2048, reason: "" }, target, tmpfs, [])).toMatchObject({ kind: "conflict" });
  });
});
