/**
 * Whether and how the master runs nbd-server (issue #13 items 2 and 3): only when some layer of
 * node settings in the site config sets `root: nbd` or `root: nbd-rw`, exporting every served
 * image's ISO read-only under its label, listening on the boot address only. The decision is pure
 * (planMasterNbd); startMasterNbd starts the supervised daemon (nbd-server.ts) and says why it runs.
 */
import { join } from "node:path";
import { settingLayers } from "../../boot/plan-boot.js";
import type { Logger } from "../../lib/log.js";
import type { CommandRunner } from "../../lib/run.js";
import type { SiteConfig } from "../../model/site-config.js";
import type { ImageTree } from "../images.js";
import { planNbdExports, type NbdServerPlan } from "./nbd-config.js";
import { startNbdServer, type NbdServerRun } from "./nbd-server.js";

export interface MasterNbdPlan {
  /** The settings layers that want NBD ("hosts.52:54:…", "defaults"), as an admin finds them. */
  wantedBy: string[];
  /** The layers that set `nbd-rw`: the master does not make writable copies yet (issue #13 item 3). */
  writableWantedBy: string[];
  server: NbdServerPlan;
}

/** The NBD server the master runs for this site config and these images; undefined when no layer sets an NBD root. */
export function planMasterNbd(options: { config: SiteConfig; images: readonly ImageTree[]; address: string; runDir: string }): MasterNbdPlan | undefined {
  const layers = settingLayers(options.config);
  const wantedBy = layers.filter(([, settings]) => settings.root === "nbd" || settings.root === "nbd-rw").map(([where]) => where);
  if (wantedBy.length === 0) return undefined;
  return {
    wantedBy,
    writableWantedBy: layers.filter(([, settings]) => settings.root === "nbd-rw").map(([where]) => where),
    server: planNbdExports({
      listenAddress: options.address,
      runDir: options.runDir,
      // Each image's own tree (not the run dir's symlink tree): nbd-server opens the file per client.
      images: options.images.map((image) => ({ label: image.label, isoPath: join(image.root, "isos", `${image.label}.iso`) })),
    }),
  };
}

/**
 * Starts nbd-server when the plan wants it; resolves once it answers (or with undefined when no
 * layer sets an NBD root). On the appliance the own image's ISO is the RAM copy staged after start
 * (live-image.ts): nbd-server opens it per client, so until it is staged its clients are refused.
 */
export async function startMasterNbd(options: {
  config: SiteConfig;
  images: readonly ImageTree[];
  address: string;
  runDir: string;
  runner: CommandRunner;
  log: Logger;
  signal: AbortSignal;
  /** The own ISO is on the boot device and reaches the http tree only once staged in RAM. */
  ownIsoOnDevice?: boolean;
}): Promise<NbdServerRun | undefined> {
  const plan = planMasterNbd(options);
  if (plan === undefined) return undefined;
  const { log } = options;
  log.info("nbd-server wanted", { by: plan.wantedBy.join(","), exports: plan.server.exports.map((e) => e.name).join(",") });
  for (const where of plan.writableWantedBy) {
    log.warn("root: nbd-rw is not served yet: these nodes will not boot", {
      where,
      hint: "this master does not make a node's writable copy yet (issue #13 item 3); set root: nbd or http",
    });
  }
  const own = options.images.find((image) => image.from === "own");
  if (options.ownIsoOnDevice && own !== undefined) {
    log.info("nbd export of the own image reads its RAM copy: refused until the ISO is staged", { export: own.label });
  }
  return startNbdServer({ runner: options.runner, plan: plan.server, runDir: options.runDir, log, signal: options.signal });
}
