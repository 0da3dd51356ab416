/**
 * Where the fleet's minutes go (issue #14 item 3): per timeline phase, over the nodes whose
 * current boot reached it, the median and the longest wait for it (model/node-timeline.ts
 * timelineSegments). Pure; served as `GET /api/v1/fleet/timeline` and drawn by the UI's fleet page.
 */
import type { FleetState } from "../model/node-state.js";
import { TIMELINE_PHASES, timelineSegments, type TimelinePhase } from "../model/node-timeline.js";

export interface PhaseSummary {
  phase: TimelinePhase;
  /** Nodes whose timeline has this phase (after its first entry). */
  nodes: number;
  median_seconds: number;
  max_seconds: number;
  /** The node that waited longest for it. */
  max_mac: string;
}

export interface FleetTimeline {
  /** Nodes with at least one timed segment. */
  nodes: number;
  /** In TIMELINE_PHASES order; phases no node reached are left out. */
  phases: PhaseSummary[];
  /** First entry to last, per node. */
  total: { median_seconds: number; max_seconds: number } | null;
}

/** The median of a sorted list (the mean of the middle two for an even count). */
function median(sorted: readonly number[]): number {
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const round = (value: number) => Math.round(value * 10) / 10;

export function summarizeFleetTimeline(fleet: FleetState): FleetTimeline {
  const perPhase = new Map<TimelinePhase, Array<{ mac: string; seconds: number }>>();
  const totals: number[] = [];
  for (const node of Object.values(fleet.nodes)) {
    const segments = timelineSegments(node.timeline ?? []);
    if (segments.length === 0) continue;
    // A phase that repeats in one boot (errors) counts once per node, with its summed time.
    const sums = new Map<TimelinePhase, number>();
    for (const segment of segments) sums.set(segment.phase, (sums.get(segment.phase) ?? 0) + segment.seconds);
    for (const [phase, seconds] of sums) perPhase.set(phase, [...(perPhase.get(phase) ?? []), { mac: node.mac, seconds }]);
    totals.push(segments.reduce((sum, segment) => sum + segment.seconds, 0));
  }
  const phases = TIMELINE_PHASES.flatMap((phase): PhaseSummary[] => {
    const values = perPhase.get(phase);
    if (values === undefined) return [];
    const sorted = values.map((v) => v.seconds).sort((a, b) => a - b);
    const longest = values.reduce((a, b) => (b.seconds > a.seconds || (b.seconds === a.seconds && b.mac < a.mac) ? b : a));
    return [{ phase, nodes: values.length, median_seconds: round(median(sorted)), max_seconds: round(longest.seconds), max_mac: longest.mac }];
  });
  const sortedTotals = totals.sort((a, b) => a - b);
  return {
    nodes: totals.length,
    phases,
    total: totals.length === 0 ? null : { median_seconds: round(median(sortedTotals)), max_seconds: round(sortedTotals.at(-1)!) },
  };
}
