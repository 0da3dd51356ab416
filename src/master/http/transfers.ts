/**
 * Static file transfers (kernel, initrd, ISO, workload, raw uploads), from express or from
 * nginx's access log: bytes served per tree, and the node events a finished transfer means.
 * iPXE fetches kernel, initrd and ISO without saying who it is; the script request just before
 * did (its URL holds the MAC), so the boot route remembers IP → MAC here, then DHCP leases tell.
 */
import type { NextFunction, Request, Response } from "express";
import { servedImages, type BootServer } from "../../boot/plan-boot.js";
import type { FleetState, NodeEvent } from "../../model/node-state.js";
import { clientIp } from "./request-rules.js";

export const TREES = ["isos", "install", "tftp", "post", "nodes"] as const;
export type Tree = (typeof TREES)[number];

/** A static file transfer that finished (or was cut off), from express or from nginx's log. */
export interface Transfer {
  tree: "isos" | "install" | "tftp" | "post" | "nodes";
  /** Path below the tree, starting with "/". */
  path: string;
  ip: string;
  status: number;
  method: string;
  bytes: number;
  complete: boolean;
}

export interface TransferLogDeps {
  server: BootServer;
  fleet: () => FleetState;
  emit: (event: NodeEvent) => Promise<void>;
  now: () => Date;
}

export interface TransferLog {
  /** Counts bytes sent and turns finished kernel/initrd/ISO transfers into node events. */
  record: (transfer: Transfer) => void;
  /** Middleware that records the response's transfer when it closes. */
  track: (tree: Tree) => (req: Request, res: Response, next: NextFunction) => void;
  /** The torrent of image `label` (its ISO `isoBytes` long) was served to `ip`: peer assist. */
  torrentServed: (ip: string, label: string, isoBytes: number) => void;
  /** The boot script for `mac` was served to `ip`. */
  rememberMac: (ip: string, mac: string) => void;
  readonly bytesServed: ReadonlyMap<Tree, number>;
}

export function createTransferLog(deps: TransferLogDeps): TransferLog {
  const { server, emit, now } = deps;
  const servedLabels = new Set(servedImages(server).map((image) => image.label));
  const bytesServed = new Map<Tree, number>(TREES.map((tree) => [tree, 0]));
  const macByIp = new Map<string, string>();
  const macOf = (ip: string) => macByIp.get(ip) ?? deps.fleet().macByIp[ip];

  const record = (transfer: Transfer): void => {
    if (transfer.status !== 200 && transfer.status !== 206) return;
    if (transfer.method === "HEAD") return;
    const { tree, bytes } = transfer;
    bytesServed.set(tree, (bytesServed.get(tree) ?? 0) + bytes);
    const mac = macOf(transfer.ip);
    if (mac === undefined) return;
    const at = now().toISOString();
    // Any image the master serves (several: issue #13); the kernel's path names the one the node booted.
    const file = /^\/([^/]+)\/(linux|initrd)$/.exec(transfer.path);
    const image = file?.[1];
    if (tree === "isos") void emit({ type: "image-bytes", at, mac, bytes });
    else if (tree === "install" && file !== null && transfer.complete && servedLabels.has(image!)) {
      void emit(file[2] === "linux" ? { type: "kernel-sent", at, mac, image } : { type: "initrd-sent", at, mac });
    }
  };
  const track = (tree: Tree) => (req: Request, res: Response, next: NextFunction) => {
    const startBytes = req.socket.bytesWritten;
    res.on("close", () => {
      // A finished response sent exactly its Content-Length; an aborted one is estimated from
      // the socket (which includes the header bytes, close enough for a progress figure).
      const length = Number(res.getHeader("content-length"));
      const bytes = res.writableFinished && Number.isFinite(length) ? length : Math.max(0, req.socket.bytesWritten - startBytes);
      record({ tree, path: req.path, ip: clientIp(req), status: res.statusCode, method: req.method, bytes, complete: res.writableFinished });
    });
    next();
  };
  const torrentServed = (ip: string, label: string, isoBytes: number): void => {
    const mac = macOf(ip);
    if (mac !== undefined) void emit({ type: "torrent-sent", at: now().toISOString(), mac, image: label, isoBytes });
  };
  return { record, track, torrentServed, rememberMac: (ip, mac) => void macByIp.set(ip, mac), bytesServed };
}
