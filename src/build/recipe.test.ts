import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadRecipe } from "./sources.js";

async function recipeDir(name: string, body: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "recon-recipe-"));
  await mkdir(join(dir, name));
  await writeFile(join(dir, name, "recipe.json"), typeof body === "string" ? body : JSON.stringify(body));
  return dir;
}

const minimal = {
  name: "tiny",
  summary: "tiny",
  distribution: { family: "debian", release: "bookworm", version: "12" },
  packageManager: "apt",
  imageVersion: "1.0.0",
  volumeId: "TINY",
  kernelArgs: [],
  repositories: [
    { alias: "main", type: "apt-deb", source: "http://m/debian", distribution: "bookworm", useForBootstrap: true },
  ],
  bootstrapPackages: ["ca-certificates"],
  imagePackages: ["systemd"],
};

describe("loadRecipe", () => {
  it("loads a minimal recipe and fills the defaults", async () => {
    const recipe = await loadRecipe(await recipeDir("tiny", minimal), "tiny");
    expect(recipe.squashfsCompression).toBe("xz");
    expect(recipe.profilePackages).toEqual({ DracutLive: [], Virtual: [], Disk: [] });
    expect(recipe.locale).toBeUndefined();
    expect(recipe.firmware).toBe("efi");
  });

  it("takes firmware uefi (Secure Boot) with Debian's shim and signed GRUB", async () => {
    const recipe = await loadRecipe(await recipeDir("tiny", { ...minimal, firmware: "uefi", imagePackages: ["systemd", "shim-signed", "grub-efi-amd64-signed"] }), "tiny");
    expect(recipe.firmware).toBe("uefi");
  });

  it("refuses firmware uefi on Debian without the signed boot chain, and an unknown firmware", async () => {
    const without = await recipeDir("tiny", { ...minimal, firmware: "uefi", imagePackages: ["systemd", "shim-signed"] });
    await expect(loadRecipe(without, "tiny")).rejects.toThrow(/imagePackages: firmware "uefi" \(Secure Boot\) needs grub-efi-amd64-signed in imagePackages/);
    const unknown = await recipeDir("tiny", { ...minimal, firmware: "secure" });
    await expect(loadRecipe(unknown, "tiny")).rejects.toThrow(/firmware: Invalid enum value. Expected 'efi' \| 'uefi'/);
  });

  it("takes image cuts by id and names the known ones for an unknown id", async () => {
    const recipe = await loadRecipe(await recipeDir("tiny", { ...minimal, imageCuts: ["doc", "man"] }), "tiny");
    expect(recipe.imageCuts).toEqual(["doc", "man"]);
    const unknown = await recipeDir("tiny", { ...minimal, imageCuts: ["doc", "docs"] });
    await expect(loadRecipe(unknown, "tiny")).rejects.toThrow(/imageCuts\.1: 'docs' is not an image cut; use one of doc, man, locale/);
  });

  it("names an unknown recipe and lists the known ones", async () => {
    const dir = await recipeDir("tiny", minimal);
    await expect(loadRecipe(dir, "nope")).rejects.toMatchObject({
      code: "RECIPE_NOT_FOUND",
      exitCode: 2,
      hint: expect.stringContaining("tiny"),
    });
  });

  it("names the key path of every schema problem", async () => {
    const dir = await recipeDir("tiny", {
      ...minimal,
      imagePackages: ["systemd", "bad name"],
      volumeId: "lower",
      extra: 1,
    });
    const error = await loadRecipe(dir, "tiny").catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "RECIPE_INVALID" });
    const message = (error as Error).message;
    expect(message).toContain("imagePackages.1: not a package name");
    expect(message).toContain("volumeId:");
    expect(message).toContain("Unrecognized key(s) in object: 'extra'");
  });

  it("reports broken JSON with the file name", async () => {
    const dir = await recipeDir("tiny", "{ not json");
    await expect(loadRecipe(dir, "tiny")).rejects.toThrow(/tiny\/recipe\.json is not valid JSON/);
  });

  it("refuses a recipe whose name differs from its directory", async () => {
    const dir = await recipeDir("tiny", { ...minimal, name: "other" });
    await expect(loadRecipe(dir, "tiny")).rejects.toThrow(/names itself 'other'/);
  });

  it("refuses host-apt for rpm-md repositories", async () => {
    const dir = await recipeDir("tiny", {
      ...minimal,
      repositories: [{ alias: "x", type: "rpm-md", source: "host-apt" }],
    });
    await expect(loadRecipe(dir, "tiny")).rejects.toThrow(/host-apt. only works for apt-deb/);
  });
});
