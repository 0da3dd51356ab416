import { chmod, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { constants } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pathExists } from "./path-exists.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "recon-path-exists-"));
  await writeFile(join(dir, "file"), "x");
  await chmod(join(dir, "file"), 0o644);
  await symlink(join(dir, "missing"), join(dir, "dangling"));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe("pathExists", () => {
  it("is true for a file and a directory, false for a missing path and a dangling symlink", async () => {
    expect(await pathExists(join(dir, "file"))).toBe(true);
    expect(await pathExists(dir)).toBe(true);
    expect(await pathExists(join(dir, "missing"))).toBe(false);
    expect(await pathExists(join(dir, "dangling"))).toBe(false);
  });
  it("checks the mode asked for", async () => {
    expect(await pathExists(join(dir, "file"), constants.X_OK)).toBe(false);
  });
});
