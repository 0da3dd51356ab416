// Geometry of the timeline pictures (issue #14 item 3): pure functions, no DOM, so unit tests run
// them in node (timeline-picture.test.ts); app.js turns what they return into SVG elements.
// Segments come from the master (model/node-timeline.ts timelineSegments, review/fleet-timeline.ts):
// each is named after the phase it waits for, so "image-end" is the image's download.

/** What each segment is called in the pictures. */
export const SEGMENT_LABELS = {
  lease: "lease",
  "first-stage": "first stage",
  script: "script",
  kernel: "kernel",
  initrd: "initrd",
  "image-start": "to image",
  "image-end": "image",
  hello: "agent hello",
  collected: "collect",
  upload: "upload",
  off: "off",
  error: "error",
};

export const labelOf = (phase) => SEGMENT_LABELS[phase] ?? phase;

/** 0.4 s, 12 s, 3 min 05 s. */
export function formatSeconds(seconds) {
  if (seconds < 10) return `${(Math.round(seconds * 10) / 10).toFixed(1)} s`;
  if (Math.round(seconds) < 60) return `${Math.round(seconds)} s`;
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, "0")} s`;
}

/** 1.5 GiB, 300.0 MiB/s when `perSecond`. */
export function formatBytes(bytes, perSecond = false) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}${perSecond ? "/s" : ""}`;
}

/** A segment's full text (tooltip, legend): label, duration, and for the image bytes and rate. */
export function describeSegment(segment) {
  const image =
    segment.bytes === undefined ? "" : `, ${formatBytes(segment.bytes)}${segment.rate === undefined ? "" : ` at ${formatBytes(segment.rate, true)}`}`;
  return `${labelOf(segment.phase)} ${formatSeconds(segment.seconds)}${image}`;
}

/**
 * Lays `parts` ({phase, seconds, …}) out left to right in `width` pixels at `scale` px/s (the
 * parts' own total fills the width when not given). A part gets at least `minWidth` px so a 0.2 s
 * phase stays visible; the inline text shows only where it fits (`charWidth` px per character).
 */
function layoutBar(parts, { width, scale, minWidth, charWidth, y, height }) {
  const total = parts.reduce((sum, part) => sum + part.seconds, 0);
  const pxPerSecond = scale ?? (total > 0 ? width / total : 0);
  const bars = [];
  let x = 0;
  for (const part of parts) {
    const w = Math.max(minWidth, part.seconds * pxPerSecond);
    const full = part.text ?? describeSegment(part);
    const short = `${labelOf(part.phase)} ${formatSeconds(part.seconds)}`;
    const text = full.length * charWidth + 8 <= w ? full : short.length * charWidth + 8 <= w ? short : "";
    bars.push({ phase: part.phase, label: labelOf(part.phase), x: round(x), y, width: round(w), height, seconds: part.seconds, text, title: full });
    x += w;
  }
  return { bars, end: round(x), pxPerSecond };
}

const round = (value) => Math.round(value * 10) / 10;

/** Time-axis ticks every 1, 2, 5, 10, 15, 30, 60, 120, 300, 600 s, about `count` of them. */
export function axisTicks(totalSeconds, pxPerSecond, count = 6) {
  if (!(totalSeconds > 0) || !(pxPerSecond > 0)) return [];
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600];
  const step = steps.find((s) => totalSeconds / s <= count) ?? steps.at(-1);
  const ticks = [];
  // The first label starts at its tick so the picture's left edge does not cut it.
  for (let t = 0; t <= totalSeconds + 1e-9; t += step)
    ticks.push({ seconds: t, x: round(t * pxPerSecond), text: t < 60 ? `${t} s` : `${t / 60} min`, anchor: t === 0 ? "start" : "middle" });
  return ticks;
}

/**
 * One node's boot as one bar of segments (timeline_segments of GET /api/v1/nodes/<mac>), with a
 * time axis below it. Returns the SVG's size and what to draw.
 */
export function layoutNodeTimeline(segments, options = {}) {
  const width = options.width ?? 960;
  const height = options.barHeight ?? 30;
  const { bars, end, pxPerSecond } = layoutBar(segments, { width, minWidth: options.minWidth ?? 3, charWidth: options.charWidth ?? 6.5, y: 0, height });
  const total = segments.reduce((sum, segment) => sum + segment.seconds, 0);
  return {
    width: Math.max(width, end),
    height: height + 22,
    bars,
    ticks: axisTicks(total, pxPerSecond).map((t) => ({ ...t, y: height + 16 })),
    totalSeconds: total,
  };
}

/**
 * The fleet's "where the minutes go" (GET /api/v1/fleet/timeline): two stacked bars on one time
 * scale, the median wait per phase and the longest wait per phase (the longest of each phase may
 * be a different node, so that bar is the worst case, not one node's boot). A label column on
 * the left names the rows.
 */
export function layoutFleetTimeline(summary, options = {}) {
  const width = options.width ?? 960;
  const labelWidth = options.labelWidth ?? 140;
  const height = options.barHeight ?? 24;
  const gap = options.gap ?? 8;
  const rows = [
    { name: "median", key: "median_seconds" },
    { name: "longest", key: "max_seconds" },
  ];
  const partsOf = (key) =>
    summary.phases.map((p) => ({
      phase: p.phase,
      seconds: p[key],
      text: `${labelOf(p.phase)} ${formatSeconds(p[key])}`,
      nodes: p.nodes,
    }));
  const longestTotal = summary.phases.reduce((sum, p) => sum + p.max_seconds, 0);
  const scale = longestTotal > 0 ? (width - labelWidth) / longestTotal : 0;
  const laid = rows.map((row, i) => {
    const y = i * (height + gap);
    const { bars } = layoutBar(partsOf(row.key), {
      width: width - labelWidth,
      scale,
      minWidth: options.minWidth ?? 3,
      charWidth: options.charWidth ?? 6.5,
      y,
      height,
    });
    const total = summary.phases.reduce((sum, p) => sum + p[row.key], 0);
    return {
      name: row.name,
      y,
      label: `${row.name} ${formatSeconds(total)}`,
      bars: bars.map((bar, j) => ({
        ...bar,
        x: round(bar.x + labelWidth),
        title: `${bar.label}: ${row.name} ${formatSeconds(bar.seconds)} over ${summary.phases[j].nodes} node${summary.phases[j].nodes === 1 ? "" : "s"}`,
      })),
    };
  });
  const axisY = rows.length * (height + gap) + 8;
  return {
    width,
    height: axisY + 6,
    labelWidth,
    rows: laid,
    ticks: axisTicks(longestTotal, scale).map((t) => ({ ...t, x: round(t.x + labelWidth), y: axisY })),
  };
}
