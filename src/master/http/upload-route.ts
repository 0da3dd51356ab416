/**
 * POST /api/v1/nodes/<mac>/inventory: the agent's tar.gz, checked (token, type, encoding, size)
 * and handed to the store, which resolves only once it is durable; only then is it acknowledged
 * (201). A refused upload's remaining body is drained, bounded (drain-body.ts), so the 4xx
 * reaches the agent instead of a reset.
 */
import express from "express";
import { join } from "node:path";
import { DEFAULT_UPLOAD_LIMITS, type UploadLimits } from "../../lib/archive/tar-entry-check.js";
import { readUploadEntry } from "../../lib/archive/tar-gz.js";
import { isReconError, ReconError } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import type { NodeEvent } from "../../model/node-state.js";
import { collectionWindow } from "../../inventory/parse/manifest.js";
import { macDirName, RAW_FILE } from "../../model/store-layout.js";
import type { Store } from "../store/store.js";
import { drainBody } from "./drain-body.js";
import { nginxBodyLimit } from "./nginx.js";
import { clientIp, macParam, requireNodeToken } from "./request-rules.js";

export interface AppLimits {
  /** Compressed upload bytes; checked against Content-Length first, then while streaming. */
  maxBodyBytes: number;
  /** Entry checks and expansion bound for an upload (lib/archive/tar-entry-check.ts). */
  upload: UploadLimits;
  /** Uploads ingested at once; more wait their turn (bounds temp space and open files). */
  maxConcurrentUploads: number;
  /** A refused upload's remaining body is read and discarded for at most this long (drain-body.ts). */
  drainTimeoutMs: number;
}

export const DEFAULT_APP_LIMITS: AppLimits = {
  maxBodyBytes: 32 * 1024 * 1024,
  upload: DEFAULT_UPLOAD_LIMITS,
  maxConcurrentUploads: 16,
  drainTimeoutMs: 15_000,
};

const UPLOAD_TYPES = new Set(["application/gzip", "application/x-gzip", "application/octet-stream"]);

/** What the metrics report of uploads. */
export interface UploadCounts {
  stored: number;
  rejected: Map<string, number>;
}

export interface UploadRouteDeps {
  store: Store;
  secret: Uint8Array;
  limits: AppLimits;
  counts: UploadCounts;
  emit: (event: NodeEvent) => Promise<void>;
  log: Logger;
  now: () => Date;
}

/** A tiny counting semaphore: at most `size` tasks run, the rest wait in order. */
function createLimiter(size: number) {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async function run<T>(task: () => Promise<T>): Promise<T> {
    if (running >= size) await new Promise<void>((resolve) => waiting.push(resolve));
    running += 1;
    try {
      return await task();
    } finally {
      running -= 1;
      waiting.shift()?.();
    }
  };
}

/**
 * When the agent's collection ended and how long it ran, from the stored upload's manifest.json
 * (its tar mtime is the end: inventory/parse/manifest.ts collectionWindow), for the timeline's
 * "collected". Best effort: an upload without a readable manifest is still acknowledged.
 */
async function readCollection(
  store: Store,
  mac: string,
  id: string,
  limits: UploadLimits,
  log: Logger,
): Promise<{ collectedAt?: string; collectionSeconds?: number }> {
  try {
    const dir = await store.uploadDir(mac, id);
    const manifest = dir === undefined ? undefined : await readUploadEntry(join(dir, RAW_FILE), "manifest.json", limits);
    if (manifest === undefined) return {};
    const window = collectionWindow(manifest.content.toString("utf8"), manifest.mtime);
    return { ...(window.finishedAt !== null && { collectedAt: window.finishedAt }), ...(window.seconds !== null && { collectionSeconds: window.seconds }) };
  } catch (error) {
    log.info("upload's manifest not read for the timeline", { mac, id, error: (error as Error).message });
    return {};
  }
}

export function createUploadRouter(deps: UploadRouteDeps): express.Router {
  const { store, limits, counts, log } = deps;
  const limitUploads = createLimiter(limits.maxConcurrentUploads);
  // Beyond nginx's own body limit, so behind nginx every body it lets through can be drained.
  const refusedBodyDrain = { maxBytes: nginxBodyLimit(limits.maxBodyBytes) + 1024 * 1024, timeoutMs: limits.drainTimeoutMs };
  const router = express.Router();

  router.post("/api/v1/nodes/:mac/inventory", async (req, res) => {
    try {
      const mac = macParam(req.params.mac);
      requireNodeToken(req, mac, deps.secret, log);
      const type = (req.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
      if (!UPLOAD_TYPES.has(type)) {
        throw new ReconError("UNSUPPORTED_MEDIA_TYPE", `an inventory is a tar.gz, not '${type.slice(0, 60) || "(none)"}'`, {
          hint: "send Content-Type: application/gzip",
        });
      }
      const encoding = (req.get("content-encoding") ?? "identity").toLowerCase();
      if (encoding !== "identity") {
        // The raw upload is stored byte for byte; a transfer encoding on top would not be.
        throw new ReconError("UNSUPPORTED_MEDIA_TYPE", `Content-Encoding '${encoding.slice(0, 40)}' is not accepted`);
      }
      const declared = Number(req.get("content-length"));
      if (Number.isFinite(declared) && declared > limits.maxBodyBytes) {
        throw new ReconError("PAYLOAD_TOO_LARGE", `the upload is larger than ${limits.maxBodyBytes} bytes`);
      }
      const meta = await limitUploads(() =>
        store.ingestUpload(mac, req, { maxBodyBytes: limits.maxBodyBytes, limits: limits.upload, remoteAddress: clientIp(req) }),
      );
      // Acknowledged only now: the store resolved after fsync and rename.
      counts.stored += 1;
      const collection = await readCollection(store, mac, meta.id, limits.upload, log);
      await deps.emit({ type: "upload-stored", at: deps.now().toISOString(), mac, uploadId: meta.id, ...collection });
      res
        .status(201)
        .location(`/nodes/${macDirName(mac)}/${meta.id}/raw.tar.gz`)
        .json({ id: meta.id, entries: meta.entries, bytes: meta.rawBytes });
    } catch (error) {
      const code = isReconError(error) ? error.code : "INTERNAL";
      counts.rejected.set(code, (counts.rejected.get(code) ?? 0) + 1);
      // Refused before the body was all read: read the rest (bounded) so the 4xx is not lost in
      // a reset that nginx would turn into a 502 (drain-body.ts). Nothing of it is stored.
      if (!req.readableEnded) {
        const declared = Number(req.get("content-length"));
        const drain = await drainBody(req, refusedBodyDrain, Number.isFinite(declared) ? declared : undefined);
        if (!drain.drained) log.info("refused upload not drained; closing", { code, reason: drain.reason, bytes: drain.bytes });
      }
      throw error;
    }
  });

  return router;
}
