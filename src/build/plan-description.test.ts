import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseDeb822Sources } from "./apt-sources.js";
import { hashDescription, planDescription, RUNTIME_PATH, type DescriptionInputs } from "./plan-description.js";
import { renderConfigSh } from "./render-config-sh.js";
import { renderConfigXml } from "./render-config-xml.js";
import { listRecipes, loadRecipe, readOverlay, resolveRepositories, rewriteToMirror } from "./sources.js";

const root = join(import.meta.dirname, "..", "..");
const descriptions = join(root, "descriptions");
// The apt sources of a real Debian 12 host (this lab's), so snapshots do not depend on the
// machine the tests run on.
const hostSources = parseDeb822Sources(
  await readFile(join(root, "test/fixtures/apt/debian-12-host.sources"), "utf8"),
  "fixture",
);
const recipeNames = await listRecipes(descriptions);

describe("recipes", () => {
  it("has the three recipes users type", () => {
    expect(recipeNames).toEqual(["debian-12", "suse-leap-15.1", "suse-leap-15.6"]);
  });
});

describe.each(recipeNames)("recipe %s", (name) => {
  it("renders config.xml (full text)", async () => {
    const recipe = await loadRecipe(descriptions, name);
    const xml = renderConfigXml(recipe, resolveRepositories(recipe, hostSources));
    await expect(xml).toMatchFileSnapshot(`__snapshots__/${name}.config.xml`);
  });

  it("renders config.sh (full text)", async () => {
    const recipe = await loadRecipe(descriptions, name);
    await expect(renderConfigSh(recipe)).toMatchFileSnapshot(`__snapshots__/${name}.config.sh`);
  });

  it("declares every profile with exactly one type, DracutLive imported", async () => {
    const recipe = await loadRecipe(descriptions, name);
    const xml = renderConfigXml(recipe, resolveRepositories(recipe, hostSources));
    for (const profile of ["DracutLive", "Virtual", "Disk"]) {
      const block = new RegExp(`<preferences profiles="${profile}">([\\s\\S]*?)</preferences>`).exec(xml);
      expect(block, profile).not.toBeNull();
      expect(block![1]!.match(/<type /g)).toHaveLength(1);
    }
    expect(xml).toContain('<profile name="DracutLive" description="Live ISO');
    expect(xml).toMatch(/<profile name="DracutLive"[^>]*import="true"/);
    // Every profile's type gets the recipe's firmware: uefi (Secure Boot) for debian-12, efi for the SUSE ones.
    expect(xml.match(/ firmware="[a-z]+"/g)).toEqual(Array(3).fill(` firmware="${recipe.firmware}"`));
    expect(xml).toMatch(new RegExp(`<type image="iso" primary="true" flags="dmsquash" firmware="${name === "debian-12" ? "uefi" : "efi"}" mediacheck="false"`));
    expect(xml).not.toContain("hybrid=");
  });
});

describe("resolveRepositories", () => {
  it("takes Debian's mirror from the host's apt sources", async () => {
    const recipe = await loadRecipe(descriptions, "debian-12");
    const repos = resolveRepositories(recipe, hostSources);
    expect(repos.map((r) => [r.alias, r.url])).toEqual([
      ["debian-bookworm", "http://deb.debian.org/debian"],
      ["debian-bookworm-security", "http://deb.debian.org/debian-security"],
    ]);
  });

  it("lets the admin override the main and security mirrors separately", async () => {
    const recipe = await loadRecipe(descriptions, "debian-12");
    const repos = resolveRepositories(recipe, hostSources, {
      main: "http://mirror.example/debian/",
      security: "http://mirror.example/debian-security",
    });
    expect(repos.map((r) => r.url)).toEqual(["http://mirror.example/debian", "http://mirror.example/debian-security"]);
  });

  it("moves a zypper recipe's sources below its mirrorBase to RECON_ZYPPER_MIRROR", async () => {
    const recipe = await loadRecipe(descriptions, "suse-leap-15.1");
    expect(resolveRepositories(recipe, [], { zypper: "http://mirror.example/opensuse/discontinued/" }).map((r) => r.url)).toEqual([
      "http://mirror.example/opensuse/discontinued/distribution/leap/15.1/repo/oss/",
      "http://mirror.example/opensuse/discontinued/update/leap/15.1/oss/",
    ]);
    expect(resolveRepositories(recipe, []).map((r) => r.url)).toEqual(recipe.repositories.map((r) => r.source));
  });

  it("leaves sources outside mirrorBase and apt recipes alone", async () => {
    expect(rewriteToMirror("https://other.example/repo/", "http://download.opensuse.org/", "http://m/")).toBe("https://other.example/repo/");
    const debian = await loadRecipe(descriptions, "debian-12");
    expect(resolveRepositories(debian, hostSources, { zypper: "http://mirror.example/" }).map((r) => r.url)).toEqual([
      "http://deb.debian.org/debian",
      "http://deb.debian.org/debian-security",
    ]);
  });

  it("refuses a zypper mirror for a recipe without mirrorBase, and a mirror that is not a URL", async () => {
    const recipe = await loadRecipe(descriptions, "suse-leap-15.1");
    expect(() => resolveRepositories({ ...recipe, mirrorBase: undefined }, [], { zypper: "http://m/" })).toThrow(/names no `mirrorBase`/);
    expect(() => resolveRepositories(recipe, [], { zypper: "mirror.example" })).toThrow(/is not an http\(s\) URL/);
  });

  it("explains what to do when the host has no source for the suite", async () => {
    const recipe = await loadRecipe(descriptions, "debian-12");
    expect(() => resolveRepositories(recipe, [])).toThrow(/no apt source on this host serves that suite/);
    try {
      resolveRepositories(recipe, []);
    } catch (error) {
      expect((error as { hint: string }).hint).toContain("RECON_APT_MIRROR=");
    }
  });
});

describe("planDescription", () => {
  async function inputs(): Promise<DescriptionInputs> {
    const recipe = await loadRecipe(descriptions, "debian-12");
    return {
      recipe,
      repositories: resolveRepositories(recipe, hostSources),
      overlay: await readOverlay(join(root, "overlay")),
      recipeOverlay: [],
      runtime: "// bundled runtime\n",
      reconVersion: "0.0.0-test",
    };
  }

  it("lists config.xml, config.sh and the root overlay with modes", async () => {
    const files = planDescription(await inputs());
    expect(files.map((f) => [f.path, f.mode.toString(8)])).toEqual([
      ["config.xml", "644"],
      ["config.sh", "755"],
      ["root/etc/recon/build.json", "644"],
      ["root/etc/systemd/system/recon.service", "644"],
      ["root/etc/systemd/system/var-log.mount", "644"],
      ["root/etc/systemd/system/var-tmp.mount", "644"],
      ["root/usr/bin/recon", "755"],
      ["root/usr/lib/dracut/modules.d/95recon-root/module-setup.sh", "755"],
      ["root/usr/lib/dracut/modules.d/95recon-root/recon-root-failed.sh", "755"],
      ["root/usr/lib/dracut/modules.d/95recon-torrent/module-setup.sh", "755"],
      ["root/usr/lib/dracut/modules.d/95recon-torrent/recon-torrent-lib.sh", "644"],
      [`root/${RUNTIME_PATH}`, "644"],
    ]);
  });

  it("lets the recipe's own root/ win over the common overlay", async () => {
    const base = await inputs();
    const files = planDescription({
      ...base,
      recipeOverlay: [{ path: "usr/bin/recon", data: "#!/bin/sh\necho recipe\n", mode: 0o755 }],
    });
    expect(files.find((f) => f.path === "root/usr/bin/recon")!.data).toBe("#!/bin/sh\necho recipe\n");
  });

  it("refuses overlay paths that leave the image root", async () => {
    const base = await inputs();
    expect(() =>
      planDescription({ ...base, recipeOverlay: [{ path: "../etc/passwd", data: "x", mode: 0o644 }] }),
    ).toThrow(/escapes the image root/);
  });

  it("hashes the same description the same way and any change differently", async () => {
    const base = await inputs();
    const a = hashDescription(planDescription(base));
    expect(hashDescription(planDescription(base))).toBe(a);
    expect(hashDescription(planDescription({ ...base, runtime: "// bundled runtime 2\n" }))).not.toBe(a);
    const reordered = [...planDescription(base)].reverse();
    expect(hashDescription(reordered)).toBe(a);
  });
});
