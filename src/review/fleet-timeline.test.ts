import { describe, expect, it } from "vitest";
import { EMPTY_FLEET, reduceFleet, type NodeEvent } from "../model/node-state.js";
import { summarizeFleetTimeline } from "./fleet-timeline.js";

const at = (s: number) => new Date(Date.UTC(2026, 11, 2, 12, 0, s)).toISOString();

/** A boot whose image takes `imageS` seconds, then hello, upload and off. */
function boot(mac: string, imageS: number, start = 0): NodeEvent[] {
  const t = (s: number) => at(start + s);
  return [
    { type: "dhcp-ack", at: t(0), mac, ip: "10.0.0.1" },
    { type: "script-served", at: t(2), mac },
    { type: "kernel-sent", at: t(3), mac },
    { type: "image-bytes", at: t(10), mac, bytes: 1024 },
    { type: "image-bytes", at: t(10 + imageS), mac, bytes: 1024 },
    { type: "agent-hello", at: t(20 + imageS), mac },
    { type: "upload-stored", at: t(50 + imageS), mac, uploadId: "u" },
  ];
}

describe("summarizeFleetTimeline", () => {
  it("gives per phase the median and the longest wait, and who waited longest", () => {
    const events = [...boot("52:54:00:00:00:01", 10), ...boot("52:54:00:00:00:02", 30), ...boot("52:54:00:00:00:03", 20)];
    // A node that only has its lease has no segment and does not count.
    events.push({ type: "dhcp-ack", at: at(0), mac: "52:54:00:00:00:04", ip: "10.0.0.4" });
    const summary = summarizeFleetTimeline(events.reduce(reduceFleet, EMPTY_FLEET));
    expect(summary.nodes).toBe(3);
    expect(summary.phases.map((p) => p.phase)).toEqual(["script", "kernel", "image-start", "image-end", "hello", "upload"]);
    expect(summary.phases.find((p) => p.phase === "image-end")).toEqual({
      phase: "image-end",
      nodes: 3,
      median_seconds: 20,
      max_seconds: 30,
      max_mac: "52:54:00:00:00:02",
    });
    expect(summary.phases.find((p) => p.phase === "upload")).toMatchObject({ median_seconds: 30, max_seconds: 30, max_mac: "52:54:00:00:00:01" });
    expect(summary.total).toEqual({ median_seconds: 70, max_seconds: 80 });
  });

  it("takes the mean of the middle two for an even count, and is empty for a fleet without timelines", () => {
    const events = [...boot("52:54:00:00:00:01", 10), ...boot("52:54:00:00:00:02", 15)];
    expect(summarizeFleetTimeline(events.reduce(reduceFleet, EMPTY_FLEET)).phases.find((p) => p.phase === "image-end")!.median_seconds).toBe(12.5);
    expect(summarizeFleetTimeline(EMPTY_FLEET)).toEqual({ nodes: 0, phases: [], total: null });
  });
});
