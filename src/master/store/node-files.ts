/**
 * What the store keeps per node under nodes/<52-54-00-ab-cd-ef>/: the stored uploads (read-only:
 * meta.json, files out of raw.tar.gz) and inventory.json, normalized from them (derived,
 * rebuildable, written atomically).
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { readUploadFile, readUploadFiles } from "../../lib/archive/tar-gz.js";
import { writeFileAtomic } from "../../lib/atomic-write.js";
import { ReconError } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import { normalizeMac } from "../../model/net-address.js";
import { INVENTORY_FILE, isUploadId, macDirName, META_FILE, RAW_FILE, UPLOADS_DIR } from "../../model/store-layout.js";
import type { Durable } from "./durable.js";
import type { UploadMeta } from "./upload-ingest.js";

export interface NodeFiles {
  uploadDir: (mac: string, id: string) => Promise<string | undefined>;
  readUploadFile: (mac: string, id: string, path: string) => Promise<Buffer | undefined>;
  readUploadFiles: (mac: string, id: string) => Promise<Map<string, Buffer> | undefined>;
  listUploads: (mac: string) => Promise<UploadMeta[]>;
  writeInventory: (mac: string, inventory: unknown) => Promise<void>;
  readInventory: (mac: string) => Promise<string | undefined>;
  listNodeMacs: () => Promise<string[]>;
}

export function createNodeFiles(nodesDir: string, durable: Durable, log: Logger): NodeFiles {
  async function uploadDir(mac: string, id: string): Promise<string | undefined> {
    const macDir = macDirName(mac);
    if (macDir === undefined || !isUploadId(id)) return undefined;
    const dir = join(nodesDir, macDir, UPLOADS_DIR, id);
    const info = await stat(dir).catch(() => undefined);
    return info?.isDirectory() ? dir : undefined;
  }

  return {
    uploadDir,
    async readUploadFile(mac, id, path) {
      const dir = await uploadDir(mac, id);
      return dir === undefined ? undefined : readUploadFile(join(dir, RAW_FILE), path);
    },
    async readUploadFiles(mac, id) {
      const dir = await uploadDir(mac, id);
      return dir === undefined ? undefined : readUploadFiles(join(dir, RAW_FILE));
    },
    async listUploads(mac) {
      const macDir = macDirName(mac);
      if (macDir === undefined) return [];
      const uploads = join(nodesDir, macDir, UPLOADS_DIR);
      const names = await readdir(uploads).catch(() => [] as string[]);
      const metas: UploadMeta[] = [];
      for (const name of names.filter(isUploadId).sort()) {
        try {
          metas.push(JSON.parse(await readFile(join(uploads, name, META_FILE), "utf8")) as UploadMeta);
        } catch (error) {
          log.warn("upload without readable meta.json", { mac: macDir, id: name, error: (error as Error).message });
        }
      }
      return metas;
    },
    async writeInventory(mac, inventory) {
      const macDir = macDirName(mac);
      if (macDir === undefined) throw new ReconError("BAD_REQUEST", `'${mac.slice(0, 40)}' is not a MAC address`);
      await durable.ensureDir(join(nodesDir, macDir));
      await writeFileAtomic(join(nodesDir, macDir, INVENTORY_FILE), `${JSON.stringify(inventory, null, 2)}\n`);
    },
    async readInventory(mac) {
      const macDir = macDirName(mac);
      if (macDir === undefined) return undefined;
      return readFile(join(nodesDir, macDir, INVENTORY_FILE), "utf8").catch(() => undefined);
    },
    async listNodeMacs() {
      const names = await readdir(nodesDir).catch(() => [] as string[]);
      return names
        .map((name) => normalizeMac(name))
        .filter((mac): mac is string => mac !== undefined)
        .sort();
    },
  };
}
