/**
 * Writes src/build/image-needs.snapshot.json from a built image root: what the needs list's driver
 * classes, tools and their libraries matched in it (src/build/image-needs.ts). Run it on an image
 * as built BEFORE any diet cut, so the snapshot records everything the image had; it is data the
 * tests read, not a benchmark.
 *   node --import tsx bench/image-needs-snapshot.ts [image-root] [what it was taken from]
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execaRunner } from "../src/lib/run.js";
import { NEEDED_TOOLS } from "../src/build/image-needs.js";
import { scanImageNeeds } from "../src/build/image-needs-scan.js";

const repo = join(import.meta.dirname, "..");
const root = process.argv[2] ?? join(repo, "build/debian-12/image-DracutLive/build/image-root");
const takenFrom = process.argv[3] ?? root;
const snapshot = await scanImageNeeds(root, NEEDED_TOOLS, execaRunner, takenFrom);
const missingTools = NEEDED_TOOLS.filter((tool) => !(tool.name in snapshot.tools)).map((tool) => tool.name);
if (missingTools.length) throw new Error(`the image root lacks tools the needs list names: ${missingTools.join(", ")}`);
await writeFile(join(repo, "src/build/image-needs.snapshot.json"), `${JSON.stringify(snapshot, null, 1)}\n`);
console.log(
  JSON.stringify({
    kernel: snapshot.kernel,
    modules: snapshot.modules.length,
    firmware: snapshot.firmware.length,
    tools: Object.keys(snapshot.tools).length,
    libraries: snapshot.libraries.length,
  }),
);
