/**
 * The master's HTTP service as an express 5 app built from its dependencies (house style 7):
 * iPXE scripts decided by planBoot, the image files peers boot from, the peer workload, the
 * agent's hello and inventory upload, fleet state for the UI and CLI, raw uploads read-only, and
 * Prometheus metrics. It never writes the data directory itself: uploads go through the store,
 * node events through `onEvent`. Binding a port is the caller's job (server.ts).
 */
import { createReadStream } from "node:fs";
import { join } from "node:path";
import express, { type NextFunction, type Request, type Response } from "express";
import { archFromIpxe, masterHost, planBoot, type BootServer } from "../../boot/plan-boot.js";
import { renderChainScript, renderIpxeScript } from "../../boot/render-ipxe.js";
import { ReconError, isReconError, type ErrorCode } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import type { SiteConfig } from "../../model/site-config.js";
import { normalizeMac } from "../../model/net-address.js";
import { WORKLOAD_PATH } from "../../model/peer-contract.js";
import { PHASES, type FleetState, type NodeEvent } from "../../model/node-state.js";
import { type Store } from "../store/store.js";
import { macDirName } from "../../model/store-layout.js";
import { DEFAULT_UPLOAD_LIMITS, type UploadLimits } from "../../lib/archive/tar-entry-check.js";
import { drainBody } from "./drain-body.js";
import { nginxBodyLimit } from "./nginx.js";
import { issueToken, newNonce, tokenFingerprint, verifyToken } from "../../model/peer-token.js";
import { RUN_HEADER } from "./readiness.js";

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

export interface AppDeps {
  /** This run's id, sent on every response as X-Recon-Run: readiness checks the front with it. */
  runId?: string;
  config: SiteConfig;
  store: Store;
  /** The build's `http` target: isos/<label>.iso, install/<label>/{linux,initrd,boot.json}. */
  httpRoot: string;
  /** Served read-only under /tftp/ too, for UEFI HTTP boot that fetches ipxe.efi by URL. */
  tftpRoot?: string | undefined;
  /** The peer workload served as /post.tgz; 404 when absent. */
  postTgzPath?: string | undefined;
  /** What planBoot needs to know about this master. */
  server: BootServer;
  /** Current fleet state (the caller reduces the events it receives through onEvent). */
  fleet: () => FleetState;
  /** Node events seen by HTTP; awaited for uploads, so it may make them durable first. */
  onEvent: (event: NodeEvent) => void | Promise<void>;
  /**
   * On the appliance the ISO peers boot is the master's own boot medium: the first `sizeBytes`
   * of a block device (a stick holds the data partition after it). Served as
   * /isos/<label>.iso with ranges, straight from the device: no copy, no RAM.
   */
  isoDevice?: { path: string; sizeBytes: number } | undefined;
  /** The review (UI, read API, event stream, exports: review-routes.ts), mounted before the routes below. */
  review?: express.Router | undefined;
  /** The power API (power-routes.ts), mounted like the review. */
  power?: express.Router | undefined;
  /** nginx serves the static trees and proxies the rest from loopback (X-Real-IP is trusted). */
  behindNginx?: boolean | undefined;
  /** The master secret that signs peer tokens. */
  secret: Uint8Array;
  log: Logger;
  limits?: Partial<AppLimits> | undefined;
  now?: () => Date;
}

const UPLOAD_TYPES = new Set(["application/gzip", "application/x-gzip", "application/octet-stream"]);
const TREES = ["isos", "install", "tftp", "post", "nodes"] as const;
type Tree = (typeof TREES)[number];

/** Requests arrive on an IPv6 socket as `::ffff:10.20.0.5`; leases and TFTP logs say `10.20.0.5`. */
function socketIp(req: Request): string {
  return (req.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
}

/**
 * The peer's address. Behind recon's own nginx (which connects from loopback) it is nginx's
 * X-Real-IP; the header is believed only from loopback, so a peer cannot claim another's address.
 */
function clientIp(req: Request): string {
  const direct = socketIp(req);
  if (req.app.locals.behindNginx === true && (direct === "127.0.0.1" || direct === "::1")) {
    const real = req.get("x-real-ip");
    if (real !== undefined && /^[0-9a-fA-F.:]{2,45}$/.test(real)) return real.replace(/^::ffff:/, "");
  }
  return direct;
}

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

/** The express app plus the hook nginx's access log feeds (see nginx.ts). */
export type ReconApp = express.Express & { recordTransfer(transfer: Transfer): void };

function macParam(text: string | undefined): string {
  const mac = text === undefined ? undefined : normalizeMac(text);
  if (mac === undefined) {
    throw new ReconError("BAD_REQUEST", `'${(text ?? "").slice(0, 40)}' is not a MAC address`, {
      hint: "write it as 52-54-00-12-34-56 or 52:54:00:12:34:56",
    });
  }
  return mac;
}

/** 400 for any path that could climb out of a served tree, before a route sees it. */
function refuseTraversal(req: Request, _res: Response, next: NextFunction): void {
  const raw = req.originalUrl.split("?")[0] ?? "";
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new ReconError("BAD_REQUEST", "the URL is not valid percent-encoding");
  }
  // Decoded, because `%2e%2e` and `%2f` are how traversal hides from a router that matches
  // raw segments; backslashes and NUL because some file APIs treat them specially.
  if (decoded.split("/").some((part) => part === ".." || part === ".") || /[\\\0]/.test(decoded)) {
    throw new ReconError("BAD_REQUEST", "URL paths may not contain '..' or '.' segments, backslashes or NUL (path traversal)");
  }
  next();
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

function statusCode(code: string, status: number): ErrorCode | "INTERNAL" | "RANGE_NOT_SATISFIABLE" {
  if (code === "RANGE_NOT_SATISFIABLE" || status === 416) return "RANGE_NOT_SATISFIABLE";
  if (status === 404) return "NOT_FOUND";
  if (status === 413) return "PAYLOAD_TOO_LARGE";
  if (status === 415) return "UNSUPPORTED_MEDIA_TYPE";
  if (status >= 400 && status < 500) return "BAD_REQUEST";
  return "INTERNAL";
}

export function createApp(deps: AppDeps): ReconApp {
  const { store, log, server } = deps;
  const limits: AppLimits = { ...DEFAULT_APP_LIMITS, ...deps.limits };
  const now = deps.now ?? (() => new Date());
  const limitUploads = createLimiter(limits.maxConcurrentUploads);
  // Beyond nginx's own body limit, so behind nginx every body it lets through can be drained.
  const refusedBodyDrain = { maxBytes: nginxBodyLimit(limits.maxBodyBytes) + 1024 * 1024, timeoutMs: limits.drainTimeoutMs };
  const counters = {
    uploadsStored: 0,
    uploadsRejected: new Map<string, number>(),
    bytesServed: new Map<Tree, number>(TREES.map((tree) => [tree, 0])),
  };
  // iPXE fetches kernel, initrd and ISO without saying who it is; the script request just
  // before did (its URL holds the MAC), so remember IP → MAC from there, then from DHCP leases.
  const macByIp = new Map<string, string>();
  const macOf = (ip: string) => macByIp.get(ip) ?? deps.fleet().macByIp[ip];

  const emit = async (event: NodeEvent): Promise<void> => {
    try {
      await deps.onEvent(event);
    } catch (error) {
      log.error("node event not recorded", { type: event.type, error: (error as Error).message });
    }
  };

  const app = express() as ReconApp;
  app.locals.behindNginx = deps.behindNginx === true;
  app.disable("x-powered-by");
  app.set("etag", false);
  const runId = deps.runId;
  if (runId !== undefined) {
    app.use((_req, res, next) => {
      res.setHeader(RUN_HEADER, runId);
      next();
    });
  }
  app.use(refuseTraversal);
  if (deps.review !== undefined) app.use(deps.review);
  if (deps.power !== undefined) app.use(deps.power);

  // ---- iPXE ---------------------------------------------------------------------------------
  app.get("/boot.ipxe", (_req, res) => {
    res.type("text/plain").send(renderChainScript({ masterHost: masterHost(server) }));
  });

  app.get("/boot/:mac.ipxe", (req, res) => {
    const mac = macParam(req.params.mac);
    const ip = clientIp(req);
    const query = (name: string) => (typeof req.query[name] === "string" ? (req.query[name] as string) : undefined);
    const token = issueToken(deps.secret, mac, newNonce());
    const plan = planBoot(
      { mac, arch: archFromIpxe(query("platform"), query("buildarch")), userClass: "iPXE", ip },
      deps.config,
      deps.fleet().nodes[mac],
      server,
      token,
    );
    macByIp.set(ip, mac);
    log.info("boot script served", {
      mac,
      ip,
      plan: plan.kind,
      ...(plan.kind === "ignore" ? { reason: plan.reason } : { token: tokenFingerprint(token) }),
    });
    void emit({ type: "script-served", at: now().toISOString(), mac });
    // The script carries a credential: no cache may keep it.
    res.set("Cache-Control", "no-store").type("text/plain").send(renderIpxeScript(plan));
  });

  // ---- static trees ---------------------------------------------------------------------------
  /** Counts bytes sent and turns finished kernel/initrd/ISO transfers into node events. */
  const recordTransfer = (transfer: Transfer): void => {
    if (transfer.status !== 200 && transfer.status !== 206) return;
    if (transfer.method === "HEAD") return;
    const { tree, bytes } = transfer;
    counters.bytesServed.set(tree, (counters.bytesServed.get(tree) ?? 0) + bytes);
    const mac = macOf(transfer.ip);
    if (mac === undefined) return;
    const at = now().toISOString();
    const label = server.imageLabel;
    if (tree === "isos") void emit({ type: "image-bytes", at, mac, bytes });
    else if (tree === "install" && transfer.path === `/${label}/linux` && transfer.complete) void emit({ type: "kernel-sent", at, mac });
    else if (tree === "install" && transfer.path === `/${label}/initrd` && transfer.complete) void emit({ type: "initrd-sent", at, mac });
  };
  const track = (tree: Tree) => (req: Request, res: Response, next: NextFunction) => {
    const startBytes = req.socket.bytesWritten;
    res.on("close", () => {
      // A finished response sent exactly its Content-Length; an aborted one is estimated from
      // the socket (which includes the header bytes, close enough for a progress figure).
      const length = Number(res.getHeader("content-length"));
      const bytes = res.writableFinished && Number.isFinite(length) ? length : Math.max(0, req.socket.bytesWritten - startBytes);
      recordTransfer({ tree, path: req.path, ip: clientIp(req), status: res.statusCode, method: req.method, bytes, complete: res.writableFinished });
    });
    next();
  };
  // send streams from disk (no whole-file buffering) and answers Range requests (206/416).
  // fallthrough: a missing file reaches the JSON 404 below rather than an HTML page.
  const staticOptions = { index: false, redirect: false, dotfiles: "ignore", fallthrough: true, etag: true } as const;
  if (deps.isoDevice) {
    const device = deps.isoDevice;
    app.get(`/isos/${server.imageLabel}.iso`, track("isos"), (req, res) => {
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
  app.use("/isos", track("isos"), express.static(join(deps.httpRoot, "isos"), staticOptions));
  app.use("/install", track("install"), express.static(join(deps.httpRoot, "install"), staticOptions));
  if (deps.tftpRoot !== undefined) app.use("/tftp", track("tftp"), express.static(deps.tftpRoot, staticOptions));

  app.get(WORKLOAD_PATH, track("post"), async (_req, res) => {
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

  // ---- agent API ------------------------------------------------------------------------------
  const requireToken = (req: Request, mac: string): void => {
    const header = req.get("authorization");
    if (header === undefined) {
      throw new ReconError("UNAUTHORIZED", "this request needs the node's token", {
        hint: "send Authorization: Bearer <recon.token from the kernel command line>",
      });
    }
    const match = /^Bearer ([^\s]+)$/.exec(header);
    if (match === null || !verifyToken(deps.secret, mac, match[1]!)) {
      // The fingerprint lets a technician match this to a served script; the token stays secret.
      log.warn("bad token", { mac, ip: clientIp(req), token: match ? tokenFingerprint(match[1]!) : "malformed" });
      throw new ReconError("UNAUTHORIZED", `the token is not valid for ${mac}`, {
        hint: "tokens are per node and per master secret; boot the node from this master again",
      });
    }
  };

  app.post("/api/v1/nodes/:mac/hello", async (req, res) => {
    const mac = macParam(req.params.mac);
    requireToken(req, mac);
    await emit({ type: "agent-hello", at: now().toISOString(), mac });
    res.status(204).end();
  });

  app.post("/api/v1/nodes/:mac/inventory", async (req, res) => {
    try {
      const mac = macParam(req.params.mac);
      requireToken(req, mac);
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
      counters.uploadsStored += 1;
      await emit({ type: "upload-stored", at: now().toISOString(), mac, uploadId: meta.id });
      res
        .status(201)
        .location(`/nodes/${macDirName(mac)}/${meta.id}/raw.tar.gz`)
        .json({ id: meta.id, entries: meta.entries, bytes: meta.rawBytes });
    } catch (error) {
      const code = isReconError(error) ? error.code : "INTERNAL";
      counters.uploadsRejected.set(code, (counters.uploadsRejected.get(code) ?? 0) + 1);
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

  // ---- fleet state (no tokens or secrets in here: NodeState holds none) -----------------------
  app.get("/api/v1/nodes", (_req, res) => {
    const nodes = Object.values(deps.fleet().nodes).sort((a, b) => a.mac.localeCompare(b.mac));
    res.json({ nodes });
  });

  app.get("/api/v1/nodes/:mac", async (req, res) => {
    const mac = macParam(req.params.mac);
    const node = deps.fleet().nodes[mac];
    const uploads = await store.listUploads(mac);
    if (node === undefined && uploads.length === 0) throw new ReconError("NOT_FOUND", `no node ${mac} is known`);
    res.json({ mac, node: node ?? null, uploads });
  });

  // Raw uploads, read-only: the store resolves the directory from a validated MAC and id.
  app.get("/nodes/:mac/:id/*path", track("nodes"), async (req, res) => {
    const params = req.params as { mac: string; id: string; path: string[] };
    const mac = macParam(params.mac);
    const dir = await store.uploadDir(mac, params.id);
    if (dir === undefined) throw new ReconError("NOT_FOUND", `no upload ${params.id.slice(0, 60)} for ${mac}`);
    const path = params.path.join("/");
    // The upload's files are served out of raw.tar.gz (nothing is extracted on the stick).
    if (params.path[0] === "files" && params.path.length > 1) {
      const inner = params.path.slice(1).join("/");
      const content = await store.readUploadFile(mac, params.id, inner);
      if (content === undefined) throw new ReconError("NOT_FOUND", `no file ${inner.slice(0, 120)} in upload ${params.id}`);
      // Hardware strings are untrusted: never let a browser render an upload as HTML.
      res.set({ "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'", "Content-Disposition": "inline" });
      res.type(inner.endsWith(".json") ? "application/json" : "text/plain").send(content);
      return;
    }
    await new Promise<void>((resolve, reject) =>
      res.sendFile(path, { root: dir, dotfiles: "deny", headers: { "X-Content-Type-Options": "nosniff" } }, (error) => {
        if (error === undefined || res.headersSent) resolve();
        else reject(new ReconError("NOT_FOUND", `no file ${path.slice(0, 120)} in upload ${params.id}`, { cause: error }));
      }),
    );
  });

  // ---- metrics --------------------------------------------------------------------------------
  app.get("/metrics", (_req, res) => {
    const byPhase = new Map<string, number>([...PHASES, "error"].map((phase) => [phase, 0]));
    for (const node of Object.values(deps.fleet().nodes)) byPhase.set(node.phase, (byPhase.get(node.phase) ?? 0) + 1);
    const lines = [
      "# HELP recon_nodes Nodes known to the master, by phase.",
      "# TYPE recon_nodes gauge",
      ...[...byPhase].map(([phase, count]) => `recon_nodes{phase="${phase}"} ${count}`),
      "# HELP recon_uploads_total Inventory uploads stored durably.",
      "# TYPE recon_uploads_total counter",
      `recon_uploads_total ${counters.uploadsStored}`,
      "# HELP recon_uploads_rejected_total Inventory uploads refused, by error code.",
      "# TYPE recon_uploads_rejected_total counter",
      ...[...counters.uploadsRejected].map(([code, count]) => `recon_uploads_rejected_total{code="${code}"} ${count}`),
      "# HELP recon_http_bytes_served_total Response body bytes of file downloads, by tree.",
      "# TYPE recon_http_bytes_served_total counter",
      ...[...counters.bytesServed].map(([tree, bytes]) => `recon_http_bytes_served_total{tree="${tree}"} ${bytes}`),
      "",
    ];
    res.type("text/plain; version=0.0.4").send(lines.join("\n"));
  });

  // ---- errors ---------------------------------------------------------------------------------
  app.use((req: Request) => {
    throw new ReconError("NOT_FOUND", `no route for ${req.method} ${req.path.slice(0, 200)}`);
  });

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) {
      // Mid-body failure: the only honest signal left is to cut the connection.
      req.socket.destroy();
      return;
    }
    let status: number;
    let code: string;
    let message: string;
    if (isReconError(error)) {
      status = error.httpStatus ?? 500;
      code = error.code;
      message = error.message;
    } else {
      // express/send/body errors carry a status; anything else is our bug and says nothing more.
      const raw = (error ?? {}) as { status?: unknown; statusCode?: unknown; message?: unknown; code?: unknown };
      const given = Number(raw.status ?? raw.statusCode);
      status = given >= 400 && given < 500 ? given : 500;
      code = statusCode(String(raw.code ?? ""), status);
      message = status < 500 && typeof raw.message === "string" ? raw.message : "internal error";
    }
    if (status >= 500) log.error("request failed", { method: req.method, path: req.path, error: (error as Error)?.message });
    else log.info("request refused", { method: req.method, path: req.path.slice(0, 200), status, code });
    // Body bytes still unread (an upload not drained within its bounds): this connection cannot
    // carry another request.
    if (!req.complete) res.set("Connection", "close");
    res.status(status).json({ error: code, code, message });
  });

  app.recordTransfer = recordTransfer;
  return app;
}
