/**
 * `recon inventory normalize` as a user runs it, on raw uploads packed the way the agent packs
 * them (the `tar` package, gzip, relative paths, regular files only) from the captured
 * fixtures: exit 0 and schema-valid JSON equal to the golden file; bad input exits 2 with a
 * message that says what is wrong.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { create } from "tar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixtureDir, fixtureMachines, INVENTORY_FIXTURES, readFixtureFiles } from "../fixtures/inventory/fixtures.js";
import { reconBin, repoRoot } from "../helpers/repo.js";
import { inventorySchema } from "../../src/inventory/schema.js";

let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-inventory-cli-"));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function packFixture(machine: string): Promise<string> {
  const file = join(work, `${machine}.tar.gz`);
  const paths = [...readFixtureFiles(machine).keys()].filter((path) => path === "manifest.json" || path === "collector.log" || path.startsWith("raw/")).sort();
  await create({ gzip: true, portable: true, file, cwd: fixtureDir(machine) }, paths);
  return file;
}

describe("recon inventory normalize", () => {
  for (const machine of fixtureMachines()) {
    it(`${machine}: a packed raw upload prints its schema-valid golden inventory`, async () => {
      const tarball = await packFixture(machine);
      const result = await execa(reconBin, ["inventory", "normalize", tarball], { cwd: repoRoot, reject: false });
      expect(result.stderr).toBe("");
      expect(result.exitCode).toBe(0);
      const printed = JSON.parse(result.stdout) as unknown;
      expect(inventorySchema.safeParse(printed).success).toBe(true);
      const golden = JSON.parse(await readFile(join(INVENTORY_FIXTURES, "golden", `${machine}.json`), "utf8")) as unknown;
      expect(printed).toEqual(golden);
      // The directory form gives the same inventory as the tar.gz.
      const fromDir = await execa(reconBin, ["inventory", "normalize", fixtureDir(machine)], { cwd: repoRoot });
      expect(JSON.parse(fromDir.stdout)).toEqual(printed);
    });
  }

  it("exits 2 with a clear message on a missing path, a non-gzip file and an archive without raw files", async () => {
    const missing = await execa(reconBin, ["inventory", "normalize", join(work, "nope.tar.gz")], { cwd: repoRoot, reject: false });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/^recon: error: no raw upload at .*nope\.tar\.gz/);

    const notGzip = join(work, "plain.tar.gz");
    await writeFile(notGzip, "this is not gzip\n");
    const bad = await execa(reconBin, ["inventory", "normalize", notGzip], { cwd: repoRoot, reject: false });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("is not a readable raw upload: the upload is not gzip-compressed");

    const emptyDir = await mkdtemp(join(work, "empty-"));
    await writeFile(join(emptyDir, "notes.txt"), "hello\n");
    const other = join(work, "other.tar.gz");
    await create({ gzip: true, portable: true, file: other, cwd: emptyDir }, ["notes.txt"]);
    const unrelated = await execa(reconBin, ["inventory", "normalize", other], { cwd: repoRoot, reject: false });
    expect(unrelated.exitCode).toBe(2);
    expect(unrelated.stderr).toContain("holds no manifest.json and no raw/ files");

    const usage = await execa(reconBin, ["inventory"], { cwd: repoRoot, reject: false });
    expect(usage.exitCode).toBe(2);
  });
});
