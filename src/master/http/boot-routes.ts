/**
 * iPXE scripts: /boot.ipxe chains to the per-machine script, /boot/<mac>.ipxe is planBoot's
 * decision for that machine rendered (docs/architecture.md, "Seams" and "Whole-text renderers"), with a fresh peer token in it.
 */
import express from "express";
import { archFromIpxe, masterHost, planBoot, type BootServer } from "../../boot/plan-boot.js";
import { renderChainScript, renderIpxeScript } from "../../boot/render-ipxe.js";
import type { Logger } from "../../lib/log.js";
import type { FleetState, NodeEvent } from "../../model/node-state.js";
import { issueToken, newNonce, tokenFingerprint } from "../../model/peer-token.js";
import type { SiteConfig } from "../../model/site-config.js";
import { clientIp, macParam } from "./request-rules.js";
import type { TransferLog } from "./transfers.js";

export interface BootRouteDeps {
  config: SiteConfig;
  server: BootServer;
  secret: Uint8Array;
  fleet: () => FleetState;
  transfers: Pick<TransferLog, "rememberMac">;
  emit: (event: NodeEvent) => Promise<void>;
  log: Logger;
  now: () => Date;
}

export function createBootRouter(deps: BootRouteDeps): express.Router {
  const { server, log } = deps;
  const router = express.Router();

  router.get("/boot.ipxe", (_req, res) => {
    res.type("text/plain").send(renderChainScript({ masterHost: masterHost(server) }));
  });

  router.get("/boot/:mac.ipxe", (req, res) => {
    const mac = macParam(req.params.mac);
    const ip = clientIp(req);
    const query = (name: string) => {
      const value = req.query[name];
      return typeof value === "string" ? value : undefined;
    };
    const token = issueToken(deps.secret, mac, newNonce());
    const plan = planBoot(
      { mac, arch: archFromIpxe(query("platform"), query("buildarch")), userClass: "iPXE", ip },
      deps.config,
      deps.fleet().nodes[mac],
      server,
      token,
    );
    deps.transfers.rememberMac(ip, mac);
    log.info("boot script served", {
      mac,
      ip,
      plan: plan.kind,
      ...(plan.kind === "ignore" ? { reason: plan.reason } : { image: plan.image, root: plan.root, token: tokenFingerprint(token) }),
    });
    void deps.emit({ type: "script-served", at: deps.now().toISOString(), mac, ...(plan.kind === "boot" && { image: plan.image }) });
    // The script carries a credential: no cache may keep it.
    res.set("Cache-Control", "no-store").type("text/plain").send(renderIpxeScript(plan));
  });

  return router;
}
