/**
 * A master store laid out for the review (issue #6): nodes/<mac-dir>/inventory.json per node
 * and state/events.jsonl, as the master leaves them, for tests and benches that start a real
 * master or the review on top of it.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Inventory } from "../../src/inventory/schema.js";
import type { NodeEvent } from "../../src/model/node-state.js";

export const macDirOf = (mac: string) => mac.toLowerCase().replace(/:/g, "-");

export async function writeReviewStore(dataDir: string, nodes: Array<{ mac: string; inventory: Inventory }>, events: NodeEvent[]): Promise<void> {
  await mkdir(join(dataDir, "state"), { recursive: true });
  await writeFile(join(dataDir, "state", "events.jsonl"), events.map((event) => `${JSON.stringify(event)}\n`).join(""));
  for (let i = 0; i < nodes.length; i += 200) {
    await Promise.all(
      nodes.slice(i, i + 200).map(async (node) => {
        const dir = join(dataDir, "nodes", macDirOf(node.mac));
        await mkdir(dir, { recursive: true });
        await writeFile(join(dir, "inventory.json"), `${JSON.stringify(node.inventory, null, 2)}\n`);
      }),
    );
  }
}
