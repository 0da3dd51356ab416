/**
 * iPXE scripts: /boot.ipxe chains to the per-machine script, /boot/<mac>.ipxe is planBoot's
 * decision for that machine rendered (docs/architecture.md, "Seams" and "Whole-text renderers"), with a fresh peer token in it.
 * The UEFI HTTP-boot GRUB's files, the same way: /grub/grub.cfg (its built-in prefix) chains to
 * /grub/nodes/<mac>.cfg, that machine's decision for GRUB with kernel and initrd by HTTP.
 */
import express from "express";
import { archFromIpxe, masterHost, planBoot, type BootPlan, type BootServer } from "../../boot/plan-boot.js";
import { renderChainScript, renderIpxeScript } from "../../boot/render-ipxe.js";
import { GRUB_CHAIN_FILE, GRUB_NODE_DIR, renderGrubHttpChainConfig, renderGrubNodeConfig } from "../../boot/render-grub.js";
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

  /** A per-machine decision handed out (iPXE script or GRUB file): the IP → MAC map, one log line, the node's event. */
  const served = (msg: string, mac: string, ip: string, plan: BootPlan, token: string, fields: Record<string, string> = {}) => {
    deps.transfers.rememberMac(ip, mac);
    log.info(msg, {
      mac,
      ip,
      ...fields,
      plan: plan.kind,
      ...(plan.kind === "ignore" ? { reason: plan.reason } : { image: plan.image, root: plan.root, token: tokenFingerprint(token) }),
    });
    void deps.emit({ type: "script-served", at: deps.now().toISOString(), mac, ...(plan.kind === "boot" && { image: plan.image }) });
  };

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
    served("boot script served", mac, ip, plan, token);
    // The script carries a credential: no cache may keep it.
    res.set("Cache-Control", "no-store").type("text/plain").send(renderIpxeScript(plan));
  });

  router.get(`/${GRUB_CHAIN_FILE}`, (_req, res) => {
    res.set("Cache-Control", "no-store").type("text/plain").send(renderGrubHttpChainConfig());
  });

  // GRUB's $net_default_mac: colons, lower case (macParam normalizes and refuses anything else).
  router.get(`/${GRUB_NODE_DIR}/:file`, (req, res, next) => {
    const file = /^(.+)\.cfg$/.exec(req.params.file);
    if (file === null) return next();
    const mac = macParam(file[1]);
    const ip = clientIp(req);
    const token = issueToken(deps.secret, mac, newNonce());
    const plan = planBoot({ mac, arch: "efi64", loader: "grub", ip }, deps.config, deps.fleet().nodes[mac], server, token);
    // GRUB asks HEAD before GET for every file: only the GET is the served decision (one log line, one event).
    if (req.method !== "HEAD") served("grub config served", mac, ip, plan, token, { via: "http" });
    res
      .set("Cache-Control", "no-store")
      .type("text/plain")
      .send(renderGrubNodeConfig(plan, { via: "http" }));
  });

  return router;
}
