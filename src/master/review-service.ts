/**
 * Wires the review into a running master: the read model over the store, the event bus behind
 * /api/v1/events, the admin token, and the router createApp mounts. main.ts creates it once
 * and hands it every node event (`publish`).
 */
import { open } from "node:fs/promises";
import type express from "express";
import type { Logger } from "../lib/log.js";
import { createReviewRouter, type ReviewEvent } from "./http/review-routes.js";
import type { FleetState, NodeEvent } from "../model/node-state.js";
import { adminTokenFingerprint, loadOrCreateAdminToken } from "../review/access.js";
import { createEventBus } from "../review/event-bus.js";
import type { LinkBudgetSource } from "../review/link-budget.js";
import { createReviewModel, type ReviewModel } from "../review/review-model.js";

export interface ReviewServiceOptions {
  dataDir: string;
  fleet: () => FleetState;
  log: Logger;
  /**
   * Where to show the admin token: a console device (the appliance: /dev/console), "tty" =
   * stdout only when it is a terminal, or "none". Never the log.
   */
  /** A device path, or "tty" / "none". */
  announce: string;
  /** The review's address, for the console message. */
  url?: string | undefined;
  /** Delays after an upload at which the store is rescanned for its new inventory.json. */
  rescanDelaysMs?: number[];
  /** For GET /api/v1/fleet/link-budget: fleet.expectedNodes, the served ISO, the boot interface. */
  linkBudget?: LinkBudgetSource | undefined;
}

export interface ReviewService {
  router: express.Router;
  model: ReviewModel;
  publish(event: NodeEvent): void;
  /** The master wrote a node's inventory.json: rescan soon and tell the browsers. */
  inventoryWritten(mac: string): void;
  close(): void;
}

async function announceToken(target: string, text: string): Promise<boolean> {
  if (target === "none") return false;
  if (target === "tty") {
    if (!process.stdout.isTTY) return false;
    process.stdout.write(text);
    return true;
  }
  try {
    const handle = await open(target, "w");
    try {
      await handle.write(text);
    } finally {
      await handle.close();
    }
    return true;
  } catch {
    return false;
  }
}

export async function createReviewService(options: ReviewServiceOptions): Promise<ReviewService> {
  const { log } = options;
  const admin = await loadOrCreateAdminToken(options.dataDir);
  const shown = await announceToken(
    options.announce,
    `\n  recon review: ${options.url ?? "http://<this master>/"} — admin token (needed from the network and for power):\n\n      ${admin.token}\n\n`,
  );
  log.info(admin.created ? "admin token created" : "admin token loaded", { path: admin.path, fingerprint: adminTokenFingerprint(admin.token), shown });

  const model = createReviewModel({ dataDir: options.dataDir, fleet: options.fleet });
  // In the background: with thousands of uploads to normalize in memory this takes a while, and
  // the master must not wait for it to serve DHCP and boots. The first fleet request waits.
  void model.rescan().catch((error: unknown) => log.warn("inventory scan failed", { error: (error as Error).message }));
  const bus = createEventBus<ReviewEvent>();
  const router = createReviewRouter({ model, bus, adminToken: admin.token, log, linkBudget: options.linkBudget });
  const timers = new Map<number, NodeJS.Timeout>();
  const delays = options.rescanDelaysMs ?? [500, 2000, 5000, 15000];

  // At most one pending rescan per delay: a burst of 5,000 uploads costs a few scans, not 20,000.
  const rescanSoon = (slots: number[] = delays) => {
    for (const delay of slots) {
      if (timers.has(delay)) continue;
      const timer = setTimeout(() => {
        timers.delete(delay);
        model
          .rescan()
          .then((changed) => {
            if (changed.length > 0 && bus.size > 0) bus.publish({ type: "inventory", rows: changed.map((mac) => model.row(mac)) });
          })
          .catch((error: unknown) => log.warn("inventory rescan failed", { error: (error as Error).message }));
      }, delay);
      timer.unref();
      timers.set(delay, timer);
    }
  };

  return {
    router,
    model,
    publish(event) {
      if (event.type === "upload-stored") rescanSoon();
      if (bus.size === 0) return;
      const mac = event.type === "tftp-sent" ? options.fleet().macByIp[event.ip] : event.mac.toLowerCase();
      if (mac !== undefined) bus.publish({ type: "node", event: event.type, row: model.row(mac) });
    },
    inventoryWritten() {
      // Coalesced: a burst of normalizations ends in one scan per 100 ms slot.
      rescanSoon([100]);
    },
    close() {
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
    },
  };
}
