/**
 * The needs list (src/build/image-needs.ts) against the image root kiwi-ng left in the build tree:
 * every tool, library, file, driver and firmware file the roles need is there. Runs when an image
 * has been built here (`./make-recipe-target debian-12 target`, or the e2e tier, which builds it);
 * the e2e's root check runs the same checker on the root inside the ISO.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkImageNeeds, describeMissing } from "../../src/build/image-needs.js";
import { repoRoot } from "../helpers/repo.js";

const imageRoot = join(repoRoot, "build", "debian-12", "image-DracutLive", "build", "image-root");
const built = existsSync(join(imageRoot, "usr", "lib", "modules"));

describe("the built debian-12 image root has everything the roles need", () => {
  if (!built) console.log(`image-needs: skipped, no image root at ${imageRoot} (build one: ./make-recipe-target debian-12 target)`);
  it.skipIf(!built)("no tool, library, file, module or firmware file is missing", async () => {
    const report = await checkImageNeeds(imageRoot);
    expect(describeMissing(report), `in ${imageRoot}`).toEqual([]);
    expect(report.checked.modules).toBeGreaterThan(500);
  });
});
