/**
 * The timeline pictures' geometry (static/timeline-picture.js, plain browser JS without types),
 * fed the master's own segments and fleet summary so the two sides agree.
 */
import { describe, expect, it } from "vitest";
import { EMPTY_FLEET, reduceFleet, type NodeEvent } from "../../model/node-state.js";
import { timelineSegments, type TimelineSegment } from "../../model/node-timeline.js";
import { summarizeFleetTimeline, type FleetTimeline } from "../fleet-timeline.js";

interface Bar {
  phase: string;
  label: string;
  x: number;
  y: number;
  width: number;
  height: number;
  seconds: number;
  text: string;
  title: string;
}
interface Tick {
  seconds: number;
  x: number;
  y: number;
  text: string;
  anchor: string;
}
interface Geometry {
  formatSeconds(seconds: number): string;
  formatBytes(bytes: number, perSecond?: boolean): string;
  axisTicks(total: number, pxPerSecond: number, count?: number): Array<Omit<Tick, "y">>;
  layoutNodeTimeline(
    segments: TimelineSegment[],
    options?: { width?: number },
  ): { width: number; height: number; bars: Bar[]; ticks: Tick[]; totalSeconds: number };
  layoutFleetTimeline(
    summary: FleetTimeline,
    options?: { width?: number; labelWidth?: number },
  ): { width: number; height: number; rows: Array<{ name: string; label: string; y: number; bars: Bar[] }>; ticks: Tick[] };
}
const geometry = (await import(new URL("./static/timeline-picture.js", import.meta.url).href)) as Geometry;

const MAC = "52:54:00:12:34:56";
const at = (s: number) => new Date(Date.UTC(2026, 11, 2, 12, 0, s)).toISOString();
const boot = (mac: string, imageS: number): NodeEvent[] => [
  { type: "dhcp-ack", at: at(0), mac, ip: "10.0.0.1" },
  { type: "script-served", at: at(4), mac },
  { type: "kernel-sent", at: at(5), mac },
  { type: "initrd-sent", at: at(6), mac },
  { type: "image-bytes", at: at(10), mac, bytes: 200 * 1024 * 1024 },
  { type: "image-bytes", at: at(10 + imageS), mac, bytes: 200 * 1024 * 1024 },
  { type: "agent-hello", at: at(40 + imageS), mac },
  { type: "upload-stored", at: at(72 + imageS), mac, uploadId: "u1", collectedAt: at(70 + imageS), collectionSeconds: 30 },
  { type: "powered-off", at: at(80 + imageS), mac },
];
const fleetOf = (events: NodeEvent[]) => events.reduce(reduceFleet, EMPTY_FLEET);

describe("timeline picture geometry", () => {
  it("formats durations and sizes", () => {
    expect([0.04, 3.25, 12.4, 59.6, 185].map((s) => geometry.formatSeconds(s))).toEqual(["0.0 s", "3.3 s", "12 s", "1 min 00 s", "3 min 05 s"]);
    expect(geometry.formatBytes(400 * 1024 * 1024)).toBe("400.0 MiB");
    expect(geometry.formatBytes(512, true)).toBe("512 B/s");
  });

  it("lays a node's boot out as one bar: segments in order, widths by duration, filling the width", () => {
    const segments = timelineSegments(fleetOf(boot(MAC, 20)).nodes[MAC]!.timeline!);
    const picture = geometry.layoutNodeTimeline(segments, { width: 1000 });
    expect(picture.bars.map((b) => b.label)).toEqual(["script", "kernel", "initrd", "to image", "image", "agent hello", "collect", "upload", "off"]);
    expect(picture.totalSeconds).toBe(100);
    // 10 px a second: the image's 20 s are 200 px, right after 10 s of boot before it.
    const image = picture.bars.find((b) => b.phase === "image-end")!;
    expect(image).toMatchObject({ x: 100, width: 200, seconds: 20 });
    expect(image.title).toBe("image 20 s, 400.0 MiB at 20.0 MiB/s");
    // 200 px hold the short text only (label and duration).
    expect(image.text).toBe("image 20 s");
    // Each bar starts where the last ended; the last ends at the width.
    picture.bars.slice(1).forEach((bar, i) => expect(bar.x).toBeCloseTo(picture.bars[i]!.x + picture.bars[i]!.width, 1));
    expect(picture.bars.at(-1)!.x + picture.bars.at(-1)!.width).toBeCloseTo(1000, 1);
    // A 1 s phase is 10 px: too narrow for any text, its title still says it all.
    const kernel = picture.bars.find((b) => b.phase === "kernel")!;
    expect([kernel.width, kernel.text, kernel.title]).toEqual([10, "", "kernel 1.0 s"]);
    expect(picture.ticks.map((t) => t.text)).toEqual(["0 s", "30 s", "1 min", "1.5 min"]);
    expect(picture.ticks[1]!.x).toBe(300);
    expect(picture.ticks.map((t) => t.anchor)).toEqual(["start", "middle", "middle", "middle"]);
  });

  it("keeps a 0 s phase visible and draws nothing for no segments", () => {
    const picture = geometry.layoutNodeTimeline([
      { phase: "script", from: at(0), to: at(0), seconds: 0 },
      { phase: "kernel", from: at(0), to: at(10), seconds: 10 },
    ]);
    expect(picture.bars[0]!.width).toBe(3);
    expect(geometry.layoutNodeTimeline([]).bars).toEqual([]);
    expect(geometry.axisTicks(0, 10)).toEqual([]);
  });

  it("draws the fleet's median and longest waits per phase as two stacked bars on one scale", () => {
    const summary = summarizeFleetTimeline(fleetOf([...boot("52:54:00:00:00:01", 10), ...boot("52:54:00:00:00:02", 20), ...boot("52:54:00:00:00:03", 60)]));
    const picture = geometry.layoutFleetTimeline(summary, { width: 1000, labelWidth: 100 });
    expect(picture.rows.map((r) => r.name)).toEqual(["median", "longest"]);
    const [median, longest] = picture.rows;
    expect(median!.bars.map((b) => b.phase)).toEqual(summary.phases.map((p) => p.phase));
    expect(median!.bars.find((b) => b.phase === "image-end")).toMatchObject({ seconds: 20, title: "image: median 20 s over 3 nodes" });
    expect(longest!.bars.find((b) => b.phase === "image-end")!.seconds).toBe(60);
    // The longest row fills the width after the label column; the median row is shorter on the same scale.
    const end = (bars: Bar[]) => bars.at(-1)!.x + bars.at(-1)!.width;
    expect(longest!.bars[0]!.x).toBe(100);
    expect(end(longest!.bars)).toBeCloseTo(1000, 0);
    expect(end(median!.bars)).toBeLessThan(end(longest!.bars));
    expect(median!.label).toBe("median 1 min 40 s");
    expect(longest!.label).toBe("longest 2 min 20 s");
    expect(picture.ticks[0]).toMatchObject({ x: 100, text: "0 s" });
  });
});
