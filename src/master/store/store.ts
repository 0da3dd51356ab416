/**
 * The master's data directory, and the only code that writes it (docs/architecture.md, "Seams": "the store is the
 * only code that writes the data partition"). Layout:
 *
 *   <root>/master.lock                              PID of the master using this store
 *   <root>/secret                                   32 random bytes, mode 600, created once
 *   <root>/state/events.jsonl                       NodeEvents, appended and fsynced
 *   <root>/nodes/<52-54-00-ab-cd-ef>/uploads/<id>/  one directory per accepted upload:
 *       raw.tar.gz   the bytes the agent sent, read-only, never rewritten
 *       meta.json    id, MAC, time, sizes, sha256 of raw.tar.gz, the list of its files
 *   <root>/nodes/<52-54-00-ab-cd-ef>/inventory.json  normalized from the latest upload; derived,
 *                                                   rebuilt when missing or of an older schema
 *   <root>/tmp/                                     work in progress; emptied at start-up
 *
 * Directory names use the MAC with hyphens and timestamps without colons because the data
 * partition of a USB stick may be FAT/exFAT, where `:` is not allowed in names.
 *
 * An upload is built completely inside tmp/ (body streamed with a byte limit and checked as it
 * arrives — gzip expansion bounded, every tar entry through lib/archive/tar-entry-check.ts — fsynced, meta.json
 * written and fsynced) and then renamed into nodes/…/uploads/ in one step, and that parent is
 * fsynced. So after a crash an upload directory under nodes/ is always complete, and anything
 * incomplete is under tmp/, which start-up recovery deletes. Nothing is extracted: readers take
 * files out of raw.tar.gz (lib/archive/tar-gz.ts), so the raw upload is the only copy of the evidence.
 *
 * createStore composes one module per concern: the lock (store-lock.ts), fsync helpers
 * (durable.ts), recovery at start (recovery.ts), the master secret (master-secret.ts), upload
 * ingest (upload-ingest.ts), the node's uploads and inventory files (node-files.ts) and the
 * event log (event-log.ts).
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import type { Logger } from "../../lib/log.js";
import type { NodeEvent } from "../../model/node-state.js";
import { EVENTS_FILE, NODES_DIR, STATE_DIR } from "../../model/store-layout.js";
import { createDurable } from "./durable.js";
import { createEventLog } from "./event-log.js";
import { loadOrCreateSecret } from "./master-secret.js";
import { createNodeFiles } from "./node-files.js";
import { recoverStore, type RecoveryReport } from "./recovery.js";
import { lockStore } from "./store-lock.js";
import { ingestUpload, type IngestOptions, type UploadMeta } from "./upload-ingest.js";

export type { RecoveryReport } from "./recovery.js";
export { newUploadId, type IngestOptions, type UploadMeta } from "./upload-ingest.js";

export interface StoreOptions {
  log: Logger;
  now?: () => Date;
  /** Called after each successful fsync with the path synced; lets tests see durability. */
  onSync?: (path: string) => void;
}

export interface Store {
  readonly root: string;
  /** What start-up recovery did. */
  readonly recovery: RecoveryReport;
  /** The master secret, created on first use (and only then) with mode 600. */
  secret(): Promise<Buffer>;
  /**
   * Streams `body` into a new upload for `mac`; resolves only once the upload is complete and
   * durable. Rejects with UPLOAD_REJECTED / PAYLOAD_TOO_LARGE / BAD_REQUEST (client's fault,
   * nothing left behind) or IO.
   */
  ingestUpload(mac: string, body: Readable, options: IngestOptions): Promise<UploadMeta>;
  /** The node's uploads, oldest first. */
  listUploads(mac: string): Promise<UploadMeta[]>;
  /** Directory of a stored upload, or undefined when the MAC or id is malformed or unknown. */
  uploadDir(mac: string, id: string): Promise<string | undefined>;
  /** One file out of a stored upload's tar; undefined when the upload or the file is unknown. */
  readUploadFile(mac: string, id: string, path: string): Promise<Buffer | undefined>;
  /** Every file of a stored upload's tar (for normalization); undefined when unknown. */
  readUploadFiles(mac: string, id: string): Promise<Map<string, Buffer> | undefined>;
  /**
   * Writes the node's normalized inventory (derived from its raw uploads, rebuildable) as
   * nodes/<mac>/inventory.json, atomically.
   */
  writeInventory(mac: string, inventory: unknown): Promise<void>;
  /** The node's inventory.json as text, or undefined when there is none. */
  readInventory(mac: string): Promise<string | undefined>;
  /** MACs that have a node directory (uploads or not), sorted. */
  listNodeMacs(): Promise<string[]>;
  /** Appends one event durably; concurrent calls share one fsync. */
  appendEvent(event: NodeEvent): Promise<void>;
  /** Every event stored so far, in order (to rebuild fleet state at start-up). */
  readEvents(): Promise<NodeEvent[]>;
  close(): Promise<void>;
}

export async function createStore(rootDir: string, options: StoreOptions): Promise<Store> {
  const log = options.log.child({ component: "store" });
  const now = options.now ?? (() => new Date());
  const dirs = {
    tmp: join(rootDir, "tmp"),
    state: join(rootDir, STATE_DIR),
    nodes: join(rootDir, NODES_DIR),
  };
  const eventsPath = join(dirs.state, EVENTS_FILE);
  const durable = createDurable(options.onSync);

  await mkdir(rootDir, { recursive: true });
  const lock = await lockStore(rootDir, log);
  for (const dir of Object.values(dirs)) await durable.ensureDir(dir);
  const recovery = await recoverStore({ tmp: dirs.tmp, events: eventsPath }, durable, log);

  let secretPromise: Promise<Buffer> | undefined;
  const nodeFiles = createNodeFiles(dirs.nodes, durable, log);
  const events = createEventLog(eventsPath, durable, log);

  return {
    root: rootDir,
    recovery,
    secret: () => (secretPromise ??= loadOrCreateSecret({ root: rootDir, tmp: dirs.tmp }, durable, log)),
    ingestUpload: (mac, body, ingest) => ingestUpload({ dirs, durable, log, now }, mac, body, ingest),
    listUploads: nodeFiles.listUploads,
    uploadDir: nodeFiles.uploadDir,
    readUploadFile: nodeFiles.readUploadFile,
    readUploadFiles: nodeFiles.readUploadFiles,
    writeInventory: nodeFiles.writeInventory,
    readInventory: nodeFiles.readInventory,
    listNodeMacs: nodeFiles.listNodeMacs,
    appendEvent: events.append,
    readEvents: events.read,
    async close() {
      await events.close();
      await lock.release();
    },
  };
}
