/**
 * The review part of the master's HTTP service (issue #6): the UI at `/`, the read API for
 * the fleet, inventories and classes, the live event stream (SSE), export downloads, and the
 * access rule for all of it (src/review/access.ts). Mounted by createApp before its own routes;
 * paths it does not know fall through.
 */
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import express, { type NextFunction, type Request, type Response } from "express";
import { ReconError } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import { ADMIN_COOKIE, isLocalRequest, presentedToken, tokenMatches, type AccessNeed } from "../../review/access.js";
import type { EventBus } from "../../review/event-bus.js";
import { renderAnsibleExport } from "../../review/exports/export-ansible.js";
import { renderCsvExport } from "../../review/exports/export-csv.js";
import { renderJsonExport } from "../../review/exports/export-json.js";
import { DEFAULT_NETBOX_OPTIONS, renderNetboxExport, slugify, type NetboxOptions } from "../../review/exports/export-netbox.js";
import { summarizeFleetTimeline } from "../../review/fleet-timeline.js";
import type { FleetRow } from "../../review/fleet-view.js";
import { gatherLinkBudget, type LinkBudgetSource } from "../../review/link-budget.js";
import type { ReviewModel } from "../../review/review-model.js";
import { UI_FILES } from "../../review/ui/embedded.js";
import { createAdminGuard, macParam } from "./request-rules.js";

const gzipAsync = promisify(gzip);

/** What the event stream carries: a node's row after a boot event, rows whose inventory changed. */
export type ReviewEvent = { type: "node"; event: string; row: FleetRow } | { type: "inventory"; rows: FleetRow[] };

export interface ReviewRouteDeps {
  model: ReviewModel;
  bus: EventBus<ReviewEvent>;
  adminToken: string;
  log: Logger;
  now?: () => Date;
  /** SSE keep-alive comment interval. */
  heartbeatMs?: number;
  /** What the master knows for the link budget (expected nodes, served ISO, boot interface). */
  linkBudget?: LinkBudgetSource | undefined;
}

/**
 * No inline script or style, nothing from elsewhere: even if a hardware string slipped into the
 * DOM as markup, the browser would not run it.
 */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** A serialized JSON body and, once asked for, its gzip (kept so a cached body is compressed once). */
interface JsonBody {
  body: Buffer;
  gzip?: Buffer;
}

/** JSON, gzipped when large and the client accepts it (the fleet list of 5,000 nodes is megabytes). */
async function sendJson(req: Request, res: Response, value: unknown): Promise<void> {
  const prepared =
    value instanceof Object && "body" in value && Buffer.isBuffer((value as JsonBody).body)
      ? (value as JsonBody)
      : { body: Buffer.from(JSON.stringify(value)) };
  res.set({ "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" }).type("application/json");
  if (prepared.body.length > 8 * 1024 && /\bgzip\b/.test(req.get("accept-encoding") ?? "")) {
    prepared.gzip ??= await gzipAsync(prepared.body, { level: 4 });
    res.set({ "Content-Encoding": "gzip", Vary: "Accept-Encoding" }).send(prepared.gzip);
    return;
  }
  res.send(prepared.body);
}

function netboxOptions(req: Request): NetboxOptions {
  const text = (name: string, fallback: string) => {
    const value = req.query[name];
    if (value === undefined) return fallback;
    if (typeof value !== "string" || value.trim() === "" || value.length > 100)
      throw new ReconError("BAD_REQUEST", `?${name}= must be one non-empty name of at most 100 characters`);
    return value.trim();
  };
  const status = text("status", DEFAULT_NETBOX_OPTIONS.status);
  const statuses = ["offline", "active", "planned", "staged", "failed", "inventory", "decommissioning"];
  if (!statuses.includes(status)) throw new ReconError("BAD_REQUEST", `?status= must be one of ${statuses.join(", ")}`);
  return { site: text("site", DEFAULT_NETBOX_OPTIONS.site), role: text("role", DEFAULT_NETBOX_OPTIONS.role), status: status as NetboxOptions["status"] };
}

export function createReviewRouter(deps: ReviewRouteDeps): express.Router {
  const { model, bus, adminToken, log } = deps;
  const now = deps.now ?? (() => new Date());
  const router = express.Router();

  const authorize = createAdminGuard(adminToken, {
    missing: () => "the review needs the admin token from the network",
    hint: "the master prints the admin token on its console; it is also in <data dir>/admin-token",
  });
  const guard = (need: AccessNeed) => (req: Request, _res: Response, next: NextFunction) => {
    authorize(req, need);
    next();
  };

  // ---- the UI shell: static code, no data (the data routes below are guarded) ---------------
  const sendAsset = (name: string) => (_req: Request, res: Response) => {
    const file = Object.hasOwn(UI_FILES, name) ? UI_FILES[name] : undefined;
    if (file === undefined) throw new ReconError("NOT_FOUND", `no UI file ${name}`);
    res.set({ "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache" });
    res.type(file.type).send(file.body);
  };
  router.get("/", sendAsset("index.html"));
  router.get("/ui/:file", (req, res) => sendAsset(String(req.params.file))(req, res));

  router.get("/api/v1/access", (req, res) => {
    const presented = presentedToken(req);
    res.set("Cache-Control", "no-store").json({
      local: isLocalRequest(req),
      token: presented !== undefined && tokenMatches(presented, adminToken),
    });
  });

  // The browser's only copy of the admin token: the UI exchanges the typed token for this cookie
  // and keeps nothing itself (no Web Storage), so it also carries the event stream and download
  // links (they cannot send headers). HttpOnly: no page script, injected or not, can read it.
  // SameSite=Strict: other sites' pages do not send it. Actions carried by it also need the UI's
  // X-Recon-UI header (request-rules.ts, the admin guard), which no other origin can add.
  router.post("/api/v1/session", guard("act"), (_req, res) => {
    res
      .set("Set-Cookie", `${ADMIN_COOKIE}=${encodeURIComponent(adminToken)}; Path=/; HttpOnly; SameSite=Strict`)
      .status(204)
      .end();
  });
  router.delete("/api/v1/session", (_req, res) => {
    res.set("Set-Cookie", `${ADMIN_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`).status(204).end();
  });

  // ---- read API ----------------------------------------------------------------------------------
  // The fleet list is rebuilt only when boot state or an inventory changed (state is immutable:
  // a new object per event), so repeated loads of a quiet 5,000-node fleet cost a memory copy.
  let fleetCache: { key: ReturnType<ReviewModel["fleetKey"]>; json: JsonBody } | undefined;
  router.get("/api/v1/fleet", guard("read"), async (req, res) => {
    await model.refresh();
    const key = model.fleetKey();
    if (fleetCache === undefined || fleetCache.key.state !== key.state || fleetCache.key.version !== key.version) {
      fleetCache = { key, json: { body: Buffer.from(JSON.stringify(await model.fleet())) } };
    }
    await sendJson(req, res, fleetCache.json);
  });

  // Where the minutes go: per phase, median and longest over the nodes (review/fleet-timeline.ts).
  router.get("/api/v1/fleet/timeline", guard("read"), async (req, res) => {
    await sendJson(req, res, summarizeFleetTimeline(model.fleetKey().state));
  });

  // nodes × image ÷ link speed, per transport, and the peer-sharing ideal (review/link-budget.ts).
  router.get("/api/v1/fleet/link-budget", guard("read"), async (req, res) => {
    await sendJson(req, res, await gatherLinkBudget(deps.linkBudget ?? {}, model.fleetKey().state));
  });

  router.get("/api/v1/classes", guard("read"), async (req, res) => {
    await model.refresh();
    const analysis = model.analysis();
    await sendJson(req, res, { classes: analysis.classes, nodes: analysis.nodes });
  });

  router.get("/api/v1/nodes/:mac/inventory", guard("read"), async (req, res) => {
    const mac = macParam(String(req.params.mac));
    const detail = await model.detail(mac);
    if (detail === undefined) throw new ReconError("NOT_FOUND", `no node ${mac} is known`);
    await sendJson(req, res, detail);
  });

  // Raw uploads (served by createApp) hold every hardware detail: the same rule applies.
  router.get("/nodes/*path", guard("read"), (_req, _res, next) => next());

  router.get("/api/v1/events", guard("read"), (req, res) => {
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    const unsubscribe = bus.subscribe((message) => send(message.type, message));
    if (unsubscribe === undefined) throw new ReconError("IO", "too many open event streams", { httpStatus: 503, hint: "close other review tabs" });
    res.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      Connection: "keep-alive",
      // nginx (when it fronts the master) would otherwise buffer the stream.
      "X-Accel-Buffering": "no",
    });
    res.write("retry: 3000\n\n");
    send("ready", { at: now().toISOString() });
    const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), deps.heartbeatMs ?? 15_000);
    res.on("close", () => {
      clearInterval(heartbeat);
      unsubscribe();
    });
  });

  // ---- exports -----------------------------------------------------------------------------------
  const stamp = () =>
    now()
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d+Z$/, "Z");
  const attachment = (res: Response, name: string, type: string, body: string) => {
    res
      .set({ "Content-Disposition": `attachment; filename="${name}"`, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" })
      .type(type)
      .send(body);
  };

  router.get("/export/netbox/:file", guard("read"), async (req, res) => {
    const files = renderNetboxExport(await model.exportInput(now().toISOString()), netboxOptions(req));
    const name = String(req.params.file);
    const body = files.get(name);
    if (body === undefined) throw new ReconError("NOT_FOUND", `no NetBox file ${name.slice(0, 60)}`, { hint: `files: ${[...files.keys()].join(", ")}` });
    attachment(res, name, name.endsWith(".csv") ? "text/csv; charset=utf-8" : "text/plain; charset=utf-8", body);
  });

  router.get("/export/:format", guard("read"), async (req, res) => {
    const input = await model.exportInput(now().toISOString());
    switch (req.params.format) {
      case "json":
        return attachment(res, `recon-fleet-${stamp()}.json`, "application/json", renderJsonExport(input));
      case "csv":
        return attachment(res, `recon-fleet-${stamp()}.csv`, "text/csv; charset=utf-8", renderCsvExport(input));
      case "ansible":
        return attachment(res, `recon-inventory-${stamp()}.yml`, "application/yaml", renderAnsibleExport(input));
      case "netbox": {
        const options = netboxOptions(req);
        const query = new URLSearchParams({ site: options.site, role: options.role, status: options.status }).toString();
        const files = [...renderNetboxExport(input, options).keys()];
        res
          .set("Cache-Control", "no-store")
          .json({ site: slugify(options.site), files: files.map((name) => ({ name, url: `/export/netbox/${name}?${query}` })) });
        return;
      }
      default:
        throw new ReconError("NOT_FOUND", `no export format '${String(req.params.format).slice(0, 30)}'`, { hint: "formats: json, csv, netbox, ansible" });
    }
  });

  log.debug("review routes ready");
  return router;
}
