/**
 * Normalized inventories on the master: after each stored upload (and at start-up for nodes
 * whose inventory.json is missing or of an older schema) the latest raw upload is normalized
 * (src/inventory, pure) and written as nodes/<mac>/inventory.json. Derived data: the upload was
 * acknowledged before this runs, and a failure here only logs; `recon inventory normalize`
 * re-runs the same code on any raw upload.
 */
import type { Logger } from "../lib/log.js";
import { normalizeRaw } from "../inventory/normalize.js";
import { SCHEMA_VERSION } from "../inventory/schema.js";
import type { Store } from "./store/store.js";

export interface InventoryNormalizer {
  /** Queues the node; its latest upload is normalized once the queue reaches it. */
  enqueue(mac: string): void;
  /** Normalizes every node whose inventory.json is missing or of another schema version. */
  rebuildMissing(): Promise<number>;
  /** Resolves when the queue is empty. */
  idle(): Promise<void>;
}

export function needsRebuild(inventoryText: string | undefined): boolean {
  if (inventoryText === undefined) return true;
  try {
    return (JSON.parse(inventoryText) as { schema_version?: unknown }).schema_version !== SCHEMA_VERSION;
  } catch {
    return true;
  }
}

export function createInventoryNormalizer(store: Store, log: Logger, onWritten?: (mac: string) => void): InventoryNormalizer {
  // One at a time: a burst of uploads must not take the CPU from ingest. A MAC already waiting
  // is not queued twice (its latest upload is read when its turn comes).
  const waiting = new Set<string>();
  let chain: Promise<void> = Promise.resolve();

  async function normalizeLatest(mac: string): Promise<boolean> {
    const uploads = await store.listUploads(mac);
    const latest = uploads.at(-1);
    if (latest === undefined) return false;
    const files = await store.readUploadFiles(mac, latest.id);
    if (files === undefined) return false;
    const started = Date.now();
    const inventory = normalizeRaw(files);
    await store.writeInventory(mac, inventory);
    log.info("inventory normalized", { mac, upload: latest.id, errors: inventory.errors.length, ms: Date.now() - started });
    onWritten?.(mac);
    return true;
  }

  const run = (mac: string) =>
    normalizeLatest(mac).catch((error: unknown) => {
      log.error("inventory not normalized", { mac, error: (error as Error).message, hint: "the raw upload is kept; run recon inventory normalize on it" });
      return false;
    });

  return {
    enqueue(mac) {
      if (waiting.has(mac)) return;
      waiting.add(mac);
      chain = chain.then(async () => {
        waiting.delete(mac);
        await run(mac);
      });
    },
    async rebuildMissing() {
      let rebuilt = 0;
      for (const mac of await store.listNodeMacs()) {
        if (!needsRebuild(await store.readInventory(mac))) continue;
        if (await run(mac)) rebuilt += 1;
      }
      if (rebuilt > 0) log.info("inventories rebuilt from raw uploads", { nodes: rebuilt });
      return rebuilt;
    },
    idle: () => chain,
  };
}
