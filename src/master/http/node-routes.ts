/**
 * /api/v1/nodes…: the agent's hello (with its peer token), and fleet state for the UI and CLI
 * (no tokens or secrets in here: NodeState holds none).
 */
import express from "express";
import { ReconError } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import type { FleetState, NodeEvent } from "../../model/node-state.js";
import { timelineSegments } from "../../model/node-timeline.js";
import type { Store } from "../store/store.js";
import { macParam, requireNodeToken } from "./request-rules.js";

export interface NodeRouteDeps {
  store: Store;
  secret: Uint8Array;
  fleet: () => FleetState;
  emit: (event: NodeEvent) => Promise<void>;
  log: Logger;
  now: () => Date;
}

export function createNodeRouter(deps: NodeRouteDeps): express.Router {
  const router = express.Router();

  router.post("/api/v1/nodes/:mac/hello", async (req, res) => {
    const mac = macParam(req.params.mac);
    requireNodeToken(req, mac, deps.secret, deps.log);
    await deps.emit({ type: "agent-hello", at: deps.now().toISOString(), mac });
    res.status(204).end();
  });

  router.get("/api/v1/nodes", (_req, res) => {
    const nodes = Object.values(deps.fleet().nodes).sort((a, b) => a.mac.localeCompare(b.mac));
    res.json({ nodes });
  });

  router.get("/api/v1/nodes/:mac", async (req, res) => {
    const mac = macParam(req.params.mac);
    const node = deps.fleet().nodes[mac];
    const uploads = await deps.store.listUploads(mac);
    if (node === undefined && uploads.length === 0) throw new ReconError("NOT_FOUND", `no node ${mac} is known`);
    // timeline: this boot's phases in order (model/node-timeline.ts); timeline_segments: the time each took.
    const timeline = node?.timeline ?? [];
    res.json({ mac, node: node ?? null, uploads, timeline, timeline_segments: timelineSegments(timeline) });
  });

  return router;
}
