import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { mountsBelow, parseMountPoints } from "./leftover-mounts.js";

// This build host's /proc/self/mountinfo (2026-12-02) with kiwi's five mounts made by hand as kiwi makes
// them (the image root bound onto itself; proc, /sys, /dev and the package cache inside), under a path with
// a space, which the kernel writes as \040 (proc(5)).
const MOUNTINFO = readFileSync(join(import.meta.dirname, "../../test/fixtures/build/mountinfo-kiwi-leftover.txt"), "utf8");
const TARGET = "/tmp/cap work/image-DracutLive";

describe("leftover mounts", () => {
  it("reads field 5 of every line, unescaping the kernel's octal", () => {
    const points = parseMountPoints(MOUNTINFO);
    expect(points).toHaveLength(MOUNTINFO.trimEnd().split("\n").length);
    expect(points).toEqual(expect.arrayContaining(["/proc", "/sys", "/dev", `${TARGET}/build/image-root/proc`]));
    expect(points.some((point) => point.includes("\\040"))).toBe(false);
  });

  it("picks the mounts at or below a dir, deepest first, and nothing that only shares a prefix", () => {
    const root = `${TARGET}/build/image-root`;
    expect(mountsBelow(parseMountPoints(MOUNTINFO), `${TARGET}/`)).toEqual([`${root}/var/cache/kiwi`, `${root}/sys`, `${root}/proc`, `${root}/dev`, root]);
    expect(mountsBelow(parseMountPoints(MOUNTINFO), "/tmp/cap work/image-DracutLiv")).toEqual([]);
    expect(mountsBelow(parseMountPoints(MOUNTINFO), "/srv")).toEqual([]);
  });
});
