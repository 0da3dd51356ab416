/**
 * Every peer's boot as a phase table (model/node-timeline.ts renderPhaseTable), one after the
 * other under a title line: what the lab e2e prints once the peers' uploads are checked, so a
 * run's log shows where each peer's minutes went (issue #14 item 3).
 */
import { renderPhaseTable, type TimelineEntry } from "../model/node-timeline.js";

export interface PeerTimeline {
  name: string;
  mac: string;
  firmware?: string | undefined;
  /** `timeline` of GET /api/v1/nodes/<mac>; absent when the master had none. */
  timeline: readonly TimelineEntry[] | undefined;
}

export function renderPeerPhaseTables(peers: readonly PeerTimeline[]): string {
  return peers
    .map((peer) => `== ${peer.name} ${peer.mac}${peer.firmware === undefined ? "" : ` (${peer.firmware})`}\n${renderPhaseTable(peer.timeline ?? [])}`)
    .join("\n");
}

/** Writes the tables (to stdout unless told otherwise). */
export function printPeerPhaseTables(peers: readonly PeerTimeline[], write: (text: string) => void = (text) => process.stdout.write(text)): void {
  write(renderPeerPhaseTables(peers));
}
