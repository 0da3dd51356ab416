/**
 * Read-only access to the master's data directory for review: normalized inventories
 * (<store>/nodes/<mac-dir>/inventory.json, else the latest raw upload normalized in memory), stored events (state/events.jsonl) and upload
 * metadata (nodes/<mac-dir>/uploads/<id>/meta.json). It never writes, never recovers and never
 * deletes, so `recon nodes` can read the store of a master that is running (the store module's
 * start-up recovery empties tmp/ and would break that master's uploads in flight).
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { normalizeRaw } from "../inventory/normalize.js";
import { readRawUpload } from "../inventory/read-upload.js";
import { inventorySchema, type Inventory } from "../inventory/schema.js";
import type { NodeEvent } from "../model/node-state.js";
import { EVENTS_FILE, INVENTORY_FILE, isUploadId, META_FILE, NODES_DIR, RAW_FILE, STATE_DIR, UPLOADS_DIR } from "../model/store-layout.js";

const MAC_DIR = /^[0-9a-f]{2}(-[0-9a-f]{2}){5}$/;

export const macFromDir = (dir: string) => dir.replace(/-/g, ":");
export const dirFromMac = (mac: string) => mac.toLowerCase().replace(/:/g, "-");

export interface InventoryProblem {
  mac: string;
  path: string;
  message: string;
}

export interface UploadSummary {
  id: string;
  receivedAt: string | null;
  rawBytes: number | null;
  files: { path: string; size: number }[];
}

/**
 * Inventories with a cache keyed by each file's mtime and size: a rescan stats every
 * inventory.json and parses only the changed ones. `version` grows whenever the set changes.
 */
export interface InventoryCache {
  /** Re-reads what changed; resolves to the MACs whose inventory appeared, changed or vanished. */
  refresh(): Promise<string[]>;
  /** Like refresh, but at most once per `minIntervalMs` (concurrent callers share one scan). */
  refreshIfStale(minIntervalMs: number): Promise<void>;
  readonly inventories: ReadonlyMap<string, Inventory>;
  readonly problems: ReadonlyMap<string, InventoryProblem>;
  readonly version: number;
}

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

export function createInventoryCache(dataDir: string): InventoryCache {
  const nodesDir = join(dataDir, NODES_DIR);
  const inventories = new Map<string, Inventory>();
  const problems = new Map<string, InventoryProblem>();
  const seen = new Map<string, string>();
  let version = 0;
  let lastScan = 0;
  let running: Promise<string[]> | undefined;

  const scan = async (): Promise<string[]> => {
    const changed: string[] = [];
    const dirs = (await listDir(nodesDir)).filter((name) => MAC_DIR.test(name));
    const present = new Set<string>();
    // Bounded parallelism: thousands of nodes, one stat each.
    for (let i = 0; i < dirs.length; i += 64) {
      await Promise.all(
        dirs.slice(i, i + 64).map(async (dir) => {
          const mac = macFromDir(dir);
          let path = join(nodesDir, dir, INVENTORY_FILE);
          let stamp: string;
          let load: () => Promise<unknown>;
          try {
            const info = await stat(path);
            stamp = `${info.mtimeMs}:${info.size}`;
            load = async () => JSON.parse(await readFile(path, "utf8")) as unknown;
          } catch {
            // No normalized inventory written (yet): normalize the latest raw upload in memory,
            // the same pure normalizeRaw the master uses, so review never waits on that step.
            const latest = (await listDir(join(nodesDir, dir, UPLOADS_DIR)))
              .filter((id) => isUploadId(id))
              .sort()
              .at(-1);
            if (latest === undefined) return;
            path = join(nodesDir, dir, UPLOADS_DIR, latest, RAW_FILE);
            stamp = `upload:${latest}`;
            load = async () => normalizeRaw(await readRawUpload(path));
          }
          present.add(mac);
          if (seen.get(mac) === stamp) return;
          seen.set(mac, stamp);
          changed.push(mac);
          try {
            const parsed = inventorySchema.safeParse(await load());
            if (parsed.success) {
              inventories.set(mac, parsed.data);
              problems.delete(mac);
            } else {
              inventories.delete(mac);
              problems.set(mac, {
                mac,
                path,
                message: parsed.error.issues
                  .slice(0, 3)
                  .map((i) => `${i.path.join(".")}: ${i.message}`)
                  .join("; "),
              });
            }
          } catch (error) {
            inventories.delete(mac);
            problems.set(mac, { mac, path, message: (error as Error).message });
          }
        }),
      );
    }
    for (const mac of [...seen.keys()]) {
      if (present.has(mac)) continue;
      seen.delete(mac);
      inventories.delete(mac);
      problems.delete(mac);
      changed.push(mac);
    }
    if (changed.length > 0) version += 1;
    lastScan = Date.now();
    return changed.sort();
  };

  const refresh = () => {
    running ??= scan().finally(() => {
      running = undefined;
    });
    return running;
  };

  return {
    refresh,
    async refreshIfStale(minIntervalMs) {
      if (running !== undefined || Date.now() - lastScan >= minIntervalMs) await refresh();
    },
    inventories,
    problems,
    get version() {
      return version;
    },
  };
}

/** Events as stored; a torn last line (a crash mid-append) is skipped, as the store's recovery would cut it. */
export async function readStoredEvents(dataDir: string): Promise<NodeEvent[]> {
  let text: string;
  try {
    text = await readFile(join(dataDir, STATE_DIR, EVENTS_FILE), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const events: NodeEvent[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      events.push(JSON.parse(line) as NodeEvent);
    } catch {
      // the incomplete tail of an interrupted append
    }
  }
  return events;
}

/** The node's uploads, oldest first (upload ids sort by time). */
export async function readUploads(dataDir: string, mac: string): Promise<UploadSummary[]> {
  const dir = join(dataDir, NODES_DIR, dirFromMac(mac), UPLOADS_DIR);
  const ids = (await listDir(dir)).filter((id) => isUploadId(id)).sort();
  const uploads: UploadSummary[] = [];
  for (const id of ids) {
    try {
      const meta = JSON.parse(await readFile(join(dir, id, META_FILE), "utf8")) as {
        receivedAt?: string;
        rawBytes?: number;
        files?: { path: string; size: number }[];
      };
      uploads.push({ id, receivedAt: meta.receivedAt ?? null, rawBytes: meta.rawBytes ?? null, files: Array.isArray(meta.files) ? meta.files : [] });
    } catch {
      uploads.push({ id, receivedAt: null, rawBytes: null, files: [] });
    }
  }
  return uploads;
}
