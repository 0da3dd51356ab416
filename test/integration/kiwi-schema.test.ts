/**
 * Every recipe's generated description is checked by the installed KIWI itself: RelaxNG with
 * xmllint against kiwi's schema file, then kiwi-ng's own loader (schema + schematron rules,
 * profile and type selection) for every profile. No mock: if kiwi rejects it, this fails.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, reconBin } from "../helpers/repo.js";

const KIWI_SCHEMA = "/usr/lib/python3/dist-packages/kiwi/schema/kiwi.rng";
const recipes = ["debian-12", "suse-leap-15.1", "suse-leap-15.6"];
const profiles: Array<[string, string]> = [
  ["DracutLive", "iso"],
  ["Virtual", "oem"],
  ["Disk", "oem"],
];
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-kiwi-schema-"));
  for (const recipe of recipes) {
    await execa(reconBin, ["build", "describe", recipe, "--out", join(work, recipe)], {
      cwd: repoRoot,
      // A fixed mirror keeps the test independent of this host's apt sources.
      env: { RECON_APT_MIRROR: "http://deb.debian.org/debian", RECON_APT_SECURITY_MIRROR: "http://deb.debian.org/debian-security" },
    });
  }
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe.each(recipes)("%s", (recipe) => {
  it("config.xml validates against the installed kiwi's RelaxNG schema", async () => {
    const result = await execa("xmllint", ["--noout", "--relaxng", KIWI_SCHEMA, join(work, recipe, "config.xml")], {
      reject: false,
    });
    expect(result.stderr).toContain("validates");
    expect(result.exitCode).toBe(0);
  });

  it("config.sh is valid bash (heredocs inside the profile branches included)", async () => {
    const result = await execa("bash", ["-n", join(work, recipe, "config.sh")], { reject: false });
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
  });

  it.each(profiles)("kiwi-ng loads profile %s as type %s", async (profile, type) => {
    const result = await execa("kiwi-ng", [`--profile=${profile}`, "image", "info", `--description=${join(work, recipe)}`], { reject: false, all: true });
    expect(result.all).toContain(`--> Selected build type: ${type}`);
    expect(result.all).toContain(`--> Selected profiles: ${profile}`);
    expect(result.exitCode).toBe(0);
  });
});

describe("a description kiwi must reject", () => {
  it("fails validation when a type carries the dropped hybrid attribute", async () => {
    const { readFile, writeFile } = await import("node:fs/promises");
    const file = join(work, "debian-12", "config.xml");
    const broken = join(work, "broken");
    await execa("cp", ["-r", join(work, "debian-12"), broken]);
    const xml = await readFile(file, "utf8");
    await writeFile(join(broken, "config.xml"), xml.replace('flags="dmsquash"', 'flags="dmsquash" hybrid="true"'));
    const result = await execa("xmllint", ["--noout", "--relaxng", KIWI_SCHEMA, join(broken, "config.xml")], {
      reject: false,
    });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain("fails to validate");
  });
});
