/**
 * A node's timeline for one boot: the ordered phase events the master observed (issue #14 item 3).
 * Pure: the node-state reducer fills it (appendTimeline in node-state.ts), `renderPhaseTable` prints it (the
 * lab e2e's phase table). Bounded per boot: a phase seen again (DHCP renewals, repeated range
 * requests for the ISO) updates nothing or, for the image, its one `image-end` entry.
 */
export const TIMELINE_PHASES = [
  "lease",
  "first-stage",
  "script",
  "kernel",
  "initrd",
  "image-start",
  "image-end",
  "hello",
  "collected",
  "upload",
  "off",
  "error",
] as const;
export type TimelinePhase = (typeof TIMELINE_PHASES)[number];

export interface TimelineEntry {
  phase: TimelinePhase;
  /** ISO 8601, the event's own time. */
  at: string;
  /** image-end: bytes of the ISO served so far in this boot. */
  bytes?: number | undefined;
  /** image-end: bytes per second from image-start to image-end. */
  rate?: number | undefined;
  /** The file, image label, upload id or error message. */
  detail?: string | undefined;
}

/** At most this many entries per boot (every phase once, plus errors). */
export const MAX_TIMELINE_ENTRIES = 32;

export const seconds = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / 1000;

function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return "";
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * The timeline as a text table: phase, at, seconds since the first lease (or the first entry),
 * bytes, rate. Whole text, so the lab e2e prints exactly this.
 */
export function renderPhaseTable(timeline: readonly TimelineEntry[]): string {
  if (timeline.length === 0) return "(no timeline)\n";
  const origin = (timeline.find((e) => e.phase === "lease") ?? timeline[0]!).at;
  const header = ["phase", "at", "+s", "bytes", "rate", "detail"];
  const rows = timeline.map((e) => [
    e.phase,
    e.at,
    seconds(origin, e.at).toFixed(1),
    formatBytes(e.bytes),
    e.rate === undefined ? "" : `${formatBytes(e.rate)}/s`,
    e.detail ?? "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 2 || i === 3 || i === 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

/** The time from one timeline entry to the next, named after the phase it ends in (the wait for it). */
export interface TimelineSegment {
  phase: TimelinePhase;
  from: string;
  to: string;
  seconds: number;
  /** image-end: the image's bytes and rate. */
  bytes?: number | undefined;
  rate?: number | undefined;
}

/**
 * The boot as consecutive segments: "kernel" is the time from the previous entry (the script)
 * until the kernel was sent, "image-end" the image's download, "collected" the collection, "off"
 * the wait for power-off after the upload. The first entry (the lease) starts the clock. An entry
 * stamped before its predecessor (another clock) counts 0 s.
 */
export function timelineSegments(timeline: readonly TimelineEntry[]): TimelineSegment[] {
  return timeline.slice(1).map((entry, i) => {
    const previous = timeline[i]!;
    return {
      phase: entry.phase,
      from: previous.at,
      to: entry.at,
      seconds: Math.max(0, seconds(previous.at, entry.at)),
      ...(entry.bytes !== undefined && { bytes: entry.bytes }),
      ...(entry.rate !== undefined && { rate: entry.rate }),
    };
  });
}
