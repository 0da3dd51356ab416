/**
 * The files peers boot from: /isos (the build's ISOs, or on the appliance the master's own boot
 * medium, served straight from the device), /install (kernel, initrd, boot.json), /tftp for
 * UEFI HTTP boot, and the peer workload at WORKLOAD_PATH. Every transfer is tracked (transfers.ts).
 */
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import express from "express";
import type { BootServer } from "../../boot/plan-boot.js";
import { ReconError } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import { WORKLOAD_PATH } from "../../model/peer-contract.js";
import { torrentLength } from "../torrent/mktorrent.js";
import { clientIp } from "./request-rules.js";
import type { TransferLog } from "./transfers.js";

export interface ImageRouteDeps {
  server: BootServer;
  /** The build's `http` target: isos/<label>.iso, install/<label>/{linux,initrd,boot.json}. */
  httpRoot: string;
  tftpRoot?: string | undefined;
  postTgzPath?: string | undefined;
  isoDevice?: { path: string; sizeBytes: number } | undefined;
  /** Peer assist's torrents: only <label>.torrent files of this directory are served, as /torrent/<label>.torrent. */
  torrentDir?: string | undefined;
  transfers: Pick<TransferLog, "track"> & Partial<Pick<TransferLog, "torrentServed">>;
  log: Logger;
}

export function createImageRouter(deps: ImageRouteDeps): express.Router {
  const { server, log } = deps;
  const { track } = deps.transfers;
  const router = express.Router();
  // send streams from disk (no whole-file buffering) and answers Range requests (206/416).
  // fallthrough: a missing file reaches the JSON 404 rather than an HTML page.
  const staticOptions = { index: false, redirect: false, dotfiles: "ignore", fallthrough: true, etag: true } as const;
  if (deps.isoDevice) {
    const device = deps.isoDevice;
    router.get(`/isos/${server.imageLabel}.iso`, track("isos"), (req, res) => {
      const size = device.sizeBytes;
      res.setHeader("Accept-Ranges", "bytes");
      res.setHeader("Content-Type", "application/octet-stream");
      const ranges = req.headers.range ? req.range(size) : undefined;
      if (ranges === -1) {
        res.status(416).setHeader("Content-Range", `bytes */${size}`).end();
        return;
      }
      // One range is what dracut's curl and iPXE ask for; several (or a malformed header) get
      // the whole image, which RFC 9110 allows.
      const range = Array.isArray(ranges) && ranges.length === 1 ? ranges[0]! : undefined;
      const start = range?.start ?? 0;
      const end = range?.end ?? size - 1;
      if (range) res.status(206).setHeader("Content-Range", `bytes ${start}-${end}/${size}`);
      res.setHeader("Content-Length", String(end - start + 1));
      if (req.method === "HEAD") {
        res.end();
        return;
      }
      const stream = createReadStream(device.path, { start, end });
      stream.on("error", (error) => {
        log.error("reading the boot medium failed", { device: device.path, error: error.message });
        res.destroy(error);
      });
      stream.pipe(res);
    });
  }
  router.use("/isos", track("isos"), express.static(join(deps.httpRoot, "isos"), staticOptions));
  router.use("/install", track("install"), express.static(join(deps.httpRoot, "install"), staticOptions));
  if (deps.torrentDir !== undefined) {
    const torrentDir = deps.torrentDir;
    // Never the tracker's chroot beside them: a name with a dot-free label and .torrent, nothing else.
    router.get(/^\/torrent\/([A-Za-z0-9][A-Za-z0-9_-]*)\.torrent$/, async (req, res) => {
      const label = (req.params as Record<string, string>)[0]!;
      const name = `${label}.torrent`;
      const torrent = await readFile(join(torrentDir, name)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "ENOENT") throw error;
        throw new ReconError("NOT_FOUND", `no torrent ${name} on this master`, {
          hint: "torrents exist only for images whose ISO is a file (docs/peer-assist.md)",
        });
      });
      res.type("application/x-bittorrent").send(torrent);
      // The node fetches its image by BitTorrent from now on: recorded on the node (what it got from peers).
      if (req.method !== "GET") return;
      try {
        deps.transfers.torrentServed?.(clientIp(req), label, torrentLength(torrent));
      } catch (error) {
        log.warn("served torrent has no length: the node's share from peers stays unknown", { torrent: name, error: (error as Error).message });
      }
    });
  }
  if (deps.tftpRoot !== undefined) router.use("/tftp", track("tftp"), express.static(deps.tftpRoot, staticOptions));

  router.get(WORKLOAD_PATH, track("post"), async (_req, res) => {
    if (deps.postTgzPath === undefined) {
      throw new ReconError("NOT_FOUND", "no peer workload is configured on this master", {
        hint: "peers only collect inventory; put a post.tgz in place to run a workload",
      });
    }
    await new Promise<void>((resolve, reject) =>
      res.sendFile(deps.postTgzPath!, { dotfiles: "allow" }, (error) => {
        if (error === undefined || res.headersSent) resolve();
        else if ((error as NodeJS.ErrnoException).code === "ENOENT") {
          reject(new ReconError("NOT_FOUND", "the configured peer workload file does not exist"));
        } else reject(error);
      }),
    );
  });

  return router;
}
