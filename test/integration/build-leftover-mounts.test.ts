/**
 * What a killed kiwi leaves: its image root bind-mounted with /proc, /sys, /dev and the package cache
 * inside (made here with real mounts, as kiwi makes them). unmountLeftovers must clear every one, deepest
 * first, so that the next build can remove the tree; before it, the removal fails with EBUSY.
 */
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { mountsBelow, parseMountPoints, unmountLeftovers } from "../../src/build/leftover-mounts.js";
import { execaRunner } from "../../src/lib/run.js";

const work = await mkdtemp(join(tmpdir(), "recon-leftover mounts-"));
const target = join(work, "image-DracutLive");
const root = join(target, "build", "image-root");
const mountedNow = async () => mountsBelow(parseMountPoints(await readFile("/proc/self/mountinfo", "utf8")), target);

afterAll(async () => {
  // Whatever the test left, deepest first; then the tree.
  for (const point of await mountedNow()) await execa("umount", ["-l", point], { reject: false });
  await rm(work, { recursive: true, force: true });
});

describe("unmountLeftovers", () => {
  it("unmounts a killed kiwi's image root and its /proc, /sys, /dev and cache mounts, after which the tree can go", async () => {
    const cache = join(work, "kiwi-cache");
    await mkdir(cache, { recursive: true });
    await mkdir(root, { recursive: true });
    await execa("mount", ["--bind", root, root]);
    for (const dir of ["proc", "sys", "dev", "var/cache/kiwi"]) await mkdir(join(root, dir), { recursive: true });
    await execa("mount", ["-t", "proc", "proc", join(root, "proc")]);
    await execa("mount", ["--bind", "/sys", join(root, "sys")]);
    await execa("mount", ["--bind", "/dev", join(root, "dev")]);
    await execa("mount", ["--bind", cache, join(root, "var/cache/kiwi")]);
    expect(await mountedNow()).toHaveLength(5);
    // The failure the next build met: the tree cannot be removed while it is mounted.
    await expect(rm(target, { recursive: true, force: true })).rejects.toMatchObject({ code: "EBUSY" });

    const unmounted = await unmountLeftovers(execaRunner, target);
    expect(unmounted).toEqual([join(root, "var/cache/kiwi"), join(root, "sys"), join(root, "proc"), join(root, "dev"), root]);
    expect(await mountedNow()).toEqual([]);
    await rm(target, { recursive: true, force: true });
    // The host's own /proc, /sys and /dev are untouched.
    const host = parseMountPoints(await readFile("/proc/self/mountinfo", "utf8"));
    expect(host).toEqual(expect.arrayContaining(["/proc", "/sys", "/dev"]));
  });

  it("finds nothing to do in a tree with no mounts", async () => {
    await mkdir(join(work, "plain"), { recursive: true });
    expect(await unmountLeftovers(execaRunner, join(work, "plain"))).toEqual([]);
  });
});
