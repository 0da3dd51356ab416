import { describe, expect, it } from "vitest";
import { reduceNode, type NodeEvent, type NodeState } from "./node-state.js";
import { MAX_TIMELINE_ENTRIES, renderPhaseTable, timelineSegments } from "./node-timeline.js";

const MAC = "52:54:00:12:34:56";
const at = (s: number) => new Date(Date.UTC(2026, 11, 2, 12, 0, s)).toISOString();

/** One BIOS peer's boot as the master observes it, in order (pure logic: the events the reducer is fed). */
const BOOT: NodeEvent[] = [
  { type: "dhcp-offer", at: at(0), mac: MAC, ip: "10.77.0.100" },
  { type: "dhcp-ack", at: at(1), mac: MAC, ip: "10.77.0.100" },
  { type: "tftp-sent", at: at(2), ip: "10.77.0.100", file: "undionly.kpxe" },
  { type: "dhcp-ack", at: at(4), mac: MAC, ip: "10.77.0.100" },
  { type: "script-served", at: at(5), mac: MAC, image: "debian-12" },
  { type: "kernel-sent", at: at(7), mac: MAC, image: "debian-12" },
  { type: "initrd-sent", at: at(9), mac: MAC },
  { type: "image-bytes", at: at(20), mac: MAC, bytes: 100 * 1024 * 1024 },
  { type: "image-bytes", at: at(25), mac: MAC, bytes: 300 * 1024 * 1024 },
  { type: "agent-hello", at: at(60), mac: MAC },
  { type: "upload-stored", at: at(70), mac: MAC, uploadId: "u1", collectedAt: at(68) },
  { type: "powered-off", at: at(80), mac: MAC },
] as NodeEvent[];

const run = (events: NodeEvent[], start?: NodeState) => events.reduce<NodeState | undefined>((node, event) => reduceNode(node, MAC, event), start)!;

describe("node timeline", () => {
  it("records each phase once per boot, sums the image's bytes and prints the phase table", async () => {
    const node = run(BOOT);
    expect(node.timeline!.map((e) => e.phase)).toEqual([
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
    ]);
    const end = node.timeline!.find((e) => e.phase === "image-end")!;
    expect(end.bytes).toBe(400 * 1024 * 1024);
    expect(end.rate).toBe(Math.round((400 * 1024 * 1024) / 5));
    await expect(renderPhaseTable(node.timeline!)).toMatchFileSnapshot("__snapshots__/phase-table.txt");
  });

  it("starts again with the next boot and stays bounded", () => {
    const twice = run(BOOT, run(BOOT));
    expect(twice.boots).toBe(2);
    expect(twice.timeline!.filter((e) => e.phase === "lease")).toHaveLength(1);
    const errors = Array.from({ length: 100 }, (_, i): NodeEvent => ({ type: "error", at: at(90), mac: MAC, message: `e${i}` }));
    expect(run(errors, twice).timeline!.length).toBe(MAX_TIMELINE_ENTRIES);
  });

  it("keeps the agent's collection end on the master's clock, or places it after hello when the agent's clock is off", () => {
    const upload = (collectedAt: string, collectionSeconds?: number): NodeEvent => ({
      type: "upload-stored",
      at: at(70),
      mac: MAC,
      uploadId: "u1",
      collectedAt,
      collectionSeconds,
    });
    const collected = (event: NodeEvent) => run([...BOOT.slice(0, 10), event]).timeline!.find((e) => e.phase === "collected");
    expect(collected(upload(at(68), 8))).toEqual({ phase: "collected", at: at(68), detail: "8 s" });
    // An unset RTC: the agent thinks it is 2020.
    expect(collected(upload("2020-01-01T00:00:08.000Z", 8))).toEqual({
      phase: "collected",
      at: at(68),
      detail: `8 s after hello; agent clock off by ${Math.round((Date.parse("2020-01-01T00:00:08.000Z") - Date.parse(at(68))) / 1000)} s`,
    });
    // Never after the upload that carried it; and left out when there is nothing to place it by.
    expect(collected(upload(at(200), 600))?.at).toBe(at(70));
    expect(collected(upload(at(200)))).toBeUndefined();
  });

  it("loads a node written before the timeline existed", () => {
    const old = run(BOOT.slice(0, 3));
    delete old.timeline;
    expect(reduceNode(old, MAC, BOOT[4]!).timeline!.map((e) => e.phase)).toEqual(["script"]);
  });

  it("cuts the boot into segments named after the phase each waits for", () => {
    const segments = timelineSegments(run(BOOT).timeline!);
    expect(segments.map((s) => [s.phase, s.seconds])).toEqual([
      ["first-stage", 2],
      ["script", 3],
      ["kernel", 2],
      ["initrd", 2],
      ["image-start", 11],
      ["image-end", 5],
      ["hello", 35],
      ["collected", 8],
      ["upload", 2],
      ["off", 10],
    ]);
    expect(segments[5]).toMatchObject({ from: at(20), to: at(25), bytes: 400 * 1024 * 1024, rate: Math.round((400 * 1024 * 1024) / 5) });
    expect(timelineSegments([])).toEqual([]);
    expect(
      timelineSegments([
        { phase: "lease", at: at(5) },
        { phase: "script", at: at(1) },
      ])[0]!.seconds,
    ).toBe(0);
  });
});
