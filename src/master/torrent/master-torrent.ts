/**
 * Whether and how the master distributes images by BitTorrent (issue #14 item 5,
 * docs/peer-assist.md): only when the site config switches `distribution.peerAssist` on (the
 * HTTP path stays the default). Then each served image gets a torrent
 * (<runDir>/torrent/<label>.torrent: piece hashes, the master's tracker as announce, the master's
 * own HTTP URL of the ISO as web seed, private) and the master runs opentracker on the boot
 * address. The decision is pure (planMasterTorrent); startMasterTorrent makes the torrents and
 * starts the supervised tracker.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rm, stat, statfs } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { masterHost } from "../../boot/plan-boot.js";
import type { Logger } from "../../lib/log.js";
import type { CommandRunner } from "../../lib/run.js";
import type { SiteConfig } from "../../model/site-config.js";
import type { ImageTree } from "../images.js";
import { makeTorrent } from "./mktorrent.js";
import { announceUrl, startTracker, type TrackerRun } from "./opentracker.js";

export interface PlannedTorrent {
  label: string;
  isoPath: string;
  torrentPath: string;
  /** The master's own URL of the ISO (what a node fetches without peer assist). */
  webSeedUrl: string;
  name: string;
}

export interface MasterTorrentPlan {
  tracker: { address: string; port: number; dir: string; announceUrl: string };
  torrents: PlannedTorrent[];
  /** The peers' bounds on seeding after they have the whole image. */
  seedTimeS: number;
  seedRatio: number;
}

/** <runDir>/torrent: the torrents, and the tracker's chroot with its whitelist. */
export function torrentRunDir(runDir: string): string {
  return join(runDir, "torrent");
}

/** The torrents and tracker for this config and these images; undefined when peer assist is off (pure). */
export function planMasterTorrent(options: {
  config: SiteConfig;
  images: readonly Pick<ImageTree, "label" | "root">[];
  /** The boot address (the tracker listens there only). */
  address: string;
  httpPort: number;
  runDir: string;
}): MasterTorrentPlan | undefined {
  const { distribution } = options.config;
  if (!distribution.peerAssist) return undefined;
  const dir = torrentRunDir(options.runDir);
  const host = masterHost({ address: options.address, httpPort: options.httpPort });
  return {
    tracker: {
      address: options.address,
      port: distribution.trackerPort,
      dir: join(dir, "tracker"),
      announceUrl: announceUrl(options.address, distribution.trackerPort),
    },
    torrents: options.images.map((image) => ({
      label: image.label,
      // Each image's own tree, as nbd-server: the served tree may be symlinks.
      isoPath: join(image.root, "isos", `${image.label}.iso`),
      torrentPath: join(dir, `${image.label}.torrent`),
      webSeedUrl: `http://${host}/isos/${image.label}.iso`,
      name: `${image.label}.iso`,
    })),
    seedTimeS: distribution.seedTimeS,
    seedRatio: distribution.seedRatio,
  };
}

export interface MasterTorrentRun extends TrackerRun {
  /** Each image's info hash, by label. */
  infoHashes: Record<string, string>;
}

/** Makes every planned torrent (one SHA-1 pass over each ISO), then starts the tracker whitelisting them. */
export async function startMasterTorrent(options: {
  runner: CommandRunner;
  plan: MasterTorrentPlan;
  log: Logger;
  signal: AbortSignal;
  /** For tests that run opentracker in a namespace: see startTracker. */
  trackerBinary?: string;
  trackerWrap?: readonly string[];
  probe?: () => Promise<boolean>;
}): Promise<MasterTorrentRun> {
  const { plan, log } = options;
  const infoHashes: Record<string, string> = {};
  for (const torrent of plan.torrents) {
    const started = Date.now();
    const sizeBytes = (await stat(torrent.isoPath)).size;
    infoHashes[torrent.label] = await makeTorrent(options.runner, {
      source: torrent.isoPath,
      output: torrent.torrentPath,
      name: torrent.name,
      announceUrl: plan.tracker.announceUrl,
      webSeedUrl: torrent.webSeedUrl,
      sizeBytes,
    });
    log.info("torrent made", {
      image: torrent.label,
      info_hash: infoHashes[torrent.label],
      bytes: sizeBytes,
      ms: Date.now() - started,
      torrent: torrent.torrentPath,
    });
  }
  const run = await startTracker({
    runner: options.runner,
    plan: { address: plan.tracker.address, port: plan.tracker.port, dir: plan.tracker.dir, infoHashes: Object.values(infoHashes) },
    log,
    signal: options.signal,
    binary: options.trackerBinary,
    wrap: options.trackerWrap,
    probe: options.probe,
  });
  return { ...run, infoHashes };
}

/**
 * The master's part of peer assist, run once the master is ready (never fatal: every node still
 * boots over HTTP whatever happens here): a torrent for each image whose ISO is a regular file
 * (mktorrent reads files; the appliance's own ISO is the first bytes of its boot device, so it
 * gets none and is said so), then the supervised tracker. Resolves when the master stops it, the
 * tracker gives up (logged at error), or nothing could be served (logged).
 */
export async function servePeerAssist(options: {
  runner: CommandRunner;
  plan: MasterTorrentPlan;
  log: Logger;
  signal: AbortSignal;
  /**
   * The appliance's own ISO when it is the first bytes of its boot device (main.ts isoDevice): mktorrent
   * reads files only, so those bytes are copied once into the run directory (RAM), hashed, and the copy
   * removed; the web seed still serves the device.
   */
  ownIso?: { label: string; device: { path: string; sizeBytes: number } } | undefined;
  /** Called with the labels whose torrent is served, once the tracker is up (main.ts hands them to the boot decision). */
  onServing?: (labels: string[]) => void;
}): Promise<void> {
  const { log } = options;
  const torrents: PlannedTorrent[] = [];
  const copies: string[] = [];
  for (const torrent of options.plan.torrents) {
    const isFile = await stat(torrent.isoPath).then(
      (info) => info.isFile(),
      () => false,
    );
    const own = options.ownIso?.label === torrent.label ? options.ownIso.device : undefined;
    if (isFile) torrents.push(torrent);
    else if (own !== undefined) {
      const copy = join(dirname(torrent.torrentPath), "src", `${torrent.label}.iso`);
      try {
        const started = Date.now();
        await copyDevicePrefix(own.path, own.sizeBytes, copy, options.signal);
        copies.push(copy);
        torrents.push({ ...torrent, isoPath: copy });
        log.info("own ISO copied for hashing", { image: torrent.label, device: own.path, bytes: own.sizeBytes, ms: Date.now() - started });
      } catch (error) {
        await rm(copy, { force: true });
        log.warn("no torrent for this image: its ISO could not be read from the boot device", {
          image: torrent.label,
          device: own.path,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    } else {
      log.warn("no torrent for this image: its ISO is not a file here", {
        image: torrent.label,
        iso: torrent.isoPath,
        hint: "the appliance's own ISO is its boot device; an image added with recon images add gets one",
      });
    }
  }
  if (torrents.length === 0) {
    log.warn("peer assist: no image to make a torrent of; nodes fetch every image from the master alone");
    return;
  }
  try {
    const run = await startMasterTorrent({ runner: options.runner, plan: { ...options.plan, torrents }, log, signal: options.signal }).finally(() =>
      Promise.all(copies.map((copy) => rm(copy, { force: true }))),
    );
    log.info("peer assist serving", {
      torrents: torrents.map((torrent) => `/torrent/${torrent.label}.torrent`).join(","),
      tracker: run.announceUrl,
      nodes: "root http nodes booting from now on fetch by BitTorrent (web seed: this master)",
    });
    options.onServing?.(torrents.map((torrent) => torrent.label));
    await run.done;
  } catch (error) {
    if (options.signal.aborted) return;
    log.error("peer assist not served: nodes fetch from the master alone", {
      error: error instanceof Error ? error.message : String(error),
      hint: "docs/peer-assist.md; set distribution.peerAssist: false to stop trying",
    });
  }
}

/** What the run directory keeps free beside the own ISO's copy (nginx's temp files, dnsmasq's leases, the tracker). */
const COPY_MARGIN_BYTES = 64 * 2 ** 20;

/** The first `bytes` of `device` into `target` (created 0644, its directory made), streamed; the copy ends when `signal` aborts. */
async function copyDevicePrefix(device: string, bytes: number, target: string, signal: AbortSignal): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  // /run is a tmpfs of a fifth of the RAM: a small master refuses here rather than filling it.
  const fs = await statfs(dirname(target));
  const free = fs.bavail * fs.bsize;
  if (free < bytes + COPY_MARGIN_BYTES) {
    throw new Error(`${dirname(target)} has ${Math.floor(free / 2 ** 20)} MiB free, the copy needs ${Math.ceil((bytes + COPY_MARGIN_BYTES) / 2 ** 20)} MiB`);
  }
  await pipeline(createReadStream(device, { start: 0, end: bytes - 1 }), createWriteStream(target, { mode: 0o644 }), { signal });
  const copied = (await stat(target)).size;
  if (copied !== bytes) throw new Error(`read ${copied} of ${bytes} bytes from ${device}`);
}
