/**
 * The master's HTTP service as an express 5 app built from its dependencies (docs/architecture.md, "Routers from their dependencies"):
 * iPXE scripts decided by planBoot, the image files peers boot from, the peer workload, the
 * agent's hello and inventory upload, fleet state for the UI and CLI, raw uploads read-only, and
 * Prometheus metrics, one router per route area (below), composed in the order express matches
 * them. It never writes the data directory itself: uploads go through the store,
 * node events through `onEvent`. Binding a port is the caller's job (server.ts).
 */
import express from "express";
import type { BootServer } from "../../boot/plan-boot.js";
import type { Logger } from "../../lib/log.js";
import type { FleetState, NodeEvent } from "../../model/node-state.js";
import type { SiteConfig } from "../../model/site-config.js";
import type { Store } from "../store/store.js";
import { createBootRouter } from "./boot-routes.js";
import { createErrorHandler, refuseUnknownRoute } from "./error-handler.js";
import { createFileRouter } from "./file-routes.js";
import { createImageRouter } from "./image-routes.js";
import { createMetricsRouter } from "./metrics-route.js";
import { createNodeRouter } from "./node-routes.js";
import { RUN_HEADER } from "./readiness.js";
import { refuseTraversal } from "./request-rules.js";
import { createTransferLog, type Transfer } from "./transfers.js";
import { createUploadRouter, DEFAULT_APP_LIMITS, type AppLimits, type UploadCounts } from "./upload-route.js";

export { DEFAULT_APP_LIMITS, type AppLimits } from "./upload-route.js";
export type { Transfer } from "./transfers.js";

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
  /** Peer assist's torrents (<runDir>/torrent), served as /torrent/<label>.torrent; none while it is off. */
  torrentDir?: string | undefined;
  /** The review (UI, read API, event stream, exports: review-routes.ts), mounted before the routes below. */
  review?: express.Router | undefined;
  /** The power API (power-routes.ts), mounted like the review. */
  power?: express.Router | undefined;
  /** Nodes the power service has still to wake (the swarm status a seeding peer asks for). */
  wakePending?: (() => number) | undefined;
  /** nginx serves the static trees and proxies the rest from loopback (X-Real-IP is trusted). */
  behindNginx?: boolean | undefined;
  /** The master secret that signs peer tokens. */
  secret: Uint8Array;
  log: Logger;
  limits?: Partial<AppLimits> | undefined;
  now?: () => Date;
}

/** The express app plus the hook nginx's access log feeds (see nginx.ts). */
export type ReconApp = express.Express & { recordTransfer(transfer: Transfer): void };

export function createApp(deps: AppDeps): ReconApp {
  const { store, log, server, secret } = deps;
  const limits: AppLimits = { ...DEFAULT_APP_LIMITS, ...deps.limits };
  const now = deps.now ?? (() => new Date());
  const fleet = deps.fleet;

  const emit = async (event: NodeEvent): Promise<void> => {
    try {
      await deps.onEvent(event);
    } catch (error) {
      log.error("node event not recorded", { type: event.type, error: (error as Error).message });
    }
  };
  const transfers = createTransferLog({ server, fleet, emit, now });
  const uploads: UploadCounts = { stored: 0, rejected: new Map() };

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
  app.use(createBootRouter({ config: deps.config, server, secret, fleet, transfers, emit, log, now }));
  app.use(
    createImageRouter({
      server,
      httpRoot: deps.httpRoot,
      tftpRoot: deps.tftpRoot,
      postTgzPath: deps.postTgzPath,
      isoDevice: deps.isoDevice,
      torrentDir: deps.torrentDir,
      transfers,
      log,
    }),
  );
  app.use(createUploadRouter({ store, secret, limits, counts: uploads, emit, log, now }));
  app.use(createNodeRouter({ store, secret, fleet, emit, log, now, wakePending: deps.wakePending }));
  app.use(createFileRouter({ store, transfers }));
  app.use(createMetricsRouter({ fleet, uploads, bytesServed: transfers.bytesServed }));
  app.use(refuseUnknownRoute);
  app.use(createErrorHandler(log));

  app.recordTransfer = transfers.record;
  return app;
}
