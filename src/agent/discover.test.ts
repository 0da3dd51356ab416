import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseLsblkDisks } from "./discover.js";

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
