import { describe, expect, it } from "vitest";
import { syntheticInventory } from "../inventory/synthetic.js";
import { EMPTY_FLEET, reduceFleet } from "../model/node-state.js";
import { analyzeFleet } from "./classes.js";
import { buildFleetView, memoryLayout, nicSummary } from "./fleet-view.js";

describe("fleet view", () => {
  it("joins boot state and inventories, one row per node, with a summary", () => {
    const inv = syntheticInventory(3);
    inv.disks.forEach((disk) => (disk.smart_passed = true));
    const withInventory = "52:54:00:00:00:01";
    const booting = "52:54:00:00:00:02";
    const fleet = [
      { type: "dhcp-ack", at: "2026-11-21T12:00:00.000Z", mac: withInventory, ip: "10.0.0.5", hostname: "lease-name" },
      { type: "upload-stored", at: "2026-11-21T12:01:00.000Z", mac: withInventory, uploadId: "x" },
      { type: "dhcp-ack", at: "2026-11-21T12:00:00.000Z", mac: booting, ip: "10.0.0.6" },
      { type: "error", at: "2026-11-21T12:02:00.000Z", mac: booting, message: "kernel download failed" },
    ].reduce((state, event) => reduceFleet(state, event as never), EMPTY_FLEET);
    const inventories = new Map([
      [withInventory, inv],
      ["52:54:00:00:00:03", inv],
    ]);
    const view = buildFleetView(fleet, inventories, analyzeFleet(inventories));
    expect(view.rows.map((r) => r.mac)).toEqual([withInventory, booting, "52:54:00:00:00:03"]);
    expect(view.rows[0]).toMatchObject({
      name: inv.hostname,
      ip: "10.0.0.5",
      phase: "uploaded",
      vendor: inv.system_vendor.manufacturer,
      has_inventory: true,
      outlier: null,
    });
    expect(view.rows[1]).toMatchObject({ name: null, phase: "error", last_error: "kernel download failed", has_inventory: false, class_id: null, memory: "" });
    expect(view.rows[2]).toMatchObject({ phase: "unknown", has_inventory: true });
    expect(view.summary).toMatchObject({ total: 3, inventories: 2, outliers: 0, classes: 1 });
    expect(view.summary.by_phase).toMatchObject({ uploaded: 1, error: 1, unknown: 1, leased: 0 });
  });

  it("summarizes DIMMs and NICs", () => {
    const inv = syntheticInventory(3);
    inv.memory.dimms = [
      { ...inv.memory.dimms[0]!, size_bytes: 16 * 1024 ** 3 },
      { ...inv.memory.dimms[0]!, size_bytes: 16 * 1024 ** 3 },
      { ...inv.memory.dimms[0]!, size_bytes: 32 * 1024 ** 3 },
      { ...inv.memory.dimms[0]!, size_bytes: null },
    ];
    expect(memoryLayout(inv)).toBe("2×16GiB+1×32GiB");
    inv.interfaces = [
      { ...inv.interfaces[0]!, name: "eno1", driver: "ixgbe", speed_mbps: 10000 },
      { ...inv.interfaces[0]!, name: "lo", mac_address: "00:00:00:00:00:00" },
    ];
    expect(nicSummary(inv)).toBe("eno1 ixgbe 10000Mb/s");
  });
});
