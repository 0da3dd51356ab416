/**
 * Per-node state as a pure reducer over events (DHCP log, HTTP routes, agent, power). Events
 * only move a node forward within one boot; a new boot (firmware fetching iPXE again, or any
 * boot event after `off`/`error`) starts a new cycle. DHCP renewals by dracut and the live
 * system arrive after `kernel` and must not move a node back to `leased`.
 */

import { MAX_TIMELINE_ENTRIES, seconds, type TimelineEntry } from "./node-timeline.js";

export const PHASES = ["leased", "ipxe", "kernel", "image", "agent", "uploaded", "off"] as const;
export type Phase = (typeof PHASES)[number] | "error";

/** ISO 8601 timestamps; events carry their own time so replays give the same state. */
export type NodeEvent =
  | { type: "dhcp-offer"; at: string; mac: string; ip: string }
  | { type: "dhcp-ack"; at: string; mac: string; ip: string; hostname?: string | undefined }
  /** TFTP lines name the client by IP only; the fleet reducer maps it to a MAC. */
  /** `image`: for a kernel or initrd read by TFTP (install/<label>/linux), that label. */
  | { type: "tftp-sent"; at: string; ip: string; file: string; image?: string | undefined }
  /** iPXE fetched its script, or GRUB its per-MAC file by TFTP (then `ip` ties later TFTP lines to the MAC, also in proxy mode). */
  | { type: "script-served"; at: string; mac: string; ip?: string | undefined; image?: string | undefined }
  /** `image`: the label of the image whose kernel it was (install/<label>/linux). */
  | { type: "kernel-sent"; at: string; mac: string; image?: string | undefined }
  | { type: "initrd-sent"; at: string; mac: string }
  | { type: "image-bytes"; at: string; mac: string; bytes: number }
  /**
   * The master served this node its image's torrent (peer assist, docs/peer-assist.md): the node
   * fetches the image by BitTorrent from here on. `isoBytes`: the image's size, the torrent's length.
   */
  | { type: "torrent-sent"; at: string; mac: string; image: string; isoBytes: number }
  | { type: "agent-hello"; at: string; mac: string }
  /**
   * `collectedAt`: when the agent's collection ended (its clock: the upload's manifest.json as
   * packed, inventory/parse/manifest.ts collectionWindow); `collectionSeconds`: how long it ran.
   */
  | { type: "upload-stored"; at: string; mac: string; uploadId: string; collectedAt?: string | undefined; collectionSeconds?: number | undefined }
  | { type: "powered-off"; at: string; mac: string }
  /** A BMC action on the node (src/master/power): recorded on the node, its phase unchanged. */
  | {
      type: "power";
      at: string;
      mac: string;
      action: PowerEventAction;
      by: PowerEventCause;
      result: "ok" | "unsupported" | "failed";
      message?: string | undefined;
    }
  | { type: "error"; at: string; mac: string; message: string; code?: string | undefined };

export type PowerEventAction = "bootdev-pxe" | "on" | "off" | "cycle" | "reset" | "soft" | "status-off";
/** wake: the master's start; confirm-off: after an upload; api/cli: an admin. */
export type PowerEventCause = "wake" | "confirm-off" | "api" | "cli";

export interface NodeState {
  mac: string;
  ip: string | undefined;
  hostname: string | undefined;
  phase: Phase;
  /** When the node first reached each phase in the current boot cycle. */
  phases: Partial<Record<Phase, string>>;
  /** Boot cycles seen (1 for the first). */
  boots: number;
  /** Inventories stored, across all cycles (planBoot reads this). */
  uploads: number;
  lastUploadId: string | undefined;
  imageBytes: number;
  /** The image this boot cycle boots: planned when its script was served, confirmed by the kernel it fetched. */
  image?: string | undefined;
  /** This boot fetched its image by BitTorrent (the master served it the torrent); absent: over HTTP or not yet. */
  torrent?: { image: string; isoBytes: number } | undefined;
  lastError: { at: string; message: string; code?: string | undefined } | undefined;
  lastSeen: string;
  /** This boot's phase events in order (node-timeline.ts); absent in state written before it. */
  timeline?: TimelineEntry[] | undefined;
  /** The last BMC action on this node, when the master has a BMC for it. */
  power?: { at: string; action: PowerEventAction; by: PowerEventCause; result: "ok" | "unsupported" | "failed"; message?: string | undefined } | undefined;
}

export interface FleetState {
  nodes: Record<string, NodeState>;
  /** Latest lease per IP, to attribute TFTP lines. */
  macByIp: Record<string, string>;
}

export const EMPTY_FLEET: FleetState = { nodes: {}, macByIp: {} };

const rank = (phase: Phase): number => (phase === "error" ? -1 : PHASES.indexOf(phase));

function phaseOf(event: Exclude<NodeEvent, { type: "power" }>): Phase {
  switch (event.type) {
    case "dhcp-offer":
    case "dhcp-ack":
      return "leased";
    case "tftp-sent":
      // GRUB (after shim) reads the kernel and initrd by TFTP, as the http tree names them.
      return event.file === "linux" || event.file === "initrd" ? "kernel" : "ipxe";
    case "script-served":
      return "ipxe";
    case "kernel-sent":
    case "initrd-sent":
      return "kernel";
    case "image-bytes":
    case "torrent-sent":
      return "image";
    case "agent-hello":
      return "agent";
    case "upload-stored":
      return "uploaded";
    case "powered-off":
      return "off";
    case "error":
      return "error";
  }
}

function newNode(mac: string, at: string): NodeState {
  return {
    mac,
    ip: undefined,
    hostname: undefined,
    phase: "leased",
    phases: {},
    boots: 0,
    uploads: 0,
    lastUploadId: undefined,
    imageBytes: 0,
    lastError: undefined,
    lastSeen: at,
  };
}

/** Whether this event begins a new boot of a node that is already somewhere. */
function startsNewCycle(node: NodeState, target: Phase): boolean {
  if (node.boots === 0) return true;
  if (target === "error") return false;
  // After power-off or an error any boot-path event is a fresh start.
  if ((node.phase === "off" || node.phase === "error") && rank(target) <= rank("ipxe")) return true;
  // The firmware or iPXE fetching again once the kernel ran means the machine rebooted.
  return target === "ipxe" && rank(node.phase) >= rank("kernel");
}

export function reduceNode(current: NodeState | undefined, mac: string, event: NodeEvent): NodeState {
  if (event.type === "power") {
    const { type: _type, mac: _mac, ...power } = event;
    const base = current ?? newNode(mac, event.at);
    return { ...base, power, timeline: appendTimeline(base.timeline ?? [], event), lastSeen: event.at };
  }
  const target = phaseOf(event);
  let node = current ?? newNode(mac, event.at);
  if (startsNewCycle(node, target)) {
    node = { ...node, phase: target, phases: { [target]: event.at }, boots: node.boots + 1, imageBytes: 0, image: undefined, torrent: undefined, timeline: [] };
  } else if (target === "error") {
    node = { ...node, phase: "error", phases: { ...node.phases, error: node.phases.error ?? event.at } };
  } else if (rank(target) > rank(node.phase)) {
    node = { ...node, phase: target, phases: { ...node.phases, [target]: node.phases[target] ?? event.at } };
  }
  node = { ...node, lastSeen: event.at, timeline: appendTimeline(node.timeline ?? [], event) };

  switch (event.type) {
    case "dhcp-offer":
      return { ...node, ip: event.ip };
    case "dhcp-ack":
      return { ...node, ip: event.ip, hostname: event.hostname ?? node.hostname };
    case "image-bytes":
      return { ...node, imageBytes: node.imageBytes + event.bytes };
    case "torrent-sent":
      return { ...node, image: event.image, torrent: { image: event.image, isoBytes: event.isoBytes } };
    case "script-served":
    case "kernel-sent":
    case "tftp-sent":
      // GRUB's chain reads the kernel by TFTP: its path names the image as the HTTP kernel's does.
      return event.image === undefined ? node : { ...node, image: event.image };
    case "upload-stored":
      return { ...node, uploads: node.uploads + 1, lastUploadId: event.uploadId };
    case "error":
      return { ...node, lastError: { at: event.at, message: event.message, ...(event.code && { code: event.code }) } };
    default:
      return node;
  }
}

/**
 * How this boot's image reached the node (issue #14 item 5, "the UI shows how much each node got
 * from peers"). The master sees only its own side: the ISO bytes its front sent to the node (the
 * HTTP fetch, or the torrent's web seed). A torrent node's bytes from peers are the image's size
 * less those, known once the node's agent said hello (its root, the whole ISO, had arrived by then);
 * before, null. A piece both the web seed and a peer delivered counts as the master's, so the
 * figure from peers is a lower bound.
 */
export interface ImageDelivery {
  via: "http" | "torrent" | null;
  fromMasterBytes: number;
  fromPeersBytes: number | null;
  isoBytes: number | null;
}

export function imageDelivery(node: Pick<NodeState, "imageBytes" | "torrent" | "phases">): ImageDelivery {
  if (node.torrent === undefined) return { via: node.imageBytes > 0 ? "http" : null, fromMasterBytes: node.imageBytes, fromPeersBytes: null, isoBytes: null };
  const arrived = node.phases.agent !== undefined;
  return {
    via: "torrent",
    fromMasterBytes: node.imageBytes,
    fromPeersBytes: arrived ? Math.max(0, node.torrent.isoBytes - node.imageBytes) : null,
    isoBytes: node.torrent.isoBytes,
  };
}

/**
 * Whether a seeding peer is still needed (issue #14 item 5: "seeds until the swarm is done or a
 * bound passes"). The swarm is done when no node the master saw lately is still on its way to its
 * image (a boot in leased … image: it may still fetch, by torrent or not yet known) and no node is
 * still to be woken (a paced wake's later batches). A node not seen for `recentMs` (a stray lease,
 * a machine that booted something else) does not hold the swarm open. Pure.
 */
export interface SwarmStatus {
  image: string;
  /** Nodes fetching this image by torrent now (torrent served, no hello yet). */
  fetching: number;
  /** Nodes seen lately whose boot has not reached the agent (any image: the label may not be known yet). */
  booting: number;
  /** Nodes the master has still to wake. */
  wakePending: number;
  done: boolean;
}

export const SWARM_RECENT_MS = 10 * 60_000;

export function swarmStatus(fleet: FleetState, image: string, now: Date, wakePending = 0, recentMs = SWARM_RECENT_MS): SwarmStatus {
  let fetching = 0;
  let booting = 0;
  for (const node of Object.values(fleet.nodes)) {
    if (node.phase === "agent" || node.phase === "uploaded" || node.phase === "off" || node.phase === "error") continue;
    if (now.getTime() - Date.parse(node.lastSeen) > recentMs) continue;
    booting += 1;
    if (node.torrent?.image === image) fetching += 1;
  }
  return { image, fetching, booting, wakePending, done: booting === 0 && wakePending === 0 };
}

/** Applies one event to the fleet; a TFTP line from an unknown IP changes nothing. */
export function reduceFleet(state: FleetState, event: NodeEvent): FleetState {
  const mac = event.type === "tftp-sent" ? state.macByIp[event.ip] : event.mac.toLowerCase();
  if (mac === undefined) return state;
  const node = reduceNode(state.nodes[mac], mac, event);
  const ip = event.type === "dhcp-offer" || event.type === "dhcp-ack" ? event.ip : event.type === "script-served" ? event.ip : undefined;
  const macByIp = ip !== undefined ? { ...state.macByIp, [ip]: mac } : state.macByIp;
  return { nodes: { ...state.nodes, [mac]: node }, macByIp };
}

function entriesOf(event: NodeEvent): TimelineEntry[] {
  const at = event.at;
  switch (event.type) {
    case "dhcp-offer":
    case "dhcp-ack":
      return [{ phase: "lease", at, detail: event.ip }];
    case "tftp-sent":
      // GRUB reads kernel and initrd by TFTP (install/<label>/linux, initrd).
      if (event.file === "linux") return [{ phase: "kernel", at, detail: event.file }];
      if (event.file === "initrd") return [{ phase: "initrd", at, detail: event.file }];
      return [{ phase: "first-stage", at, detail: event.file }];
    case "script-served":
      return [{ phase: "script", at, detail: event.image }];
    case "kernel-sent":
      return [{ phase: "kernel", at, detail: event.image }];
    case "initrd-sent":
      return [{ phase: "initrd", at }];
    case "image-bytes":
      return [
        { phase: "image-start", at },
        { phase: "image-end", at, bytes: event.bytes },
      ];
    case "torrent-sent":
      // The torrent is the image's first request; image-end then counts the web seed's bytes only.
      return [{ phase: "image-start", at, detail: "torrent" }];
    case "agent-hello":
      return [{ phase: "hello", at }];
    case "upload-stored":
      return [
        ...(event.collectedAt !== undefined
          ? [{ phase: "collected" as const, at: event.collectedAt, ...(event.collectionSeconds !== undefined && { detail: `${event.collectionSeconds} s` }) }]
          : []),
        { phase: "upload", at, detail: event.uploadId },
      ];
    case "powered-off":
      return [{ phase: "off", at }];
    case "power":
      return event.result === "ok" && (event.action === "off" || event.action === "status-off") ? [{ phase: "off", at, detail: event.by }] : [];
    case "error":
      return [{ phase: "error", at, detail: event.message }];
  }
}

/** The timeline after `event`; `timeline` is the current boot's (empty at a new boot). */
export function appendTimeline(timeline: readonly TimelineEntry[], event: NodeEvent): TimelineEntry[] {
  let next = [...timeline];
  for (const entry of entriesOf(event)) {
    if (entry.phase === "image-end") {
      const start = next.find((e) => e.phase === "image-start");
      const previous = next.find((e) => e.phase === "image-end");
      const bytes = (previous?.bytes ?? 0) + (entry.bytes ?? 0);
      const elapsed = start ? seconds(start.at, entry.at) : 0;
      const end: TimelineEntry = { phase: "image-end", at: entry.at, bytes, ...(elapsed > 0 && { rate: Math.round(bytes / elapsed) }) };
      next = previous ? next.map((e) => (e === previous ? end : e)) : [...next, end];
      continue;
    }
    if (entry.phase !== "error" && next.some((e) => e.phase === entry.phase)) continue;
    if (next.length >= MAX_TIMELINE_ENTRIES) continue;
    if (entry.phase === "collected" && event.type === "upload-stored") {
      const placed = placeCollected(next, entry, event);
      if (placed !== undefined) next.push(placed);
      continue;
    }
    next.push(entry);
  }
  return next;
}

/**
 * The "collected" entry on the master's clock. The agent's end time is kept when it falls between
 * its hello (or the boot's first entry) and the upload, as the master saw them; a peer whose clock
 * is off (an unset RTC) instead gets hello + the collection's length, clamped to the upload, and
 * says so. Without a hello or a length a wrong clock leaves the phase out rather than misplace it.
 */
function placeCollected(
  timeline: readonly TimelineEntry[],
  entry: TimelineEntry,
  event: Extract<NodeEvent, { type: "upload-stored" }>,
): TimelineEntry | undefined {
  const hello = timeline.find((e) => e.phase === "hello");
  const from = Date.parse((hello ?? timeline[0])?.at ?? event.at);
  const to = Date.parse(event.at);
  const at = Date.parse(entry.at);
  if (Number.isFinite(at) && at >= from && at <= to) return entry;
  if (hello === undefined || event.collectionSeconds === undefined) return undefined;
  const placed = Math.min(Date.parse(hello.at) + event.collectionSeconds * 1000, to);
  const offBy = Number.isFinite(at) ? Math.round((at - placed) / 1000) : undefined;
  return {
    phase: "collected",
    at: new Date(placed).toISOString(),
    detail: `${event.collectionSeconds} s after hello${offBy === undefined ? "" : `; agent clock off by ${offBy} s`}`,
  };
}
