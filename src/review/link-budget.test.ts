import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EMPTY_FLEET, reduceFleet, type NodeEvent } from "../model/node-state.js";
import {
  ASSUMED_LINK_MBIT,
  gatherLinkBudget,
  measuredPeerSharing,
  NBD_READ_FRACTION,
  peerSharingSpeedup,
  planLinkBudget,
  readLinkSpeed,
} from "./link-budget.js";

/** The diet ISO's size (docs/recipes.md: 327.0 MB). */
const ISO = 327_000_000;

describe("planLinkBudget", () => {
  it("is nodes × image ÷ link speed per transport, the nbd share measured, the peer-sharing ideal N / log2 N", () => {
    const budget = planLinkBudget({
      nodes: { count: 150, source: "fleet.expectedNodes" },
      image: { label: "debian-12", isoBytes: ISO, source: "iso" },
      link: { interface: "eno1", mbit: 1000 },
    });
    // 150 × 327 MB at 125 MB/s = 392.4 s; nbd 0.24 of it = 94.2 s; 150 / log2 150 = 20.75.
    expect(budget.transports.map((t) => [t.transport, t.seconds, t.peerSharingSeconds])).toEqual([
      ["http", 392.4, 18.9],
      ["nbd", 94.2, 4.5],
    ]);
    expect(budget.peerSharing.speedup).toBe(20.75);
    expect(budget).toMatchInlineSnapshot(`
      {
        "image": {
          "isoBytes": 327000000,
          "label": "debian-12",
          "source": "iso",
        },
        "link": {
          "interface": "eno1",
          "mbit": 1000,
          "note": "eno1 reports 1000 Mbit/s",
          "source": "sysfs",
        },
        "nodes": {
          "count": 150,
          "source": "fleet.expectedNodes",
        },
        "notes": [
          "at line rate: protocol overhead, kernel and initrd not counted",
        ],
        "peerSharing": {
          "enabled": null,
          "measured": {
            "arrivedNodes": 0,
            "fromMasterBytes": 0,
            "fromPeersBytes": 0,
            "torrentNodes": 0,
          },
          "note": "estimate: peers sharing the image (peer assist, BitTorrent), ideally N / log2 N faster",
          "speedup": 20.75,
        },
        "transports": [
          {
            "bytesPerNode": 327000000,
            "fleetBytes": 49050000000,
            "fraction": 1,
            "peerSharingSeconds": 18.9,
            "seconds": 392.4,
            "transport": "http",
            "what": "the whole ISO (root=live:http)",
          },
          {
            "bytesPerNode": 78480000,
            "fleetBytes": 11772000000,
            "fraction": 0.24,
            "peerSharingSeconds": 4.5,
            "seconds": 94.2,
            "transport": "nbd",
            "what": "the blocks read, 0.24 of the ISO as measured in the lab",
          },
        ],
      }
    `);
  });

  it("scales with the link: 10 Gbit/s is ten times faster than 1", () => {
    const at = (mbit: number) =>
      planLinkBudget({ nodes: { count: 40, source: "nodes known" }, image: { label: "x", isoBytes: ISO, source: "iso" }, link: { interface: "eno1", mbit } })
        .transports[0]!.seconds;
    expect(at(1000)).toBe(104.6);
    expect(at(10_000)).toBe(10.5);
  });

  it("assumes 1 Gbit/s and says so when the interface gives no speed or is not known", () => {
    const noSpeed = planLinkBudget({
      nodes: { count: 10, source: "nodes known" },
      image: { label: "x", isoBytes: ISO, source: "iso" },
      link: { interface: "br0" },
    });
    expect(noSpeed.link).toEqual({ interface: "br0", mbit: ASSUMED_LINK_MBIT, source: "assumed", note: "assumed 1000 Mbit/s: br0 reports no speed" });
    expect(noSpeed.transports[0]!.seconds).toBe(26.2);
    const unknown = planLinkBudget({ nodes: { count: 10, source: "nodes known" }, image: { label: "x", isoBytes: ISO, source: "iso" }, link: { mbit: -1 } });
    expect(unknown.link).toMatchObject({ interface: null, source: "assumed", note: "assumed 1000 Mbit/s: the boot interface is not known" });
  });

  it("gives no figures without the image's size, and says why", () => {
    const budget = planLinkBudget({ nodes: { count: 0, source: "nodes known" }, link: {} });
    expect(budget.transports).toEqual([]);
    expect(budget.image).toBeNull();
    expect(budget.notes).toEqual([
      "at line rate: protocol overhead, kernel and initrd not counted",
      "the served image's size is not known to the review and no node fetched one yet: no figures",
      "no nodes known yet and fleet.expectedNodes not set",
    ]);
  });
});

describe("measuredPeerSharing", () => {
  it("sums the torrent nodes' bytes from the master and from peers, counting only images that arrived", () => {
    const a = "52:54:00:00:00:0a";
    const b = "52:54:00:00:00:0b";
    const c = "52:54:00:00:00:0c";
    const at = "2026-12-07T10:00:00.000Z";
    const events: NodeEvent[] = [
      // a: torrent, 1000 of 10000 from the web seed, booted.
      { type: "script-served", at, mac: a },
      { type: "torrent-sent", at, mac: a, image: "debian-12", isoBytes: 10_000 },
      { type: "image-bytes", at, mac: a, bytes: 1000 },
      { type: "agent-hello", at, mac: a },
      // b: torrent, still fetching.
      { type: "script-served", at, mac: b },
      { type: "torrent-sent", at, mac: b, image: "debian-12", isoBytes: 10_000 },
      { type: "image-bytes", at, mac: b, bytes: 4000 },
      // c: over HTTP.
      { type: "script-served", at, mac: c },
      { type: "image-bytes", at, mac: c, bytes: 10_000 },
      { type: "agent-hello", at, mac: c },
    ];
    expect(measuredPeerSharing(events.reduce(reduceFleet, EMPTY_FLEET))).toEqual({
      torrentNodes: 2,
      arrivedNodes: 1,
      fromMasterBytes: 1000,
      fromPeersBytes: 9000,
    });
    expect(measuredPeerSharing(EMPTY_FLEET)).toEqual({ torrentNodes: 0, arrivedNodes: 0, fromMasterBytes: 0, fromPeersBytes: 0 });
  });
});

describe("peerSharingSpeedup", () => {
  it("is N / log2 N, and 1 for a single node", () => {
    expect(peerSharingSpeedup(0)).toBe(1);
    expect(peerSharingSpeedup(1)).toBe(1);
    expect(peerSharingSpeedup(2)).toBe(2);
    expect(peerSharingSpeedup(1024)).toBe(102.4);
  });
  it("keeps the measured nbd share", () => {
    expect(NBD_READ_FRACTION).toBe(0.24);
  });
});

describe("readLinkSpeed and gatherLinkBudget", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "recon-link-budget-"));
    for (const [name, speed] of [
      ["eno1", "10000\n"],
      ["br0", "-1\n"],
      ["eno2", "garbage\n"],
    ] as const) {
      await mkdir(join(root, "sys/class/net", name), { recursive: true });
      await writeFile(join(root, "sys/class/net", name, "speed"), speed);
    }
    await mkdir(join(root, "isos"));
    await writeFile(join(root, "isos", "debian-12.iso"), Buffer.alloc(1_000_000));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("reads Mbit/s from sysfs; -1, garbage, absent and odd names are unknown", async () => {
    expect(await readLinkSpeed("eno1", root)).toBe(10_000);
    expect(await readLinkSpeed("br0", root)).toBeUndefined();
    expect(await readLinkSpeed("eno2", root)).toBeUndefined();
    expect(await readLinkSpeed("eth9", root)).toBeUndefined();
    expect(await readLinkSpeed("../../etc", root)).toBeUndefined();
  });

  it("takes the ISO's size and the link's speed; without fleet.expectedNodes, the nodes the master knows", async () => {
    const events: NodeEvent[] = ["52:54:00:00:00:01", "52:54:00:00:00:02"].map((mac) => ({
      type: "dhcp-ack",
      at: "2026-12-03T06:00:00.000Z",
      mac,
      ip: "10.0.0.9",
    }));
    const fleet = events.reduce(reduceFleet, EMPTY_FLEET);
    const image = { label: "debian-12", isoPath: join(root, "isos", "debian-12.iso") };
    const known = await gatherLinkBudget({ image, bootInterface: "eno1", sysRoot: root }, fleet);
    expect(known.nodes).toEqual({ count: 2, source: "nodes known" });
    expect(known.image).toEqual({ label: "debian-12", isoBytes: 1_000_000, source: "iso" });
    expect(known.link).toMatchObject({ mbit: 10_000, source: "sysfs" });
    // 2 × 1 MB at 1250 MB/s.
    expect(known.transports[0]!.seconds).toBe(0);
    const expected = await gatherLinkBudget(
      { expectedNodes: 500, image: { ...image, isoPath: join(root, "missing.iso") }, bootInterface: "br0", sysRoot: root },
      fleet,
    );
    expect(expected.nodes).toEqual({ count: 500, source: "fleet.expectedNodes" });
    expect(expected.image).toBeNull();
    expect(expected.link.source).toBe("assumed");
  });

  it("without the ISO, takes the most bytes one node fetched of its image, and says so", async () => {
    const at = "2026-12-03T06:00:00.000Z";
    const events: NodeEvent[] = [
      { type: "dhcp-ack", at, mac: "52:54:00:00:00:01", ip: "10.0.0.1" },
      { type: "script-served", at, mac: "52:54:00:00:00:01", image: "debian-12" },
      { type: "image-bytes", at, mac: "52:54:00:00:00:01", bytes: 300_000_000 },
      { type: "image-bytes", at, mac: "52:54:00:00:00:01", bytes: 27_000_000 },
      { type: "dhcp-ack", at, mac: "52:54:00:00:00:02", ip: "10.0.0.2" },
      { type: "image-bytes", at, mac: "52:54:00:00:00:02", bytes: 100_000_000 },
    ];
    const budget = await gatherLinkBudget({}, events.reduce(reduceFleet, EMPTY_FLEET));
    expect(budget.image).toEqual({ label: "debian-12", isoBytes: ISO, source: "fetched" });
    expect(budget.nodes).toEqual({ count: 2, source: "nodes known" });
    expect(budget.link).toMatchObject({ interface: null, source: "assumed" });
    // 2 × 327 MB at 125 MB/s.
    expect(budget.transports[0]!.seconds).toBe(5.2);
    expect(budget.notes).toContain("image size: the most bytes one node fetched over HTTP in its current boot (the master did not name its ISO)");
  });
});
