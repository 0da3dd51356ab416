/**
 * Whether and how the master serves `root: nfs` (issue #13 item 2): only when some layer of node
 * settings in the site config sets it, one read-only NFSv4 export per served image (the image's ext4
 * root tree at nfsExportPath(label)), to the boot network's subnet only. The decision is pure
 * (planMasterNfs); startMasterNfs checks that the kernel has an NFS server and starts it
 * (nfs-server.ts). Unlike nbd-server's, no failure here stops the master: it is logged at
 * level=error, naming the layers whose nodes cannot boot, and every other node is still served.
 */
import { join } from "node:path";
import { settingLayers } from "../../boot/plan-boot.js";
import { isReconError } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import type { CommandRunner } from "../../lib/run.js";
import type { SiteConfig } from "../../model/site-config.js";
import type { ImageTree } from "../images.js";
import { LIVE_DIR } from "../live-image.js";
import { planNfsServer, type NfsServerPlan } from "./nfs-config.js";
import { checkNfsd, startNfsServer, type NfsPaths, type NfsServerRun } from "./nfs-server.js";

export interface MasterNfsPlan {
  /** The settings layers that set `root: nfs` ("hosts.52:54:…", "defaults"), as an admin finds them. */
  wantedBy: string[];
  server: NfsServerPlan;
}

/**
 * The NFS exports for this site config and these images; undefined when no layer sets `root: nfs`.
 *
 * On the appliance the own image's ISO reaches the http tree only once it is staged in RAM
 * (live-image.ts stageIsoInRam: minutes after start, and never when RAM is short). Its NFS export
 * starts instead from the boot medium's ISO file system that dracut has mounted at
 * /run/initramfs/live (LIVE_DIR; the master serves its kernel and initrd from there too), bound
 * read-only: ready at start, independent of the staging, and no second claim on the boot device
 * (a whole-disk iso9660 mount next to the mounted data partition could be refused as busy).
 */
export function planMasterNfs(options: {
  config: SiteConfig;
  images: readonly ImageTree[];
  address: string;
  prefix: number;
  /** The own image's ISO is on the boot device (the appliance): start from its mounted file system. */
  ownIsoOnDevice?: boolean | undefined;
  liveDir?: string;
}): MasterNfsPlan | undefined {
  const wantedBy = settingLayers(options.config)
    .filter(([, settings]) => settings.root === "nfs")
    .map(([where]) => where);
  if (wantedBy.length === 0) return undefined;
  return {
    wantedBy,
    server: planNfsServer({
      address: options.address,
      prefix: options.prefix,
      images: options.images.map((image) =>
        image.from === "own" && options.ownIsoOnDevice
          ? { label: image.label, iso: options.liveDir ?? LIVE_DIR, isoMounted: true }
          : { label: image.label, iso: join(image.root, "isos", `${image.label}.iso`) },
      ),
    }),
  };
}

/**
 * Starts the NFS server when the plan wants it. Resolves with its handle (stopped by `signal` or
 * `stop()`), or undefined when no layer sets `root: nfs` or it could not start (logged at error).
 */
export async function startMasterNfs(options: {
  config: SiteConfig;
  images: readonly ImageTree[];
  address: string;
  prefix: number;
  runDir: string;
  runner: CommandRunner;
  log: Logger;
  signal: AbortSignal;
  /** The own ISO is on the boot device and reaches the http tree only once staged in RAM. */
  ownIsoOnDevice?: boolean | undefined;
  paths?: NfsPaths;
}): Promise<NfsServerRun | undefined> {
  const plan = planMasterNfs(options);
  if (plan === undefined) return undefined;
  const { log } = options;
  const where = plan.wantedBy.join(",");
  log.info("nfs server wanted", { by: where, exports: plan.server.exports.map((entry) => entry.label).join(","), clients: plan.server.clients });
  try {
    await checkNfsd(options.runner, plan.wantedBy, options.paths);
    return await startNfsServer({ runner: options.runner, plan: plan.server, runDir: options.runDir, log, signal: options.signal, paths: options.paths });
  } catch (error) {
    log.error("nfs root transport not served: these nodes will not boot", {
      where,
      code: isReconError(error) ? error.code : undefined,
      error: error instanceof Error ? error.message : String(error),
      hint: isReconError(error) ? error.hint : undefined,
    });
    return undefined;
  }
}
