/**
 * Whether and how the master runs nbd-server (issue #13 items 2 and 3): only when some layer of
 * node settings in the site config sets `root: nbd` or `root: nbd-rw`, exporting every served
 * image's ISO read-only under its label and, for each node a hosts.<mac> layer sets to `nbd-rw`,
 * that node's writable copy (rw-copy.ts) read-write to one client at a time, under its
 * rwCopyLabel; listening on the boot address only. The decision is pure (planMasterNbd);
 * startMasterNbd makes the copies that are missing, starts the supervised daemon (nbd-server.ts)
 * and says why it runs.
 */
import { join } from "node:path";
import { settingLayers } from "../../boot/plan-boot.js";
import { ReconError } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import type { CommandRunner } from "../../lib/run.js";
import type { SiteConfig } from "../../model/site-config.js";
import { IMAGES_DIR } from "../../model/store-layout.js";
import type { ImageTree } from "../images.js";
import { planNbdExports, type NbdServerPlan } from "./nbd-config.js";
import { startNbdServer, type NbdServerRun } from "./nbd-server.js";
import { LIVE_DIR } from "../live-image.js";
import { ensureRwCopy, ISO_SQUASHFS, planRwCopies, RW_COPY_IMAGE, type RwCopyWanted } from "./rw-copy.js";

export interface MasterNbdPlan {
  /** The settings layers that want NBD ("hosts.52:54:…", "defaults"), as an admin finds them. */
  wantedBy: string[];
  /** The writable copies the hosts.<mac> layers with `nbd-rw` ask for (each exported read-write, one client at a time). */
  writableCopies: RwCopyWanted[];
  server: NbdServerPlan;
}

/** A writable copy's exported file: <dataDir>/images/<label>/rootfs.img. */
export function rwCopyPath(dataDir: string, label: string): string {
  return join(dataDir, IMAGES_DIR, label, RW_COPY_IMAGE);
}

/**
 * The NBD server the master runs for this site config and these images; undefined when no layer
 * sets an NBD root. `nbd-rw` outside a hosts.<mac> layer, or for an image this master does not
 * serve, is CONFIG_INVALID.
 */
export function planMasterNbd(options: {
  config: SiteConfig;
  images: readonly ImageTree[];
  address: string;
  runDir: string;
  /** Unset: the copies are checked but not exported (a caller that gives no data partition). */
  dataDir: string | undefined;
}): MasterNbdPlan | undefined {
  const layers = settingLayers(options.config);
  const wantedBy = layers.filter(([, settings]) => settings.root === "nbd" || settings.root === "nbd-rw").map(([where]) => where);
  if (wantedBy.length === 0) return undefined;
  const own = options.images.find((image) => image.from === "own") ?? options.images[0];
  const writableCopies = planRwCopies(options.config, layers, own?.label ?? "");
  for (const copy of writableCopies) {
    if (!options.images.some((image) => image.label === copy.from)) {
      throw new ReconError("CONFIG_INVALID", `the site config's ${copy.where} sets root: nbd-rw for image ${copy.from}, which this master does not serve`, {
        hint: `serve ${copy.from} (recon images add) or set image: to one of ${options.images.map((image) => image.label).join(", ")}`,
      });
    }
  }
  return {
    wantedBy,
    writableCopies,
    server: planNbdExports({
      listenAddress: options.address,
      runDir: options.runDir,
      // Each image's own tree (not the run dir's symlink tree): nbd-server opens the file per client.
      images: options.images.map((image) => ({ label: image.label, isoPath: join(image.root, "isos", `${image.label}.iso`) })),
      writableCopies:
        options.dataDir === undefined ? [] : writableCopies.map((copy) => ({ label: copy.label, path: rwCopyPath(options.dataDir!, copy.label) })),
    }),
  };
}

/**
 * Starts nbd-server when the plan wants it; resolves once it answers (or with undefined when no
 * layer sets an NBD root). Each writable copy is made first when it is missing (once: kept across
 * restarts). On the appliance the own image's ISO is the RAM copy staged after start
 * (live-image.ts): nbd-server opens it per client, so until it is staged its clients are refused;
 * a writable copy of the own image is made from the mounted medium's squashfs instead.
 */
export async function startMasterNbd(options: {
  config: SiteConfig;
  images: readonly ImageTree[];
  address: string;
  runDir: string;
  /** The data partition: writable copies live in its images/<rwCopyLabel>/. Unset: nbd-rw nodes are warned about and not served. */
  dataDir?: string;
  runner: CommandRunner;
  log: Logger;
  signal: AbortSignal;
  /** The own ISO is on the boot device and reaches the http tree only once staged in RAM. */
  ownIsoOnDevice?: boolean;
  /** The mounted live medium (default /run/initramfs/live): with ownIsoOnDevice, a copy of the own image is read from its LiveOS/squashfs.img. */
  liveDir?: string;
  /** Passed to startNbdServer (a test from outside the namespace injects a probe). */
  server?: Pick<Parameters<typeof startNbdServer>[0], "probe" | "watchEveryMs" | "statsEveryMs">;
}): Promise<NbdServerRun | undefined> {
  const { dataDir, log } = options;
  const plan = planMasterNbd({ ...options, dataDir });
  if (plan === undefined) return undefined;
  log.info("nbd-server wanted", { by: plan.wantedBy.join(","), exports: plan.server.exports.map((e) => e.name).join(",") });
  for (const wanted of plan.writableCopies) {
    if (dataDir === undefined) {
      log.warn("root: nbd-rw is not served: this node will not boot", { where: wanted.where, hint: "a recon bug: startMasterNbd was given no dataDir" });
      continue;
    }
    const image = options.images.find((candidate) => candidate.label === wanted.from)!;
    // On the appliance the own ISO is the boot device (in RAM only once staged): its mounted squashfs is read instead.
    const source =
      image.from === "own" && options.ownIsoOnDevice
        ? { squashfs: join(options.liveDir ?? LIVE_DIR, ISO_SQUASHFS) }
        : { iso: join(image.root, "isos", `${image.label}.iso`) };
    const copy = await ensureRwCopy({
      runner: options.runner,
      dataDir,
      wanted,
      source,
      bootJson: join(image.root, "install", image.label, "boot.json"),
      log,
    });
    log.info("nbd-rw copy ready", { label: copy.label, from: wanted.from, bytes: copy.bytes, made: copy.made, for: wanted.where });
  }
  const own = options.images.find((image) => image.from === "own");
  if (options.ownIsoOnDevice && own !== undefined) {
    log.info("nbd export of the own image reads its RAM copy: refused until the ISO is staged", { export: own.label });
  }
  return startNbdServer({ runner: options.runner, plan: plan.server, runDir: options.runDir, log, signal: options.signal, ...options.server });
}
