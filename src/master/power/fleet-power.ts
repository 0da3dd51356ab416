/**
 * Wires power control into a running master (called from main.ts): the real ipmitool client,
 * the power service over the site config's BMCs, and the API router. main.ts feeds it every
 * node event (`observe`), starts `wake` once DHCP serves, and `stop`s it on the way out.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type express from "express";
import type { Request } from "express";
import { createIpmiClient } from "../../ipmi/ipmitool.js";
import type { Logger } from "../../lib/log.js";
import type { CommandRunner } from "../../lib/run.js";
import { planBoot, type BootServer } from "../../boot/plan-boot.js";
import type { SiteConfig } from "../../model/site-config.js";
import { createAdminGuard } from "../http/request-rules.js";
import { createPowerRouter, type PowerAccess } from "../http/power-routes.js";
import type { FleetState, NodeEvent, NodeState } from "../../model/node-state.js";
import { INVENTORY_FILE, macDirName, NODES_DIR } from "../../model/store-layout.js";
import { fleetBmcs } from "./bmcs.js";
import { createPowerService, type PowerService } from "./power-service.js";

export interface FleetPowerOptions {
  config: SiteConfig;
  runner: CommandRunner;
  log: Logger;
  emit: (event: NodeEvent) => void | Promise<void>;
  /** The admin token (review/access.ts): actions always need it, reads need it from the network. */
  adminToken: string;
  /** Nodes whose inventory is stored are not woken again (unless `reinventory` is set for them). */
  fleet: () => FleetState;
  /** What the boot decision serves (main.ts): the wake asks it, as the iPXE route does. */
  server: BootServer;
  /** The store: nodes/<mac>/inventory.json tells which BMC a node found in-band. */
  dataDir?: string | undefined;
}

/** `bmc.address` of a node's normalized inventory; null when it names none, undefined when there is no inventory yet. */
async function inventoryBmcAddress(dataDir: string, mac: string): Promise<string | null | undefined> {
  const dir = macDirName(mac);
  if (dir === undefined) return null;
  const text = await readFile(join(dataDir, NODES_DIR, dir, INVENTORY_FILE), "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  const address = (JSON.parse(text) as { bmc?: { address?: unknown } }).bmc?.address;
  return typeof address === "string" && address !== "" ? address : null;
}

/** The one admin guard (http/request-rules.ts) as the power router's check. */
export function adminAuthorizer(adminToken: string): (req: Request, need: PowerAccess) => void {
  return createAdminGuard(adminToken, {
    missing: (need) => `this ${need === "act" ? "power action" : "request"} needs the admin token`,
    hint: "send Authorization: Bearer <the admin token shown on the master's console>",
    cookieActionsNeedUiHeader: true,
  });
}

/**
 * Why the wake step leaves a node off, or undefined to wake it: the `wake` of the node's boot
 * plan (planBoot, over the same layered settings and its record), so a node that would be booted
 * again (reinventory from any layer) is woken, and one it would ignore is not. Its firmware has
 * not asked yet, so its arch is unknown.
 */
export function reasonNotToWake(config: SiteConfig, server: BootServer, mac: string, node: NodeState | undefined): string | undefined {
  const { wake } = planBoot({ mac, arch: "unknown", ip: node?.ip, hostname: node?.hostname }, config, node, server);
  return wake.wake ? undefined : wake.reason;
}

export interface FleetPower {
  service: PowerService;
  router: express.Router;
  observe(event: NodeEvent): void;
  /** Wake the fleet in the background if the site config asks for it (`power.wake`). */
  wake(signal: AbortSignal): void;
  stop(): Promise<void>;
}

export function createFleetPower(options: FleetPowerOptions): FleetPower {
  const { config, log } = options;
  const service = createPowerService({
    bmcs: fleetBmcs(config),
    ipmi: createIpmiClient({ runner: options.runner }),
    log,
    emit: options.emit,
    confirmOffAfterMs: config.power.confirmOffAfterS * 1000,
    bootdevPxe: config.power.bootdevPxe,
    wakeBatch: config.power.wakeBatch,
    wakePauseMs: config.power.wakePauseS * 1000,
    ...(options.dataDir !== undefined && { inventoryBmcAddress: (mac: string) => inventoryBmcAddress(options.dataDir!, mac) }),
    skipWake: (bmc) => (bmc.mac === undefined ? undefined : reasonNotToWake(config, options.server, bmc.mac, options.fleet().nodes[bmc.mac])),
  });
  let waking: Promise<void> = Promise.resolve();
  return {
    service,
    router: createPowerRouter({ power: service, authorize: adminAuthorizer(options.adminToken) }),
    observe: (event) => service.observe(event),
    wake(signal) {
      if (!config.power.wake || service.bmcs.length === 0) return;
      waking = service.wakeFleet(signal).catch((error: unknown) => log.error("waking the fleet failed", { error: (error as Error).message }));
    },
    async stop() {
      await service.stop();
      await waking;
    },
  };
}
