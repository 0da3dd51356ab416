/**
 * Adds tools that joined the needs list (src/build/image-needs.ts) after the snapshot was taken to
 * src/build/image-needs.snapshot.json, from a scan of a built image root: each new tool's path and
 * the libraries it loads there, as bench/image-needs-snapshot.ts records them. The driver, module
 * and firmware lists (taken before any diet cut) are kept as they are. Data the tests read.
 *   node --import tsx bench/image-needs-add-tools.ts [image-root] [what it was taken from]
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { NEEDED_TOOLS } from "../src/build/image-needs.js";
import { scanImageNeeds } from "../src/build/image-needs-scan.js";
import { execaRunner } from "../src/lib/run.js";

const repo = join(import.meta.dirname, "..");
const root = process.argv[2] ?? join(repo, "build/debian-12/image-DracutLive/build/image-root");
const takenFrom = process.argv[3] ?? root;
const file = join(repo, "src/build/image-needs.snapshot.json");
const snapshot = JSON.parse(await readFile(file, "utf8")) as { tools: Record<string, string>; libraries: string[]; toolsAdded?: Record<string, string> };
const added = NEEDED_TOOLS.filter((tool) => !(tool.name in snapshot.tools));
if (added.length === 0) {
  console.log("image-needs: every tool of the list is in the snapshot already");
  process.exit(0);
}
const scan = await scanImageNeeds(root, added, execaRunner, takenFrom);
const missing = added.filter((tool) => !(tool.name in scan.tools)).map((tool) => tool.name);
if (missing.length) throw new Error(`the image root lacks tools the needs list names: ${missing.join(", ")}`);
for (const tool of added) snapshot.tools[tool.name] = scan.tools[tool.name]!;
snapshot.libraries = [...new Set([...snapshot.libraries, ...scan.libraries])].sort();
snapshot.toolsAdded = { ...snapshot.toolsAdded, ...Object.fromEntries(added.map((tool) => [tool.name, takenFrom])) };
await writeFile(file, `${JSON.stringify(snapshot, null, 1)}\n`);
console.log(`image-needs: added ${added.map((tool) => tool.name).join(", ")} (${scan.libraries.length} libraries scanned) from ${takenFrom}`);
