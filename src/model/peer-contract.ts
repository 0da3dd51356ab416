/**
 * The contract between the master and a peer: the kernel arguments the master puts on a peer's
 * command line (planBoot) and the agent reads back, the peer's API paths on the master, and what
 * the peer does when it is done. Pure constants, so neither side imports the other's code.
 */

/** What the agent does after a successful upload; `stay` unless the site config says otherwise. */
export const POST_ACTIONS = ["poweroff", "reboot", "stay"] as const;
export type PostAction = (typeof POST_ACTIONS)[number];

/** Kernel-argument names the agent reads (BOOTIF= and pxeaddr= come from PXE/iPXE themselves). */
export const PEER_KERNEL_ARGS = {
  /** host[:port] or an http URL of the master. */
  master: "recon.master",
  /** The per-boot peer token (model/peer-token.ts). */
  token: "recon.token",
  /** One of POST_ACTIONS. */
  post: "recon.post",
  /** The burn-in bounds when the site switched burn-in on (renderBurnInArg); absent = no burn-in. */
  burnIn: "recon.burnin",
  /** How long and how much a peer that fetched its image by BitTorrent seeds it (renderSeedArg); absent = it fetched by HTTP. */
  seed: "recon.seed",
} as const;

/**
 * Peer assist (issue #14 item 5, docs/peer-assist.md): the scheme of `root=live:torrent://<host>/torrent/<label>.torrent`.
 * The initrd's URL handler (overlay/usr/lib/dracut/modules.d/95recon-torrent) fetches the torrent by HTTP from
 * `http://<host>/torrent/<label>.torrent` and the image with aria2c into PEER_TORRENT_DIR.
 */
export const TORRENT_SCHEME = "torrent";

/** Where that handler keeps the torrent and the verified ISO: /run (RAM), carried over the switch to the real root. */
export const PEER_TORRENT_DIR = "/run/initramfs/recon-torrent";

/** After its upload and before its post-action a peer seeds its RAM copy to the others for at most timeS, or until it sent ratio × the image. */
export interface SeedSettings {
  timeS: number;
  ratio: number;
}

/** `120,4`: one word for the kernel command line. */
export function renderSeedArg(settings: SeedSettings): string {
  return `${settings.timeS},${settings.ratio}`;
}

/** The value of recon.seed= back into settings; undefined when it is not what renderSeedArg writes within the site config's bounds. */
export function parseSeedArg(value: string): SeedSettings | undefined {
  const match = /^(\d{1,4}),(\d{1,3}(?:\.\d{1,3})?)$/.exec(value);
  if (!match) return undefined;
  const timeS = Number(match[1]);
  const ratio = Number(match[2]);
  return timeS <= 3600 && ratio <= 100 ? { timeS, ratio } : undefined;
}

/** What a peer runs after its inventory collectors when the site config switches burn-in on (docs/workload.md, "Burn-in"). */
export interface BurnInSettings {
  /** stress-ng --cpu, seconds. */
  cpuS: number;
  /** stress-ng --vm, seconds. */
  memoryS: number;
  /** stress-ng --vm-bytes, percent of the memory available. */
  memoryPercent: number;
  /** memtester, MiB in one pass. */
  memtesterMiB: number;
  /** memtester is killed after this long (it has no time option of its own). */
  memtesterS: number;
  /** fio read-only on each whole disk, seconds per disk. */
  diskReadS: number;
}

const BURN_IN_KEYS = ["cpuS", "memoryS", "memoryPercent", "memtesterMiB", "memtesterS", "diskReadS"] as const;

/** `cpuS:60,memoryS:60,…`: one word for the kernel command line. */
export function renderBurnInArg(settings: BurnInSettings): string {
  return BURN_IN_KEYS.map((key) => `${key}:${settings[key]}`).join(",");
}

/** The value of recon.burnin= back into settings; undefined when it is not exactly what renderBurnInArg writes. */
export function parseBurnInArg(value: string): BurnInSettings | undefined {
  const pairs = new Map(value.split(",").map((pair) => pair.split(":") as [string, string | undefined]));
  const settings: Partial<Record<(typeof BURN_IN_KEYS)[number], number>> = {};
  for (const key of BURN_IN_KEYS) {
    const text = pairs.get(key);
    if (text === undefined || !/^\d{1,6}$/.test(text) || Number(text) < 1) return undefined;
    settings[key] = Number(text);
  }
  return pairs.size === BURN_IN_KEYS.length ? (settings as BurnInSettings) : undefined;
}

/** The peer workload, served by the master and fetched by the agent (model/workload-manifest.ts). */
export const WORKLOAD_PATH = "/post.tgz";

/** `/api/v1/nodes/52-54-00-ab-cd-ef/hello`: the peer's own API paths, MAC with dashes. */
export function peerNodePath(mac: string, what: "hello" | "inventory"): string {
  return `/api/v1/nodes/${mac.replace(/:/g, "-")}/${what}`;
}
