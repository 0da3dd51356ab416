/**
 * /api/v1/nodes…: the agent's hello (with its peer token), and fleet state for the UI and CLI
 * (no tokens or secrets in here: NodeState holds none).
 */
import express from "express";
import { ReconError } from "../../lib/errors.js";
import { ROOT_TRANSPORTS, type RootTransport } from "../../model/root-transport.js";
import { IMAGE_LABEL } from "../../model/site-config.js";
import type { Logger } from "../../lib/log.js";
import { imageDelivery, swarmStatus, type FleetState, type NodeEvent } from "../../model/node-state.js";
import { timelineSegments } from "../../model/node-timeline.js";
import type { Store } from "../store/store.js";
import { clientIp, macParam, requireNodeToken } from "./request-rules.js";

export interface NodeRouteDeps {
  store: Store;
  secret: Uint8Array;
  fleet: () => FleetState;
  emit: (event: NodeEvent) => Promise<void>;
  log: Logger;
  now: () => Date;
  /** Nodes the power service has still to wake (paced wake); absent: none. */
  wakePending?: (() => number) | undefined;
}

export function createNodeRouter(deps: NodeRouteDeps): express.Router {
  const router = express.Router();

  router.post("/api/v1/nodes/:mac/hello", async (req, res) => {
    const mac = macParam(req.params.mac);
    requireNodeToken(req, mac, deps.secret, deps.log);
    await deps.emit({ type: "agent-hello", at: deps.now().toISOString(), mac });
    res.status(204).end();
  });

  // A peer whose root did not arrive says so from its initrd (the dracut module recon-root, overlay/usr/lib/dracut):
  // the node turns to `error` with the transport and what dracut was waiting for, and the master logs it.
  router.post("/api/v1/nodes/:mac/boot-failure", express.json({ limit: "2kb" }), async (req, res) => {
    const mac = macParam(req.params.mac);
    requireNodeToken(req, mac, deps.secret, deps.log);
    const report = parseBootFailure(req.body);
    deps.log.error("peer boot failed", { mac, ip: clientIp(req), stage: report.stage, root: report.root, detail: report.detail });
    await deps.emit({
      type: "error",
      at: deps.now().toISOString(),
      mac,
      code: "ROOT_TRANSPORT_FAILED",
      message: `its root file system did not arrive over ${report.root} (${report.stage}): ${report.detail}`,
    });
    res.status(204).end();
  });

  // A seeding peer asks whether the swarm still needs it (src/agent/seed.ts): open like the boot state, no secrets.
  router.get("/api/v1/swarm/:label", (req, res) => {
    const label = String(req.params.label);
    if (!IMAGE_LABEL.test(label)) {
      throw new ReconError("BAD_REQUEST", `'${label.slice(0, 40)}' is not an image label`, {
        hint: "an image label is the recipe name: lower-case letters, digits, dots and dashes",
      });
    }
    res.json(swarmStatus(deps.fleet(), label, deps.now(), deps.wakePending?.() ?? 0));
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
    // image_delivery: how this boot's image came, and how much of it from peers (peer assist).
    const delivery = node === undefined ? null : imageDelivery(node);
    res.json({
      mac,
      node: node ?? null,
      uploads,
      timeline,
      timeline_segments: timelineSegments(timeline),
      image_delivery:
        delivery === null
          ? null
          : { via: delivery.via, from_master_bytes: delivery.fromMasterBytes, from_peers_bytes: delivery.fromPeersBytes, iso_bytes: delivery.isoBytes },
    });
  });

  return router;
}

export interface BootFailureReport {
  stage: string;
  root: RootTransport | "unknown";
  detail: string;
}

/** The initrd's report, checked: a known stage and transport, a detail of printable text (at most 400 characters). */
export function parseBootFailure(body: unknown): BootFailureReport {
  const fields = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const stage = fields.stage;
  const root = fields.root;
  const detail = fields.detail;
  if (stage !== "initrd") {
    throw new ReconError("BAD_REQUEST", `boot-failure report: stage ${JSON.stringify(stage)} is not one recon knows`, { hint: 'send {"stage":"initrd",…}' });
  }
  if (root !== "unknown" && !(ROOT_TRANSPORTS as readonly unknown[]).includes(root)) {
    throw new ReconError("BAD_REQUEST", `boot-failure report: root ${JSON.stringify(root)} is not a root transport`, {
      hint: `send one of ${ROOT_TRANSPORTS.join(", ")} or unknown`,
    });
  }
  if (typeof detail !== "string" || detail.length > 400) {
    throw new ReconError("BAD_REQUEST", "boot-failure report: detail must be text of at most 400 characters", { hint: "shorten the detail" });
  }
  return { stage, root: root as BootFailureReport["root"], detail: detail.replace(/[\u0000-\u001f\u007f]/g, " ").trim() };
}
