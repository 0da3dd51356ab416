/**
 * A node's boot timeline over the master's HTTP API (issue #14 item 3), in the style of
 * ui-api.test.ts: createApp with the review mounted, on 127.0.0.1, over a store holding the sample
 * fleet. One node's boot events are fed as the master's log and routes would (times in the past,
 * so the test is exact), then a real captured raw upload goes through the upload API with its
 * manifest.json packed at a known time: the timeline's "collected" is that time, read from the
 * stored tar, and `GET /api/v1/nodes/<mac>` serves the whole timeline with its segments.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TIMELINE_PHASES, type TimelineEntry, type TimelineSegment } from "../../src/model/node-timeline.js";
import { issueToken } from "../../src/model/peer-token.js";
import type { FleetTimeline } from "../../src/review/fleet-timeline.js";
import { sampleEvents, sampleFleet } from "../../src/review/sample-fleet.js";
import { readFixtureFiles } from "../fixtures/inventory/fixtures.js";
import { rawRequest } from "../helpers/http-request.js";
import { startReviewMaster, type ReviewMaster } from "../helpers/review-master.js";
import { writeReviewStore } from "../helpers/review-store.js";
import { rawTarGz } from "../helpers/tarballs.js";

const MAC = "52:54:00:5e:00:77";
const DIR = MAC.replace(/:/g, "-");
const NETWORK = { "x-real-ip": "10.9.9.9" };

let work: string;
let master: ReviewMaster;
const nodes = sampleFleet();
const get = (path: string, headers: Record<string, string> = {}) => rawRequest(master.url, { path, headers });

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-timeline-api-"));
  const dataDir = join(work, "data");
  await writeReviewStore(dataDir, nodes, sampleEvents(nodes));
  master = await startReviewMaster({ dataDir, work, behindNginx: true, rescanDelaysMs: [50, 300] });
});

afterAll(async () => {
  await master?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("node timeline API", () => {
  it("serves every phase with its time, the image's bytes and rate, and the collection the upload reports", async () => {
    // Two minutes ago, on a whole second (tar keeps whole seconds).
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 120_000;
    const at = (s: number) => new Date(t0 + s * 1000).toISOString();
    for (const event of [
      { type: "dhcp-ack", at: at(0), mac: MAC, ip: "10.9.0.77" },
      { type: "tftp-sent", at: at(1), ip: "10.9.0.77", file: "undionly.kpxe" },
      { type: "script-served", at: at(3), mac: MAC, image: "debian-12" },
      { type: "kernel-sent", at: at(4), mac: MAC, image: "debian-12" },
      { type: "initrd-sent", at: at(6), mac: MAC },
      { type: "image-bytes", at: at(10), mac: MAC, bytes: 100 * 1024 * 1024 },
      { type: "image-bytes", at: at(20), mac: MAC, bytes: 300 * 1024 * 1024 },
      { type: "agent-hello", at: at(30), mac: MAC },
    ] as const) {
      await master.emit(event);
    }
    // The agent started collecting at +31 s and wrote manifest.json at +60 s (its mtime in the tar).
    const files = readFixtureFiles("vm-bios-dell");
    const manifest = { ...(JSON.parse(files.get("manifest.json")!.toString()) as object), collected_at: at(31), boot_mac: MAC };
    files.set("manifest.json", Buffer.from(JSON.stringify(manifest)));
    const body = rawTarGz(
      [...files].map(([path, content]) => ({ path, body: content, mtime: new Date(path === "manifest.json" ? t0 + 60_000 : t0 + 59_000) })),
    );
    const token = issueToken(master.secret, MAC, "timelinenonce");
    const upload = await rawRequest(master.url, {
      method: "POST",
      path: `/api/v1/nodes/${DIR}/inventory`,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/gzip" },
      body,
    });
    expect(upload.status).toBe(201);

    // Open like the rest of GET /api/v1/nodes/<mac>: boot state only, from the lab network too.
    const res = await get(`/api/v1/nodes/${DIR}`, NETWORK);
    expect(res.status).toBe(200);
    const node = res.json() as unknown as { timeline: TimelineEntry[]; timeline_segments: TimelineSegment[]; node: { timeline: TimelineEntry[] } };
    // Every phase of a boot up to the upload, in order (no power-off yet, no error).
    expect(node.timeline.map((e) => e.phase)).toEqual(TIMELINE_PHASES.filter((p) => p !== "off" && p !== "error"));
    expect(node.timeline).toEqual(node.node.timeline);
    expect(node.timeline.find((e) => e.phase === "image-end")).toEqual({
      phase: "image-end",
      at: at(20),
      bytes: 400 * 1024 * 1024,
      rate: (400 * 1024 * 1024) / 10,
    });
    expect(node.timeline.find((e) => e.phase === "collected")).toEqual({ phase: "collected", at: at(60), detail: "29 s" });
    const upload_ = node.timeline.at(-1)!;
    expect(upload_.detail).toBe((upload.json() as { id: string }).id);
    expect(node.timeline_segments.map((s) => [s.phase, s.seconds]).slice(0, 8)).toEqual([
      ["first-stage", 1],
      ["script", 2],
      ["kernel", 1],
      ["initrd", 2],
      ["image-start", 4],
      ["image-end", 10],
      ["hello", 10],
      ["collected", 30],
    ]);
    expect(node.timeline_segments.find((s) => s.phase === "image-end")).toMatchObject({ bytes: 400 * 1024 * 1024, rate: (400 * 1024 * 1024) / 10 });

    // The fleet's minutes: this node is the only one with a collection and an image.
    const fleet = (await get("/api/v1/fleet/timeline")).json() as unknown as FleetTimeline;
    expect(fleet.nodes).toBe(nodes.length + 1);
    expect(fleet.phases.find((p) => p.phase === "collected")).toEqual({ phase: "collected", nodes: 1, median_seconds: 30, max_seconds: 30, max_mac: MAC });
    expect(fleet.phases.find((p) => p.phase === "image-end")).toMatchObject({ nodes: 1, max_mac: MAC, max_seconds: 10 });
    // Guarded as the rest of the review.
    expect((await get("/api/v1/fleet/timeline", NETWORK)).status).toBe(401);
  });
});
