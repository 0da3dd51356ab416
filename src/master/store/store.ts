/**
 * The master's data directory, and the only code that writes it (ARCHITECTURE: "the store is the
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
 */
import { createHash, randomBytes } from "node:crypto";
import { chmod, link, mkdir, open, readdir, readFile, rename, rm, stat, truncate, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { fsyncDir, writeFileAtomic } from "../../lib/atomic-write.js";
import { isReconError, ReconError } from "../../lib/errors.js";
import { acquireLock } from "../../lib/lock-file.js";
import type { Logger } from "../../lib/log.js";
import { normalizeMac } from "../../model/net-address.js";
import { EVENTS_FILE, INVENTORY_FILE, isUploadId, macDirName, META_FILE, NODES_DIR, RAW_FILE, STATE_DIR, UPLOADS_DIR } from "../../model/store-layout.js";
import type { NodeEvent } from "../../model/node-state.js";
import { DEFAULT_UPLOAD_LIMITS, type UploadLimits } from "../../lib/archive/tar-entry-check.js";
import { createUploadCheck, readUploadFile, readUploadFiles, uploadRejected, type UploadListing } from "../../lib/archive/tar-gz.js";

export interface StoreOptions {
  log: Logger;
  now?: () => Date;
  /** Called after each successful fsync with the path synced; lets tests see durability. */
  onSync?: (path: string) => void;
}

export interface IngestOptions {
  /** Compressed bytes accepted from the client; more is refused with PAYLOAD_TOO_LARGE. */
  maxBodyBytes: number;
  limits?: UploadLimits;
  /** Where the upload came from, recorded in meta.json. */
  remoteAddress?: string | undefined;
}

export interface UploadMeta {
  id: string;
  mac: string;
  receivedAt: string;
  /** Size of raw.tar.gz as received. */
  rawBytes: number;
  rawSha256: string;
  /** Tar entries (files and directories). */
  entries: number;
  /** Sum of the files' sizes inside the tar. */
  contentBytes: number;
  /** The tar's regular files (normalized path, size), in archive order. */
  files: { path: string; size: number }[];
  remoteAddress?: string | undefined;
}

export interface RecoveryReport {
  /** Leftovers of interrupted work removed from tmp/. */
  removedTemp: string[];
  /** Bytes cut from the end of events.jsonl because the last line was incomplete. */
  truncatedEventBytes: number;
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

const RAW = RAW_FILE;
const META = META_FILE;
const INVENTORY = INVENTORY_FILE;

/** `2026-11-21T10:15:00.123Z` → `20261121T101500.123Z-<8 hex>`: sorts by time, FAT-safe. */
export function newUploadId(now: Date): string {
  return `${now.toISOString().replace(/[-:]/g, "")}-${randomBytes(4).toString("hex")}`;
}

const rejected = uploadRejected;

export async function createStore(rootDir: string, options: StoreOptions): Promise<Store> {
  const log = options.log.child({ component: "store" });
  const now = options.now ?? (() => new Date());
  const dirs = {
    tmp: join(rootDir, "tmp"),
    state: join(rootDir, STATE_DIR),
    nodes: join(rootDir, NODES_DIR),
  };
  const eventsPath = join(dirs.state, EVENTS_FILE);

  const synced = (path: string) => options.onSync?.(path);
  const syncDir = async (dir: string) => {
    await fsyncDir(dir);
    synced(dir);
  };
  const syncHandle = async (handle: FileHandle, path: string) => {
    await handle.sync();
    synced(path);
  };

  /** mkdir -p that fsyncs the parent of every directory it creates, so the new names survive. */
  const ensureDir = async (dir: string): Promise<void> => {
    const first = await mkdir(dir, { recursive: true });
    if (first === undefined) return;
    // `first` is the top-most directory created; each new name lives in its parent.
    for (let current = dir; ; current = dirname(current)) {
      await syncDir(dirname(current));
      if (current === first || current === dirname(current)) break;
    }
  };

  await mkdir(rootDir, { recursive: true });
  // One master per store: start-up recovery empties tmp/, which would destroy the uploads a
  // second, running master has in flight. The lock is the kernel's (lib/lock-file.ts): it dies
  // with its holder, so a killed master, a power cut or a reboot never leaves it held.
  const lock = await acquireLock(join(rootDir, "master.lock"), {
    log,
    what: `the store ${rootDir}`,
    timeoutMs: 0,
    hint: "another recon master runs on this data directory right now: stop it first (master.lock names it), or give this one another --data-dir",
  }).catch((error: unknown) => {
    if (isReconError(error) && error.code === "LOCKED") {
      throw new ReconError("LOCKED", `another recon master is using the store ${rootDir}: ${error.message}`, { hint: error.hint, exitCode: 3 });
    }
    throw error;
  });
  for (const dir of Object.values(dirs)) await ensureDir(dir);
  const recovery = await recover();

  async function recover(): Promise<RecoveryReport> {
    // Everything under tmp/ is unfinished by construction: completed uploads were renamed out.
    const removedTemp: string[] = [];
    for (const name of await readdir(dirs.tmp)) {
      await rm(join(dirs.tmp, name), { recursive: true, force: true });
      removedTemp.push(name);
    }
    if (removedTemp.length > 0) {
      await syncDir(dirs.tmp);
      log.warn("removed unfinished work from an earlier run", { count: removedTemp.length });
    }
    // A crash can cut the last append short; appending after a torn line would glue the next
    // event onto it, so cut back to the last complete line.
    let truncatedEventBytes = 0;
    const events = await readFile(eventsPath).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw error;
    });
    if (events !== undefined && events.length > 0 && events[events.length - 1] !== 0x0a) {
      const keep = events.lastIndexOf(0x0a) + 1;
      truncatedEventBytes = events.length - keep;
      await truncate(eventsPath, keep);
      const handle = await open(eventsPath, "r+");
      try {
        await syncHandle(handle, eventsPath);
      } finally {
        await handle.close();
      }
      log.warn("cut an incomplete last line from the event log", { bytes: truncatedEventBytes });
    }
    return { removedTemp, truncatedEventBytes };
  }

  let secretPromise: Promise<Buffer> | undefined;
  async function loadOrCreateSecret(): Promise<Buffer> {
    const path = join(rootDir, "secret");
    const read = async () => {
      const value = await readFile(path);
      if (value.length < 32) {
        throw new ReconError("IO", `the master secret ${path} is shorter than 32 bytes`, {
          hint: "delete it to make a new one (tokens already handed out stop working)",
        });
      }
      return value;
    };
    try {
      return await read();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    // Written and fsynced under tmp/, then linked into place: link() fails if another process
    // won the race, and a crash never leaves a short secret file behind.
    const temp = join(dirs.tmp, `secret-${randomBytes(6).toString("hex")}`);
    const handle = await open(temp, "wx", 0o600);
    try {
      await handle.writeFile(randomBytes(32));
      await syncHandle(handle, temp);
    } finally {
      await handle.close();
    }
    try {
      await link(temp, path);
      await syncDir(rootDir);
      log.info("created the master secret");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    } finally {
      await rm(temp, { force: true });
    }
    return read();
  }

  /**
   * Body → file, at most `maxBytes`, every chunk also fed to the tar check. Does not destroy
   * `body`, so the caller can still answer; settles early when the check refuses the upload.
   */
  function receiveBody(body: Readable, handle: FileHandle, maxBytes: number, limits: UploadLimits) {
    const hash = createHash("sha256");
    const check = createUploadCheck(limits);
    return new Promise<{ bytes: number; sha256: string; listing: UploadListing }>((resolve, reject) => {
      let bytes = 0;
      let settled = false;
      const settle = (error?: unknown, listing?: UploadListing) => {
        if (settled) return;
        settled = true;
        body.off("data", onData).off("end", onEnd).off("error", onError).off("close", onClose);
        if (error !== undefined) {
          body.pause();
          reject(error);
        } else resolve({ bytes, sha256: hash.digest("hex"), listing: listing! });
      };
      const onData = (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > maxBytes) {
          settle(
            new ReconError("PAYLOAD_TOO_LARGE", `the upload is larger than ${maxBytes} bytes`, {
              hint: "an inventory is a few MB at most; check what the agent collected",
            }),
          );
          return;
        }
        hash.update(chunk);
        check.write(chunk);
        if (check.failure !== undefined) {
          settle(check.failure);
          return;
        }
        // One write at a time: pausing until it lands is the backpressure, and 'end' cannot
        // fire while a write is pending because a paused stream does not end.
        body.pause();
        handle.write(chunk).then(() => {
          if (!settled) body.resume();
        }, settle);
      };
      const onEnd = () => check.end().then((listing) => settle(undefined, listing), settle);
      const onError = (error: Error) =>
        settle(new ReconError("BAD_REQUEST", `the upload was cut short: ${error.message}`, { cause: error }));
      const onClose = () => {
        if (!body.readableEnded) settle(new ReconError("BAD_REQUEST", "the upload was cut short (connection closed)"));
      };
      body.on("data", onData).on("end", onEnd).on("error", onError).on("close", onClose);
      body.resume();
    });
  }

  async function ingestUpload(mac: string, body: Readable, ingest: IngestOptions): Promise<UploadMeta> {
    const macDir = macDirName(mac);
    if (macDir === undefined) throw new ReconError("BAD_REQUEST", `'${mac.slice(0, 40)}' is not a MAC address`);
    const limits = ingest.limits ?? DEFAULT_UPLOAD_LIMITS;
    const receivedAt = now();
    const id = newUploadId(receivedAt);
    const work = join(dirs.tmp, `upload-${id}`);
    const raw = join(work, RAW);
    await mkdir(work);
    try {
      // Read-only from creation: raw uploads are immutable evidence, re-normalized later but
      // never rewritten (the open handle may still write).
      const handle = await open(raw, "wx", 0o444);
      let received: { bytes: number; sha256: string; listing: UploadListing };
      try {
        received = await receiveBody(body, handle, ingest.maxBodyBytes, limits);
        await syncHandle(handle, raw);
      } finally {
        await handle.close();
      }
      if (received.bytes === 0) throw rejected("the upload is empty");
      const meta: UploadMeta = {
        id,
        mac: normalizeMac(mac)!,
        receivedAt: receivedAt.toISOString(),
        rawBytes: received.bytes,
        rawSha256: received.sha256,
        entries: received.listing.entries,
        contentBytes: received.listing.totalBytes,
        files: received.listing.files,
        ...(ingest.remoteAddress !== undefined && { remoteAddress: ingest.remoteAddress }),
      };
      const metaHandle = await open(join(work, META), "wx", 0o444);
      try {
        await metaHandle.writeFile(`${JSON.stringify(meta, null, 2)}\n`);
        await syncHandle(metaHandle, join(work, META));
      } finally {
        await metaHandle.close();
      }
      await syncDir(work);
      const uploads = join(dirs.nodes, macDir, UPLOADS_DIR);
      await ensureDir(uploads);
      // rename(2) of a directory onto an existing non-empty one fails (ENOTEMPTY), so even an
      // id collision could not replace a stored upload.
      await rename(work, join(uploads, id));
      // The new name is what must survive; the old name in tmp/ goes in the same journal
      // transaction (rename is atomic), so tmp/ needs no fsync of its own.
      await syncDir(uploads);
      log.info("upload stored", { mac: meta.mac, id, bytes: meta.rawBytes, entries: meta.entries });
      return meta;
    } catch (error) {
      await rm(work, { recursive: true, force: true });
      throw error;
    }
  }

  async function uploadDir(mac: string, id: string): Promise<string | undefined> {
    const macDir = macDirName(mac);
    if (macDir === undefined || !isUploadId(id)) return undefined;
    const dir = join(dirs.nodes, macDir, UPLOADS_DIR, id);
    const info = await stat(dir).catch(() => undefined);
    return info?.isDirectory() ? dir : undefined;
  }

  async function readFileOf(mac: string, id: string, path: string): Promise<Buffer | undefined> {
    const dir = await uploadDir(mac, id);
    return dir === undefined ? undefined : readUploadFile(join(dir, RAW), path);
  }

  async function readFilesOf(mac: string, id: string): Promise<Map<string, Buffer> | undefined> {
    const dir = await uploadDir(mac, id);
    return dir === undefined ? undefined : readUploadFiles(join(dir, RAW));
  }

  async function writeInventory(mac: string, inventory: unknown): Promise<void> {
    const macDir = macDirName(mac);
    if (macDir === undefined) throw new ReconError("BAD_REQUEST", `'${mac.slice(0, 40)}' is not a MAC address`);
    await ensureDir(join(dirs.nodes, macDir));
    await writeFileAtomic(join(dirs.nodes, macDir, INVENTORY), `${JSON.stringify(inventory, null, 2)}\n`);
  }

  async function readInventory(mac: string): Promise<string | undefined> {
    const macDir = macDirName(mac);
    if (macDir === undefined) return undefined;
    return readFile(join(dirs.nodes, macDir, INVENTORY), "utf8").catch(() => undefined);
  }

  async function listNodeMacs(): Promise<string[]> {
    const names = await readdir(dirs.nodes).catch(() => [] as string[]);
    return names
      .map((name) => normalizeMac(name))
      .filter((mac): mac is string => mac !== undefined)
      .sort();
  }

  async function listUploads(mac: string): Promise<UploadMeta[]> {
    const macDir = macDirName(mac);
    if (macDir === undefined) return [];
    const uploads = join(dirs.nodes, macDir, UPLOADS_DIR);
    const names = await readdir(uploads).catch(() => [] as string[]);
    const metas: UploadMeta[] = [];
    for (const name of names.filter(isUploadId).sort()) {
      try {
        metas.push(JSON.parse(await readFile(join(uploads, name, META), "utf8")) as UploadMeta);
      } catch (error) {
        log.warn("upload without readable meta.json", { mac: macDir, id: name, error: (error as Error).message });
      }
    }
    return metas;
  }

  // Group commit: events queued while an fsync runs are written and synced together, so a burst
  // of uploads costs one fsync of the log, not one each.
  let eventsHandle: FileHandle | undefined;
  let queue: Array<{ line: string; resolve: () => void; reject: (error: unknown) => void }> = [];
  let flushing: Promise<void> | undefined;
  async function flushEvents(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        eventsHandle ??= await open(eventsPath, "a", 0o644);
        await eventsHandle.write(batch.map((item) => item.line).join(""));
        await syncHandle(eventsHandle, eventsPath);
        for (const item of batch) item.resolve();
      } catch (error) {
        for (const item of batch) item.reject(error);
      }
    }
    flushing = undefined;
  }
  function appendEvent(event: NodeEvent): Promise<void> {
    return new Promise((resolve, reject) => {
      queue.push({ line: `${JSON.stringify(event)}\n`, resolve, reject });
      flushing ??= flushEvents();
    });
  }

  async function readEvents(): Promise<NodeEvent[]> {
    const text = await readFile(eventsPath, "utf8").catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return "";
      throw error;
    });
    const events: NodeEvent[] = [];
    for (const [index, line] of text.split("\n").entries()) {
      if (line.trim() === "") continue;
      try {
        events.push(JSON.parse(line) as NodeEvent);
      } catch {
        log.warn("skipping an unreadable event line", { line: index + 1 });
      }
    }
    return events;
  }

  return {
    root: rootDir,
    recovery,
    secret: () => (secretPromise ??= loadOrCreateSecret()),
    ingestUpload,
    listUploads,
    uploadDir,
    readUploadFile: readFileOf,
    readUploadFiles: readFilesOf,
    writeInventory,
    readInventory,
    listNodeMacs,
    appendEvent,
    readEvents,
    async close() {
      await flushing;
      await eventsHandle?.close();
      eventsHandle = undefined;
      await lock.release();
    },
  };
}
