/**
 * Power API (a router built from its dependencies: docs/architecture.md, "Routers from their dependencies"):
 *   GET  /api/v1/power              every configured BMC and its power state
 *   GET  /api/v1/nodes/:mac/power   one node's (or BMC address's) power state
 *   POST /api/v1/nodes/:mac/power   {"action": "on"|"off"|"cycle"|"reset"|"soft"}: needs the admin
 *                                   token (Authorization: Bearer …) wherever the request comes from
 * Responses never carry BMC passwords (describeBmc shows only which kind of credential is set).
 * BMC failures answer 502/501/504 with the IpmiError's message, which names the BMC and the class.
 */
import express, { type Request } from "express";
import { POWER_ACTIONS, type PowerAction } from "../../ipmi/ipmitool.js";
import { ReconError } from "../../lib/errors.js";
import type { PowerService } from "../power/power-service.js";

export type PowerAccess = "read" | "act";

export interface PowerRoutesDeps {
  power: PowerService;
  /** Throws UNAUTHORIZED when `req` may not do `need` (the master uses the review's rule: fleet-power.ts). */
  authorize: (req: Request, need: PowerAccess) => void;
}

export function createPowerRouter(deps: PowerRoutesDeps): express.Router {
  const router = express.Router();

  router.get("/api/v1/power", async (req, res) => {
    deps.authorize(req, "read");
    res.set("Cache-Control", "no-store").json({ bmcs: await deps.power.statusAll() });
  });

  router.get("/api/v1/nodes/:mac/power", async (req, res) => {
    deps.authorize(req, "read");
    res.set("Cache-Control", "no-store").json(await deps.power.status(String(req.params.mac)));
  });

  router.post("/api/v1/nodes/:mac/power", express.json({ limit: "1kb" }), async (req, res) => {
    deps.authorize(req, "act");
    const action = (req.body as { action?: unknown } | undefined)?.action;
    if (typeof action !== "string" || !POWER_ACTIONS.includes(action as PowerAction)) {
      throw new ReconError("BAD_REQUEST", `'action' must be one of ${POWER_ACTIONS.join(", ")}`, { hint: 'send {"action": "on"}' });
    }
    const { bmc, answer } = await deps.power.act(String(req.params.mac), action as PowerAction, "api");
    res.json({ bmc: bmc.name, mac: bmc.mac ?? null, address: bmc.address, action, answer });
  });

  return router;
}
