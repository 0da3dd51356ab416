/**
 * The link budget (issue #14 item 4): how long the whole fleet's images take over the master's
 * one link — nodes × image ÷ link speed — per root transport, and what peer sharing would save.
 * `planLinkBudget` is pure; `readLinkSpeed` and `gatherLinkBudget` read the boot interface's
 * speed from sysfs and the served ISO's size for it. Served as `GET /api/v1/fleet/link-budget`,
 * shown on the UI's fleet page.
 *
 * - http (`root=live:http://…`): every node downloads the whole ISO.
 * - nbd: a node reads only the blocks it touches. Measured in the lab e2e (2026-12-02, BIOS peer
 *   on `root: nbd`, docs/testing.md): nbd-server sent 262,592,512 of 466,593,792 ISO bytes, of
 *   which 142 MiB was burn-in's fio reading nbd0 (no longer a burn-in target): 113,694,720 bytes
 *   for the boot and the agent, 0.24 of the ISO.
 * - peer sharing (peer assist, BitTorrent between the peers, docs/peer-assist.md; site config
 *   `distribution.peerAssist`): its figure is the ideal of a swarm in which the master sends each
 *   piece about once and the nodes pass it on, N / log2 N faster than the master alone, labelled
 *   as an estimate; beside it what this fleet's torrent nodes really got from the master and from
 *   peers (model/node-state.ts imageDelivery).
 * Kernel and initrd (every node fetches them too) and protocol overhead are not counted: the
 * figures are at line rate.
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { imageDelivery, type FleetState } from "../model/node-state.js";

/** What an nbd node reads of its ISO, measured in the lab (see above). */
export const NBD_READ_FRACTION = 0.24;
/** The link speed assumed when the boot interface does not say (a bridge, a veth, no link). */
export const ASSUMED_LINK_MBIT = 1000;

export interface LinkBudgetInput {
  /** How many nodes, and where the number came from. */
  nodes: { count: number; source: "fleet.expectedNodes" | "nodes known" };
  /**
   * The served image: its ISO's size (iso), or, when the master did not name the ISO, the most
   * bytes one node of this fleet fetched of its image over HTTP in its current boot (fetched).
   * undefined: neither is known.
   */
  image?: { label: string; isoBytes: number; source: "iso" | "fetched" } | undefined;
  /** The master's boot interface; mbit undefined = unknown (then ASSUMED_LINK_MBIT). */
  link: { interface?: string | undefined; mbit?: number | undefined };
  /** Whether the site config turns peer assist on; undefined: not known to the review. */
  peerAssist?: boolean | undefined;
  /** What this fleet's current boots fetched by BitTorrent (measured; zero nodes before any). */
  delivered?: PeerSharingMeasured | undefined;
}

export interface PeerSharingMeasured {
  /** Nodes whose current boot fetched its image by torrent. */
  torrentNodes: number;
  /** Of those, the ones whose image has arrived (agent said hello): the bytes below are theirs. */
  arrivedNodes: number;
  fromMasterBytes: number;
  fromPeersBytes: number;
}

export interface TransportBudget {
  transport: "http" | "nbd";
  /** Share of the ISO one node moves. */
  fraction: number;
  what: string;
  bytesPerNode: number;
  fleetBytes: number;
  /** The whole fleet over the master's link, at line rate. */
  seconds: number;
  /** The same with ideal peer sharing (an estimate). */
  peerSharingSeconds: number;
}

export interface LinkBudget {
  nodes: LinkBudgetInput["nodes"];
  image: { label: string; isoBytes: number; source: "iso" | "fetched" } | null;
  link: { interface: string | null; mbit: number; source: "sysfs" | "assumed"; note: string };
  /** Empty when the image's size is not known. */
  transports: TransportBudget[];
  peerSharing: { enabled: boolean | null; speedup: number; note: string; measured: PeerSharingMeasured };
  notes: string[];
}

/** The ideal swarm's speed-up over the master alone: N / log2 N (1 for a fleet of one). */
export function peerSharingSpeedup(nodes: number): number {
  return nodes < 2 ? 1 : nodes / Math.log2(nodes);
}

const round1 = (value: number) => Math.round(value * 10) / 10;

export function planLinkBudget(input: LinkBudgetInput): LinkBudget {
  const known = input.link.mbit !== undefined && Number.isFinite(input.link.mbit) && input.link.mbit > 0;
  const mbit = known ? input.link.mbit! : ASSUMED_LINK_MBIT;
  const name = input.link.interface ?? null;
  const bytesPerSecond = (mbit * 1e6) / 8;
  const nodes = Math.max(0, Math.round(input.nodes.count));
  const speedup = peerSharingSpeedup(nodes);
  const transports: TransportBudget[] =
    input.image === undefined
      ? []
      : [
          { transport: "http" as const, fraction: 1, what: "the whole ISO (root=live:http)" },
          { transport: "nbd" as const, fraction: NBD_READ_FRACTION, what: "the blocks read, 0.24 of the ISO as measured in the lab" },
        ].map((t) => {
          const bytesPerNode = Math.round(input.image!.isoBytes * t.fraction);
          const seconds = (nodes * bytesPerNode) / bytesPerSecond;
          return { ...t, bytesPerNode, fleetBytes: nodes * bytesPerNode, seconds: round1(seconds), peerSharingSeconds: round1(seconds / speedup) };
        });
  const notes = ["at line rate: protocol overhead, kernel and initrd not counted"];
  if (input.image === undefined) notes.push("the served image's size is not known to the review and no node fetched one yet: no figures");
  else if (input.image.source === "fetched")
    notes.push("image size: the most bytes one node fetched over HTTP in its current boot (the master did not name its ISO)");
  if (nodes === 0) notes.push("no nodes known yet and fleet.expectedNodes not set");
  return {
    nodes: { count: nodes, source: input.nodes.source },
    image: input.image === undefined ? null : { label: input.image.label, isoBytes: input.image.isoBytes, source: input.image.source },
    link: {
      interface: name,
      mbit,
      source: known ? "sysfs" : "assumed",
      note: known
        ? `${name ?? "the boot interface"} reports ${mbit} Mbit/s`
        : `assumed ${ASSUMED_LINK_MBIT} Mbit/s: ${name === null ? "the boot interface is not known" : `${name} reports no speed`}`,
    },
    transports,
    peerSharing: {
      enabled: input.peerAssist ?? null,
      speedup: Math.round(speedup * 100) / 100,
      note:
        input.peerAssist === false
          ? "estimate: peers sharing the image (peer assist, off in the site config: distribution.peerAssist), ideally N / log2 N faster"
          : "estimate: peers sharing the image (peer assist, BitTorrent), ideally N / log2 N faster",
      measured: input.delivered ?? { torrentNodes: 0, arrivedNodes: 0, fromMasterBytes: 0, fromPeersBytes: 0 },
    },
    notes,
  };
}

/** /sys/class/net/<if>/speed in Mbit/s; undefined when absent, unreadable or not positive (-1: no link, virtual). */
export async function readLinkSpeed(iface: string, sysRoot = "/"): Promise<number | undefined> {
  if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(iface)) return undefined;
  const text = await readFile(join(sysRoot, "sys/class/net", iface, "speed"), "utf8").catch(() => undefined);
  const value = Number(text?.trim());
  return text !== undefined && Number.isInteger(value) && value > 0 ? value : undefined;
}

/** What the master knows for the estimate; every part optional. */
export interface LinkBudgetSource {
  /** fleet.expectedNodes from the site config, when set. */
  expectedNodes?: number | undefined;
  /** The served image: its label and ISO file. */
  image?: { label: string; isoPath: string } | undefined;
  /** The master's boot (provisioning) interface. */
  bootInterface?: string | undefined;
  sysRoot?: string | undefined;
  /** distribution.peerAssist from the site config. */
  peerAssist?: boolean | undefined;
}

/** What the fleet's torrent nodes got in their current boot, from the master and from peers (imageDelivery per node). */
export function measuredPeerSharing(fleet: FleetState): PeerSharingMeasured {
  const measured: PeerSharingMeasured = { torrentNodes: 0, arrivedNodes: 0, fromMasterBytes: 0, fromPeersBytes: 0 };
  for (const node of Object.values(fleet.nodes)) {
    const delivery = imageDelivery(node);
    if (delivery.via !== "torrent") continue;
    measured.torrentNodes += 1;
    if (delivery.fromPeersBytes === null) continue;
    measured.arrivedNodes += 1;
    measured.fromMasterBytes += delivery.fromMasterBytes;
    measured.fromPeersBytes += delivery.fromPeersBytes;
  }
  return measured;
}

/** The most image bytes one node fetched in its current boot, and that node's image; undefined when none fetched any. */
export function largestFetchedImage(fleet: FleetState): { label: string; isoBytes: number; source: "fetched" } | undefined {
  let best: { label: string; isoBytes: number; source: "fetched" } | undefined;
  for (const node of Object.values(fleet.nodes)) {
    if (node.imageBytes > 0 && (best === undefined || node.imageBytes > best.isoBytes))
      best = { label: node.image ?? "the image", isoBytes: node.imageBytes, source: "fetched" };
  }
  return best;
}

/**
 * Reads the ISO's size and the link's speed. The node count falls back to the nodes the master
 * knows, the ISO's size to the most bytes a node fetched (largestFetchedImage).
 */
export async function gatherLinkBudget(source: LinkBudgetSource, fleet: FleetState): Promise<LinkBudget> {
  const isoBytes =
    source.image === undefined
      ? undefined
      : await stat(source.image.isoPath).then(
          (s) => s.size,
          () => undefined,
        );
  const image =
    source.image !== undefined && isoBytes !== undefined ? { label: source.image.label, isoBytes, source: "iso" as const } : largestFetchedImage(fleet);
  return planLinkBudget({
    nodes:
      source.expectedNodes !== undefined
        ? { count: source.expectedNodes, source: "fleet.expectedNodes" }
        : { count: Object.keys(fleet.nodes).length, source: "nodes known" },
    image,
    link: {
      interface: source.bootInterface,
      mbit: source.bootInterface === undefined ? undefined : await readLinkSpeed(source.bootInterface, source.sysRoot),
    },
    peerAssist: source.peerAssist,
    delivered: measuredPeerSharing(fleet),
  });
}
