import { describe, expect, it } from "vitest";
import type { Inventory } from "../inventory/schema.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { healthFindings } from "../inventory/health.js";
import { normalizeRaw } from "../inventory/normalize.js";
import { syntheticInventory } from "../inventory/synthetic.js";
import { analyzeFleet, compareVersions, describeReason, platformKey, platformVendor, productKey, vendorKey, type OutlierReason } from "./classes.js";

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
    inv.findings = [];
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

  it("flags a missing DIMM, a smaller disk, older BIOS and NIC firmware; a failed SMART check is a finding, not an outlier", () => {
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
    smart.findings = healthFindings({ sel: null, sdr: null, sensors: null, disks: smart.disks, edac: null });

    const analysis = analyzeFleet(fleet);
    expect(analysis.classes).toHaveLength(1);
    expect(analysis.classes[0]!.outliers).toEqual(macs.slice(1, 5).sort());
    expect(analysis.classes[0]!.findings).toEqual({ critical: [macs[5]!], warning: [] });
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
    expect(analysis.nodes[macs[5]!]!.reasons).toEqual([]);
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

  it("reports a missing disk and an extra NIC; memory errors alone make no outlier", () => {
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
    expect(analysis.nodes[macs[2]!]!.reasons).toEqual([]);
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

/** Names as real servers' firmware spells them (SMBIOS type 1/2 strings from linuxhw/DMI dumps, path named per case). */
function named(manufacturer: string | null, product: string | null, board: string | null = null): Inventory {
  const inv = syntheticInventory(3);
  inv.system_vendor.manufacturer = manufacturer;
  inv.system_vendor.product_name = product;
  inv.baseboard.product_name = board;
  return inv;
}

describe("platform key: one platform, one class", () => {
  it.each([
    // Server/Dell/PowerEdge/PowerEdge 2850, Server/Dell/CS24/CS24-SC, Server/Dell/PowerEdge/PowerEdge R730xd
    ["Dell Computer Corporation", "Dell", "Dell Inc."],
    // Server/Hewlett-Packard/…, Server/HPE/ProLiant/ProLiant DL160 Gen10
    ["HP", "HPE", "Hewlett Packard Enterprise"],
    ["Hewlett Packard", "Hewlett-Packard", "HPE"],
    // Server/Supermicro/…: SMBIOS "Supermicro"; older boards say "Super Micro Computer, Inc."
    ["Supermicro", "Super Micro Computer, Inc.", "SUPERMICRO"],
    // Server/Lenovo/ThinkSystem (Lenovo), Server/Lenovo/System (LENOVO)
    ["LENOVO", "Lenovo", "lenovo"],
    // Server/Fujitsu/PRIMERGY: FUJITSU
    ["FUJITSU", "Fujitsu", "FUJITSU"],
  ])("%s, %s and %s are one maker", (a, b, c) => {
    expect(vendorKey(a)).toBe(vendorKey(b));
    expect(vendorKey(b)).toBe(vendorKey(c));
  });

  it("keeps different makers apart and drops only a company suffix from an unknown one", () => {
    expect(vendorKey("Dell Inc.")).not.toBe(vendorKey("HPE"));
    expect(vendorKey("Supermicro")).not.toBe(vendorKey("Lenovo"));
    expect(vendorKey("bluechip Computer AG")).toBe("bluechip computer");
    expect(vendorKey(null)).toBe("");
  });

  it("drops Lenovo's -[machine type]- (build-to-order code), with the colon before it", () => {
    // Server/Lenovo/System/System x3650 M5: -[8871AC1]- and -[5462IC1]-: one platform, two machine types
    expect(productKey(named("LENOVO", "System x3650 M5: -[8871AC1]-"))).toBe("system x3650 m5");
    expect(productKey(named("LENOVO", "System x3650 M5: -[5462IC1]-"))).toBe("system x3650 m5");
    // Server/Lenovo/ThinkSystem/ThinkSystem SR650 -[7X06CTO1WW]- (baseboard says -[7X06CTO1WW]- too on some)
    expect(productKey(named("Lenovo", "ThinkSystem SR650 -[7X06CTO1WW]-", "-[7X16CTO1WW]-"))).toBe("thinksystem sr650");
    // A different generation stays a different platform
    expect(productKey(named("Lenovo", "ThinkSystem SR650 V2"))).toBe("thinksystem sr650 v2");
  });

  it("folds case and blanks: PowerEdge R730XD and PowerEdge R730xd are one platform", () => {
    // Server/Dell/PowerEdge/PowerEdge R730XD/1A3F6F422946 and Server/Dell/PowerEdge/PowerEdge R730xd/39D0A7ECAC57
    expect(productKey(named("Dell Inc.", "PowerEdge R730XD", "0WCJNT"))).toBe(productKey(named("Dell Inc.", "PowerEdge R730xd", "072T6D")));
    expect(productKey(named("Dell Inc.", "PowerEdge R730xd"))).not.toBe(productKey(named("Dell Inc.", "PowerEdge R730")));
  });

  it("drops a leading maker word: HPE Cray SC XD665 is Cray SC XD665", () => {
    // Server/HPE/Cray/Cray SC XD665: Product Name "HPE Cray SC XD665"
    expect(productKey(named("HPE", "HPE Cray SC XD665"))).toBe("cray sc xd665");
  });

  it("names a Supermicro Super Server by its board and qualifies a SYS- name with it", () => {
    // Server/Supermicro/Super/Super Server: boards X11DPL-i and X10DRW-i behind one generic name
    expect(productKey(named("Supermicro", "Super Server", "X11DPL-i"))).toBe("board x11dpl-i");
    expect(productKey(named("Supermicro", "Super Server", "X11DPL-i"))).not.toBe(productKey(named("Supermicro", "Super Server", "X10DRW-i")));
    // Server/Supermicro/SYS-1029/SYS-1029P-WTR: board X11DDW-L
    expect(productKey(named("Supermicro", "SYS-1029P-WTR", "X11DDW-L"))).toBe("sys-1029p-wtr board x11ddw-l");
    // Without a baseboard (an older upload) the system name is all there is
    expect(productKey(named("Supermicro", "Super Server", null))).toBe("super server");
    expect(productKey(named("Dell Inc.", "PowerEdge R730xd", "072T6D"))).toBe("poweredge r730xd");
  });

  it("folds the CPU model's blank runs and keeps sockets apart", () => {
    // Server/Dell/CS24/CS24-SC: "Intel(R) Xeon(R) CPU           L5420  @ 2.50GHz"
    const spaced = named("Dell", "CS24-SC");
    spaced.cpu.model_name = "Intel(R) Xeon(R) CPU           L5420  @ 2.50GHz";
    const single = named("Dell", "CS24-SC");
    single.cpu.model_name = "Intel(R) Xeon(R) CPU L5420 @ 2.50GHz";
    expect(platformKey(spaced)).toBe(platformKey(single));
    single.cpu.sockets = spaced.cpu.sockets === 1 ? 2 : 1;
    expect(platformKey(spaced)).not.toBe(platformKey(single));
  });

  it("puts two spellings of one platform into one class that shows the common spelling and lists every one", () => {
    const fleet = rack(3, 3, 1);
    const [a, b, c] = [...fleet.keys()];
    fleet.get(a!)!.system_vendor.product_name = "ThinkSystem SR650 -[7X06CTO1WW]-";
    fleet.get(b!)!.system_vendor.product_name = "ThinkSystem SR650 -[7X06CTO1WW]-";
    fleet.get(c!)!.system_vendor.manufacturer = "LENOVO";
    fleet.get(c!)!.system_vendor.product_name = "ThinkSystem SR650 -[7X05CTO1WW]-";
    const analysis = analyzeFleet(fleet);
    expect(analysis.classes).toHaveLength(1);
    expect(analysis.classes[0]!.signature.product_name).toBe("ThinkSystem SR650 -[7X06CTO1WW]-");
    expect(analysis.classes[0]!.signature.manufacturer).toBe(syntheticInventory(3).system_vendor.manufacturer);
    expect(analysis.classes[0]!.signature.spellings).toEqual([
      "LENOVO ThinkSystem SR650 -[7X05CTO1WW]-",
      `${syntheticInventory(3).system_vendor.manufacturer} ThinkSystem SR650 -[7X06CTO1WW]-`,
    ]);
  });
});

describe("a real pair: two dumps of one platform with two spellings", () => {
  const real = join(import.meta.dirname, "../../test/fixtures/inventory/real");
  const upload = (dmi: string) => normalizeRaw(new Map([["raw/dmidecode.txt", readFileSync(join(real, "review", dmi))]]));

  it("puts PowerEdge R730XD and PowerEdge R730xd into one class (test/fixtures/inventory/real/review, PAIR)", () => {
    const upper = upload("dell-r730xd-upper.dmidecode.txt");
    const lower = upload("dell-r730xd-lower.dmidecode.txt");
    expect([upper.system_vendor.product_name, lower.system_vendor.product_name]).toEqual(["PowerEdge R730XD", "PowerEdge R730xd"]);
    const analysis = analyzeFleet(
      new Map([
        ["upper", upper],
        ["lower", lower],
      ]),
    );
    expect(analysis.classes).toHaveLength(1);
    expect(analysis.classes[0]!.members).toEqual(["lower", "upper"]);
    expect(analysis.classes[0]!.signature.spellings).toEqual(["Dell Inc. PowerEdge R730XD", "Dell Inc. PowerEdge R730xd"]);
    // The lower one has 4 of the upper one's 8 DIMMs: its siblings show it.
    expect(kinds(analysis.nodes.lower!.reasons)).toEqual(["missing-dimm", "missing-dimm", "missing-dimm", "missing-dimm"]);
  });
});

describe("H1's real pair: an integrator's name on a Supermicro Super Server (test/fixtures/inventory/real/dmi, PAIR)", () => {
  const dmi = join(import.meta.dirname, "../../test/fixtures/inventory/real/dmi");
  const upload = (file: string) => normalizeRaw(new Map([["raw/dmidecode.txt", readFileSync(join(dmi, file))]]));

  it("gives DEPO Computers' and Supermicro's Super Server on board X11SCL-F one maker and one product", () => {
    const depo = upload("depo-super-server-5492212F426F.txt");
    const supermicro = upload("supermicro-super-server-069184BFB536.txt");
    expect([depo.system_vendor.manufacturer, supermicro.system_vendor.manufacturer]).toEqual(["DEPO Computers", "Supermicro"]);
    expect(platformVendor(depo)).toBe("supermicro");
    expect(platformVendor(supermicro)).toBe("supermicro");
    expect(productKey(depo)).toBe(productKey(supermicro));
    // Their CPUs differ (Xeon E-2224 / E-2236), and the CPU model is part of a class: two classes still.
    expect(depo.cpu.model_name).not.toBe(supermicro.cpu.model_name);
    expect(platformKey(depo)).not.toBe(platformKey(supermicro));
  });
});
