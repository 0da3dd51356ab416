/**
 * An upload's durable write, the store's acknowledgement: built completely inside tmp/ (body
 * streamed with a byte limit and checked as it arrives — gzip expansion bounded, every tar entry
 * through lib/archive/tar-entry-check.ts — fsynced, meta.json written and fsynced), then renamed
 * into nodes/…/uploads/ in one step and that parent fsynced. Only then does ingestUpload resolve.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, rename, rm, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { DEFAULT_UPLOAD_LIMITS, type UploadLimits } from "../../lib/archive/tar-entry-check.js";
import { createUploadCheck, uploadRejected, type UploadListing } from "../../lib/archive/tar-gz.js";
import { ReconError } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import { normalizeMac } from "../../model/net-address.js";
import { macDirName, META_FILE, RAW_FILE, UPLOADS_DIR } from "../../model/store-layout.js";
import type { Durable } from "./durable.js";

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

/** `2026-11-21T10:15:00.123Z` → `20261121T101500.123Z-<8 hex>`: sorts by time, FAT-safe. */
export function newUploadId(now: Date): string {
  return `${now.toISOString().replace(/[-:]/g, "")}-${randomBytes(4).toString("hex")}`;
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
        reject(error instanceof Error ? error : new Error(String(error)));
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
      handle.write(chunk).then(
        () => {
          if (!settled) body.resume();
        },
        (error: unknown) => settle(error),
      );
    };
    const onEnd = () => {
      check.end().then(
        (listing) => settle(undefined, listing),
        (error: unknown) => settle(error),
      );
    };
    const onError = (error: Error) => settle(new ReconError("BAD_REQUEST", `the upload was cut short: ${error.message}`, { cause: error }));
    const onClose = () => {
      if (!body.readableEnded) settle(new ReconError("BAD_REQUEST", "the upload was cut short (connection closed)"));
    };
    body.on("data", onData).on("end", onEnd).on("error", onError).on("close", onClose);
    body.resume();
  });
}

export interface IngestDeps {
  dirs: { tmp: string; nodes: string };
  durable: Durable;
  log: Logger;
  now: () => Date;
}

export async function ingestUpload(deps: IngestDeps, mac: string, body: Readable, ingest: IngestOptions): Promise<UploadMeta> {
  const { dirs, durable, log } = deps;
  const macDir = macDirName(mac);
  if (macDir === undefined) throw new ReconError("BAD_REQUEST", `'${mac.slice(0, 40)}' is not a MAC address`);
  const limits = ingest.limits ?? DEFAULT_UPLOAD_LIMITS;
  const receivedAt = deps.now();
  const id = newUploadId(receivedAt);
  const work = join(dirs.tmp, `upload-${id}`);
  const raw = join(work, RAW_FILE);
  await mkdir(work);
  try {
    // Read-only from creation: raw uploads are immutable evidence, re-normalized later but
    // never rewritten (the open handle may still write).
    const handle = await open(raw, "wx", 0o444);
    let received: { bytes: number; sha256: string; listing: UploadListing };
    try {
      received = await receiveBody(body, handle, ingest.maxBodyBytes, limits);
      await durable.syncHandle(handle, raw);
    } finally {
      await handle.close();
    }
    if (received.bytes === 0) throw uploadRejected("the upload is empty");
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
    const metaHandle = await open(join(work, META_FILE), "wx", 0o444);
    try {
      await metaHandle.writeFile(`${JSON.stringify(meta, null, 2)}\n`);
      await durable.syncHandle(metaHandle, join(work, META_FILE));
    } finally {
      await metaHandle.close();
    }
    await durable.syncDir(work);
    const uploads = join(dirs.nodes, macDir, UPLOADS_DIR);
    await durable.ensureDir(uploads);
    // rename(2) of a directory onto an existing non-empty one fails (ENOTEMPTY), so even an
    // id collision could not replace a stored upload.
    await rename(work, join(uploads, id));
    // The new name is what must survive; the old name in tmp/ goes in the same journal
    // transaction (rename is atomic), so tmp/ needs no fsync of its own.
    await durable.syncDir(uploads);
    log.info("upload stored", { mac: meta.mac, id, bytes: meta.rawBytes, entries: meta.entries });
    return meta;
  } catch (error) {
    await rm(work, { recursive: true, force: true });
    throw error;
  }
}
