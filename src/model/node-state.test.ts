import { describe, expect, it } from "vitest";
import { EMPTY_FLEET, imageDelivery, reduceFleet, swarmStatus, type FleetState, type NodeEvent } from "./node-state.js";

const MAC = "52:54:00:00:00:01";
const t = (second: number) => `2026-11-21T10:00:${String(second).padStart(2, "0")}.000Z`;

function replay(events: NodeEvent[], from: FleetState = EMPTY_FLEET): FleetState {
  return events.reduce(reduceFleet, from);
}

const fullBoot: NodeEvent[] = [
  { type: "dhcp-offer", at: t(0), mac: MAC, ip: "10.20.0.150" },
  { type: "dhcp-ack", at: t(1), mac: MAC, ip: "10.20.0.150" },
  { type: "tftp-sent", at: t(2), ip: "10.20.0.150", file: "ipxe.efi" },
  { type: "dhcp-ack", at: t(3), mac: MAC, ip: "10.20.0.150" },
  { type: "script-served", at: t(4), mac: MAC },
  { type: "kernel-sent", at: t(5), mac: MAC },
  { type: "initrd-sent", at: t(6), mac: MAC },
  // dracut's own DHCP: must not send the node back to `leased`
  { type: "dhcp-ack", at: t(7), mac: MAC, ip: "10.20.0.150", hostname: "node-1" },
  { type: "image-bytes", at: t(8), mac: MAC, bytes: 1000 },
  { type: "image-bytes", at: t(9), mac: MAC, bytes: 2000 },
  { type: "agent-hello", at: t(10), mac: MAC },
  { type: "upload-stored", at: t(11), mac: MAC, uploadId: "u1" },
  { type: "powered-off", at: t(12), mac: MAC },
];

describe("swarmStatus", () => {
  const other = "52:54:00:00:00:02";
  const now = new Date(t(40));
  it("is done only when no node seen lately is still on its way to its image and no wake is pending", () => {
    const fetching = replay([...fullBoot.slice(0, 8), { type: "torrent-sent", at: t(8), mac: MAC, image: "debian-12", isoBytes: 10 }]);
    expect(swarmStatus(fetching, "debian-12", now)).toEqual({ image: "debian-12", fetching: 1, booting: 1, wakePending: 0, done: false });
    // Another image's torrent: not fetching this one, but still booting.
    expect(swarmStatus(fetching, "rocky-9", now)).toMatchObject({ fetching: 0, booting: 1, done: false });
    const booted = replay([{ type: "agent-hello", at: t(10), mac: MAC }], fetching);
    expect(swarmStatus(booted, "debian-12", now)).toEqual({ image: "debian-12", fetching: 0, booting: 0, wakePending: 0, done: true });
    // A node that only has its lease yet may still fetch: not done.
    const leased = replay([{ type: "dhcp-ack", at: t(30), mac: other, ip: "10.20.0.151" }], booted);
    expect(swarmStatus(leased, "debian-12", now)).toMatchObject({ fetching: 0, booting: 1, done: false });
    // …unless it has not been seen for ten minutes (a stray lease).
    expect(swarmStatus(leased, "debian-12", new Date(Date.parse(t(30)) + 11 * 60_000))).toMatchObject({ booting: 0, done: true });
    // A paced wake's next batch still to come: not done.
    expect(swarmStatus(booted, "debian-12", now, 3)).toMatchObject({ wakePending: 3, done: false });
    // Off, uploaded and error nodes do not hold it open.
    expect(swarmStatus(replay(fullBoot), "debian-12", now).done).toBe(true);
  });
});

describe("node state reducer", () => {
  it("a torrent boot: the master's web-seed bytes, and the rest from peers once the agent said hello; a new boot forgets it", () => {
    const torrentBoot: NodeEvent[] = [
      ...fullBoot.slice(0, 8),
      { type: "torrent-sent", at: t(8), mac: MAC, image: "debian-12", isoBytes: 10_000 },
      { type: "image-bytes", at: t(9), mac: MAC, bytes: 2500 },
    ];
    const fetching = replay(torrentBoot).nodes[MAC]!;
    expect(fetching).toMatchObject({ phase: "image", image: "debian-12", torrent: { image: "debian-12", isoBytes: 10_000 }, imageBytes: 2500 });
    // Before the hello the rest may still be on its way: not counted as from peers yet.
    expect(imageDelivery(fetching)).toEqual({ via: "torrent", fromMasterBytes: 2500, fromPeersBytes: null, isoBytes: 10_000 });
    expect(fetching.timeline?.map((e) => [e.phase, e.detail ?? e.bytes])).toContainEqual(["image-start", "torrent"]);
    const booted = replay([{ type: "agent-hello", at: t(10), mac: MAC }], replay(torrentBoot)).nodes[MAC]!;
    expect(imageDelivery(booted)).toEqual({ via: "torrent", fromMasterBytes: 2500, fromPeersBytes: 7500, isoBytes: 10_000 });
    // A web seed that sent more than the image (a piece fetched twice) gives 0 from peers, never below.
    const twice = replay(
      [{ type: "image-bytes", at: t(11), mac: MAC, bytes: 9000 }],
      replay([{ type: "agent-hello", at: t(10), mac: MAC }], replay(torrentBoot)),
    ).nodes[MAC]!;
    expect(imageDelivery(twice).fromPeersBytes).toBe(0);
    // The next boot over HTTP: no torrent any more.
    const again = replay([...fullBoot.slice(10), { type: "dhcp-offer", at: t(30), mac: MAC, ip: "10.20.0.150" }, ...fullBoot.slice(2, 10)], replay(torrentBoot))
      .nodes[MAC]!;
    expect(again.boots).toBe(2);
    expect(imageDelivery(again)).toEqual({ via: "http", fromMasterBytes: 3000, fromPeersBytes: null, isoBytes: null });
    expect(imageDelivery(replay(fullBoot.slice(0, 4)).nodes[MAC]!)).toEqual({ via: null, fromMasterBytes: 0, fromPeersBytes: null, isoBytes: null });
  });

  it("records the image a boot booted: planned with the script, confirmed by the kernel fetched; a new boot forgets it", () => {
    const first = replay([
      { type: "dhcp-ack", at: t(1), mac: MAC, ip: "10.20.0.150" },
      { type: "script-served", at: t(2), mac: MAC, image: "rocky-9" },
    ]);
    expect(first.nodes[MAC]!.image).toBe("rocky-9");
    const kernel = replay([{ type: "kernel-sent", at: t(3), mac: MAC, image: "debian-12" }], first);
    expect(kernel.nodes[MAC]!.image).toBe("debian-12");
    // Rebooted: iPXE fetches its script again (a new cycle); a GRUB script event names no image.
    const again = replay([{ type: "script-served", at: t(20), mac: MAC }], kernel);
    expect([again.nodes[MAC]!.boots, again.nodes[MAC]!.image]).toEqual([2, undefined]);
  });

  it("walks leased → ipxe → kernel → image → agent → uploaded → off with first-reached times", () => {
    const node = replay(fullBoot).nodes[MAC]!;
    expect(node.phase).toBe("off");
    expect(node.phases).toEqual({
      leased: t(0),
      ipxe: t(2),
      kernel: t(5),
      image: t(8),
      agent: t(10),
      uploaded: t(11),
      off: t(12),
    });
    expect(node).toMatchObject({ boots: 1, uploads: 1, lastUploadId: "u1", imageBytes: 3000, hostname: "node-1", ip: "10.20.0.150", lastSeen: t(12) });
  });

  it("phase after each event", () => {
    const phases: string[] = [];
    fullBoot.reduce((state, event) => {
      const next = reduceFleet(state, event);
      phases.push(next.nodes[MAC]!.phase);
      return next;
    }, EMPTY_FLEET);
    expect(phases).toEqual(["leased", "leased", "ipxe", "ipxe", "ipxe", "kernel", "kernel", "kernel", "image", "image", "agent", "uploaded", "off"]);
  });

  it("starts a new cycle when an off node boots again, keeping the upload count", () => {
    const node = replay([...fullBoot, { type: "dhcp-offer", at: t(30), mac: MAC, ip: "10.20.0.151" }]).nodes[MAC]!;
    expect(node).toMatchObject({ phase: "leased", boots: 2, uploads: 1, imageBytes: 0, ip: "10.20.0.151" });
    expect(node.phases).toEqual({ leased: t(30) });
  });

  it("treats iPXE fetched again after the kernel ran as a reboot", () => {
    const node = replay([...fullBoot.slice(0, 9), { type: "script-served", at: t(40), mac: MAC }]).nodes[MAC]!;
    expect(node).toMatchObject({ phase: "ipxe", boots: 2 });
    expect(node.phases).toEqual({ ipxe: t(40) });
  });

  it("keeps a node that stays up at `uploaded` through lease renewals", () => {
    const node = replay([...fullBoot.slice(0, 12), { type: "dhcp-ack", at: t(50), mac: MAC, ip: "10.20.0.150" }]).nodes[MAC]!;
    expect(node.phase).toBe("uploaded");
    expect(node.boots).toBe(1);
  });

  it("records errors and recovers on the next boot", () => {
    let state = replay([...fullBoot.slice(0, 6), { type: "error", at: t(20), mac: MAC, message: "initrd download failed", code: "HTTP_404" }]);
    expect(state.nodes[MAC]).toMatchObject({ phase: "error", lastError: { at: t(20), message: "initrd download failed", code: "HTTP_404" } });
    expect(state.nodes[MAC]!.phases.kernel).toBe(t(5));
    state = replay([{ type: "dhcp-ack", at: t(21), mac: MAC, ip: "10.20.0.150" }], state);
    expect(state.nodes[MAC]).toMatchObject({ phase: "leased", boots: 2, lastError: { message: "initrd download failed" } });
  });

  it("ignores TFTP from an IP with no lease, attributes it after one", () => {
    const tftp: NodeEvent = { type: "tftp-sent", at: t(1), ip: "10.20.0.9", file: "undionly.kpxe" };
    expect(reduceFleet(EMPTY_FLEET, tftp)).toBe(EMPTY_FLEET);
    const state = replay([{ type: "dhcp-ack", at: t(0), mac: "52:54:00:00:00:09", ip: "10.20.0.9" }, tftp]);
    expect(state.nodes["52:54:00:00:00:09"]!.phase).toBe("ipxe");
  });

  it("picks up a node first seen mid-boot (master restarted) at that phase", () => {
    const node = replay([{ type: "agent-hello", at: t(5), mac: "52:54:00:00:00:0A" }]).nodes["52:54:00:00:00:0a"]!;
    expect(node).toMatchObject({ phase: "agent", boots: 1, phases: { agent: t(5) } });
  });

  it("does not mutate the previous state", () => {
    const before = replay(fullBoot.slice(0, 3));
    const snapshot = JSON.stringify(before);
    replay(fullBoot.slice(3), before);
    expect(JSON.stringify(before)).toBe(snapshot);
  });
});
