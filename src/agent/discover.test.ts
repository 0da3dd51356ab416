import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseLsblkDisks, raidDisksFromScan } from "./discover.js";

describe("parseLsblkDisks", () => {
  it("keeps TYPE disk entries of a real lsblk document (loop devices are not disks)", async () => {
    // Captured on the lab host: loop0, zram0, vda and its partitions.
    const text = await readFile(join(import.meta.dirname, "../../test/fixtures/block/host-lab-vm.lsblk.json"), "utf8");
    expect(parseLsblkDisks(text)).toEqual(["zram0", "vda"]);
  });

  it("is empty for output that is not lsblk JSON", () => {
    expect(parseLsblkDisks("lsblk: command not found")).toEqual([]);
    expect(parseLsblkDisks('{"blockdevices": null}')).toEqual([]);
  });
});

describe("raidDisksFromScan", () => {
  const storage = (name: string) => readFile(join(import.meta.dirname, "../../test/fixtures/inventory/real/storage", name), "utf8");

  it("finds the disks behind a Dell PERC H330 in a real scan, not the kernel's own disks", async () => {
    // smartctl_exporter PR #205: 17 `-d scsi` disks the kernel sees and two behind the MegaRAID controller.
    expect(raidDisksFromScan(await storage("smartctl-exporter-pr-205.perc-h330.smartctl-scan.txt"))).toEqual([
      { device: "/dev/bus/0", type: "megaraid,0" },
      { device: "/dev/bus/0", type: "megaraid,1" },
    ]);
    expect(raidDisksFromScan(await storage("scrutiny-issue-267.smartctl-scan.txt")).map((disk) => disk.type)).toEqual([
      "megaraid,1",
      "megaraid,2",
      "megaraid,3",
      "megaraid,6",
      "megaraid,7",
      "megaraid,8",
    ]);
  });

  it("finds none on a machine without a RAID controller (scsi, sat and nvme are the kernel's disks)", async () => {
    expect(raidDisksFromScan(await storage("smartmontools-issue-228.smartctl-scan-open.txt"))).toEqual([]);
    expect(raidDisksFromScan("")).toEqual([]);
  });
});
