import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { debugfsFound, debugfsStatArgs, unsquashfsOneArgs } from "./verify-live-root.js";

// Real debugfs 1.47 outputs, from the rootfs.img of an ISO kiwi-ng built here with an empty root.
const fixtures = join(import.meta.dirname, "../../test/fixtures/kiwi");

describe("verify-live-root", () => {
  it("reads debugfs's answer for a present and a missing path", async () => {
    expect(debugfsFound(await readFile(join(fixtures, "debugfs-stat-found.txt"), "utf8"))).toBe(true);
    expect(debugfsFound(await readFile(join(fixtures, "debugfs-stat-missing.txt"), "utf8"))).toBe(false);
    expect(debugfsFound("")).toBe(false);
  });

  it("builds argv without a shell", () => {
    expect(unsquashfsOneArgs("/b/s.img", "/b/sq", "LiveOS/rootfs.img")).toEqual(["-no-progress", "-quiet", "-d", "/b/sq", "/b/s.img", "LiveOS/rootfs.img"]);
    expect(debugfsStatArgs("/b/rootfs.img", "/usr/bin/recon")).toEqual(["-R", "stat /usr/bin/recon", "/b/rootfs.img"]);
  });
});
