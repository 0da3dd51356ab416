import { describe, expect, it } from "vitest";
import type { Inventory } from "../inventory/schema.js";
import { syntheticInventory } from "../inventory/synthetic.js";
import { analyzeFleet, compareVersions, describeReason, type OutlierReason } from "./classes.js";

/** `count` copies of one synthetic machine (same platform and layout), each with its own MAC and serial. */
function rack(seed: number, count: number, base: number): Map<string, Inventory> {
  const template = syntheticInventory(seed);
  const nodes = new Map<string, Inventory>();
  for (let i = 0; i < count; i++) {
    const mac = `52:54:00:aa:${base.toString(16).padStart(2, "0")}:${i.toString(16).padStart(2, "0")}`;
    const inv = structuredClone(template);
    inv.boot_mac = mac;
    inv.system_vendor.serial_number = `SN-${base}-${i}`;
    inv.disks.forEach((disk) => (disk.smart_passed = true));
    inv.memory.correctable_errors = 0;
    inv.memory.uncorrectable_errors = 0;
    nodes.set(mac, inv);
  }
  return nodes;
}

const kinds = (reasons: OutlierReason[]) => reasons.map((r) => r.kind);

describe("analyzeFleet", () => {
  it("groups identical machines into one class with no outliers", () => {
    const fleet = rack(3, 5, 1);
    const analysis = analyzeFleet(fleet);
    expect(analysis.classes).toHaveLength(1);
    expect(analysis.classes[0]!.members).toEqual([...fleet.keys()].sort());
    expect(analysis.classes[0]!.outliers).toEqual([]);
    expect(Object.values(analysis.nodes).every((n) => n.reasons.length === 0)).toBe(true);
  });

  it("keeps different platforms in different classes, the larger first, with stable ids", () => {
    const a = rack(3, 2, 1);
    const b = rack(5, 4, 2);
    expect(syntheticInventory(3).system_vendor.product_name).not.toBe(syntheticInventory(5).system_vendor.product_name);
    const analysis = analyzeFleet(new Map([...a, ...b]));
    expect(analysis.classes.map((c) => c.members.length)).toEqual([4, 2]);
    expect(analysis.classes[0]!.signature.product_name).toBe(syntheticInventory(5).system_vendor.product_name);
    expect(analyzeFleet(new Map([...b, ...a])).classes.map((c) => c.id)).toEqual(analysis.classes.map((c) => c.id));
    expect(analysis.classes[0]!.id).toMatch(/^c-[0-9a-f]{10}$/);
  });

  it("flags a missing DIMM, a smaller disk, older BIOS and NIC firmware and a failed SMART check", () => {
    const fleet = rack(3, 6, 1);
    const macs = [...fleet.keys()];
    const template = syntheticInventory(3);
    const dimm = fleet.get(macs[1]!)!;
    const removed = dimm.memory.dimms.pop()!;
    const disk = fleet.get(macs[2]!)!;
    disk.disks[0]!.size_bytes = 240 * 1000 ** 3;
    const bios = fleet.get(macs[3]!)!;
    bios.firmware.version = "1.0.0";
    const nic = fleet.get(macs[4]!)!;
    nic.interfaces[0]!.firmware_version = "1.0.9";
    const smart = fleet.get(macs[5]!)!;
    smart.disks[0]!.smart_passed = false;

    const analysis = analyzeFleet(fleet);
    expect(analysis.classes).toHaveLength(1);
    expect(analysis.classes[0]!.outliers).toEqual(macs.slice(1).sort());
    expect(analysis.nodes[macs[0]!]!.reasons).toEqual([]);
    expect(analysis.nodes[macs[1]!]!.reasons).toEqual([
      { kind: "missing-dimm", severity: "warning", slot: removed.slot, expected_size_bytes: removed.size_bytes },
    ]);
    expect(analysis.nodes[macs[2]!]!.reasons).toEqual([
      {
        kind: "disk-size",
        severity: "warning",
        name: template.disks[0]!.name,
        disk_kind: template.disks[0]!.kind,
        expected_size_bytes: template.disks[0]!.size_bytes,
        actual_size_bytes: 240 * 1000 ** 3,
      },
    ]);
    expect(analysis.nodes[macs[3]!]!.reasons).toEqual([
      { kind: "firmware", severity: "warning", component: "bios", name: null, expected: template.firmware.version, actual: "1.0.0", relation: "older" },
    ]);
    expect(analysis.nodes[macs[4]!]!.reasons).toEqual([
      { kind: "firmware", severity: "warning", component: "nic", name: template.interfaces[0]!.name, expected: "1.2.3", actual: "1.0.9", relation: "older" },
    ]);
    expect(kinds(analysis.nodes[macs[5]!]!.reasons)).toEqual(["smart-failed"]);
    expect(analysis.nodes[macs[5]!]!.reasons[0]!.severity).toBe("error");
  });

  it("takes the richer layout as the reference when two nodes disagree", () => {
    const fleet = rack(3, 2, 1);
    const [first, second] = [...fleet.keys()];
    fleet.get(second!)!.memory.dimms.pop();
    const analysis = analyzeFleet(fleet);
    expect(analysis.nodes[first!]!.reasons).toEqual([]);
    expect(kinds(analysis.nodes[second!]!.reasons)).toEqual(["missing-dimm"]);
    // and the newer firmware
    const fw = rack(3, 2, 2);
    const [a, b] = [...fw.keys()];
    fw.get(a!)!.firmware.version = "2.9.0";
    fw.get(b!)!.firmware.version = "2.10.0";
    const fwAnalysis = analyzeFleet(fw);
    expect(fwAnalysis.nodes[b!]!.reasons).toEqual([]);
    expect(fwAnalysis.nodes[a!]!.reasons[0]).toMatchObject({ kind: "firmware", relation: "older", expected: "2.10.0" });
  });

  it("reports a missing disk, an extra NIC and uncorrectable memory errors", () => {
    const fleet = rack(7, 4, 1);
    const macs = [...fleet.keys()];
    const template = syntheticInventory(7);
    expect(template.disks.length).toBeGreaterThan(0);
    fleet.get(macs[0]!)!.disks = [];
    fleet.get(macs[1]!)!.interfaces.push({ ...template.interfaces[0]!, name: "enp99s0", mac_address: "52:54:00:ff:ff:01", driver: "mlx5_core" });
    fleet.get(macs[2]!)!.memory.uncorrectable_errors = 2;
    const analysis = analyzeFleet(fleet);
    expect(kinds(analysis.nodes[macs[0]!]!.reasons)).toEqual(template.disks.map(() => "missing-disk"));
    expect(analysis.nodes[macs[1]!]!.reasons).toEqual([{ kind: "extra-nic", severity: "info", name: "enp99s0", driver: "mlx5_core" }]);
    expect(analysis.nodes[macs[2]!]!.reasons).toEqual([{ kind: "memory-errors", severity: "error", correctable: 0, uncorrectable: 2 }]);
  });

  it("flags a failed SMART check even for a class of one", () => {
    const inv = syntheticInventory(3);
    inv.disks[0]!.smart_passed = false;
    const analysis = analyzeFleet(new Map([["52:54:00:00:00:01", inv]]));
    expect(kinds(analysis.nodes["52:54:00:00:00:01"]!.reasons)).toContain("smart-failed");
  });
});

describe("compareVersions", () => {
  it.each([
    ["2.10.2", "2.9.8", 1],
    ["2.9.8", "2.10.2", -1],
    ["U30 v2.42", "U30 v2.40", 1],
    ["1.2.3", "1.2.3", 0],
    ["1.2", "1.2.1", -1],
    ["A04", "A10", -1],
    ["1.2a", "1.2.3", undefined],
  ] as const)("%s vs %s → %s", (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
  });
});

describe("describeReason", () => {
  it("phrases each reason with its numbers", () => {
    expect(describeReason({ kind: "missing-dimm", severity: "warning", slot: "DIMM_B2", expected_size_bytes: 32 * 1024 ** 3 })).toBe(
      "DIMM missing in slot DIMM_B2 (class has 32GiB)",
    );
    expect(
      describeReason({ kind: "firmware", severity: "warning", component: "bios", name: null, expected: "2.12.1", actual: "2.10.2", relation: "older" }),
    ).toBe("BIOS firmware 2.10.2 is older than the class's 2.12.1");
    expect(
      describeReason({
        kind: "disk-size",
        severity: "warning",
        name: "sdb",
        disk_kind: "ssd",
        expected_size_bytes: 960197124096,
        actual_size_bytes: 480103981056,
      }),
    ).toBe("disk sdb is 480GB, class has 960GB");
  });
});
