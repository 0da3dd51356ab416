/**
 * Wires power control into a running master (called from main.ts): the real ipmitool client,
 * the power service over the site config's BMCs, and the API router. main.ts feeds it every
 * node event (`observe`), starts `wake` once DHCP serves, and `stop`s it on the way out.
 */
import type express from "express";
import type { Request } from "express";
import { createIpmiClient } from "../../ipmi/ipmitool.js";
import type { Logger } from "../../lib/log.js";
import type { CommandRunner } from "../../lib/run.js";
import type { SiteConfig } from "../config/site-config.js";
import { bearerAuthorizer, createPowerRouter, type PowerAccess } from "../http/power-routes.js";
import type { NodeEvent } from "../state/node-state.js";
import { fleetBmcs } from "./bmcs.js";
import { createPowerService, type PowerService } from "./power-service.js";

export interface FleetPowerOptions {
  config: SiteConfig;
  runner: CommandRunner;
  log: Logger;
  emit: (event: NodeEvent) => void | Promise<void>;
  /** The admin token actions need (Authorization: Bearer …), unless `authorize` is given. */
  adminToken: string;
  authorize?: (req: Request, need: PowerAccess) => void;
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
  });
  let waking: Promise<void> = Promise.resolve();
  return {
    service,
    router: createPowerRouter({ power: service, authorize: options.authorize ?? bearerAuthorizer(options.adminToken) }),
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
