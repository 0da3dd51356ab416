import { describe, expect, it } from "vitest";
import { fileSafeName, planCollectors, usableFacts, type HostFacts } from "./collectors.js";

const OPTIONS = { lldpWaitMs: 60_000, collectorTimeoutMs: 120_000, lldpSocket: "/run/recon/lldpd.socket" };

/** The plan as a reviewer reads it: one line per collector, what runs and where its output goes. */
function render(facts: HostFacts): string {
  return `${planCollectors(facts, OPTIONS)
    .map((spec) => JSON.stringify(spec))
    .join("\n")}\n`;
}

describe("planCollectors", () => {
  it("plans a small VM: one NIC, one virtio disk, no BMC, no NVMe, no GPU", async () => {
    const facts: HostFacts = { interfaces: ["eth0"], disks: ["vda"], nvmeControllers: [], ipmiDevice: false, nvidiaSmi: false, raidDisks: [] };
    await expect(render(facts)).toMatchFileSnapshot("__snapshots__/plan-small-vm.jsonl");
  });

  it("plans a server: several NICs and disks, NVMe controllers, in-band BMC and a GPU tool", async () => {
    const facts: HostFacts = {
      interfaces: ["lo", "eno2", "eno1", "ens1f0np0", "bond0.100"],
      disks: ["sdb", "sda", "nvme0n1", "nvme1n1", "cciss/c0d0"],
      nvmeControllers: ["nvme1", "nvme0"],
      ipmiDevice: true,
      nvidiaSmi: true,
      raidDisks: [
        { device: "/dev/bus/0", type: "megaraid,1" },
        { device: "/dev/bus/0", type: "megaraid,0" },
        { device: "/dev/sg1", type: "sat+megaraid,8" },
      ],
    };
    await expect(render(facts)).toMatchFileSnapshot("__snapshots__/plan-server.jsonl");
  });

  it("gives the LLDP collector its wait on top of the collector timeout", () => {
    const plan = planCollectors(
      { interfaces: [], disks: [], nvmeControllers: [], ipmiDevice: false, nvidiaSmi: false, raidDisks: [] },
      { ...OPTIONS, lldpWaitMs: 5000, collectorTimeoutMs: 1000 },
    );
    const lldp = plan.find((spec) => spec.kind === "lldp");
    expect(lldp).toMatchObject({ waitMs: 5000, timeoutMs: 6000 });
    expect(plan.filter((spec) => spec.kind !== "lldp").every((spec) => spec.timeoutMs === 1000)).toBe(true);
  });

  it("has unique ids and unique files", () => {
    const plan = planCollectors(
      { interfaces: ["eth0", "eth1"], disks: ["sda", "sdb"], nvmeControllers: ["nvme0"], ipmiDevice: true, nvidiaSmi: true, raidDisks: [] },
      OPTIONS,
    );
    const ids = plan.map((spec) => spec.id);
    expect(new Set(ids).size).toBe(ids.length);
    const files = plan.flatMap((spec) => (spec.kind === "first-answer" ? spec.candidates.map((c) => c.stdout) : spec.files));
    expect(new Set(files).size).toBe(files.length);
    expect(files.every((file) => /^raw\/[^/]+$/.test(file))).toBe(true);
  });
});

describe("usableFacts", () => {
  it("drops lo, RAM disks and names that cannot be argv or file names, and says so", () => {
    const { facts, skipped } = usableFacts({
      interfaces: ["lo", "eth0", "bad name", "../x", "eth0"],
      disks: ["zram0", "loop3", "sda", "../../etc", "ram0", "nbd0", "nbd15"],
      nvmeControllers: ["nvme0", "nvme-subsys0"],
      ipmiDevice: false,
      nvidiaSmi: false,
      raidDisks: [
        { device: "/dev/bus/0", type: "megaraid,0" },
        { device: "/dev/bus/0", type: "megaraid,0" },
        { device: "/dev/../etc/passwd", type: "megaraid,1" },
        { device: "/dev/sda", type: "megaraid,1; rm" },
      ],
    });
    expect(facts.raidDisks).toEqual([{ device: "/dev/bus/0", type: "megaraid,0" }]);
    expect(facts.interfaces).toEqual(["eth0"]);
    expect(facts.disks).toEqual(["sda"]);
    expect(facts.nvmeControllers).toEqual(["nvme0"]);
    expect(skipped).toEqual([
      'interface "../x"',
      'interface "bad name"',
      'interface "lo"',
      'disk "../../etc"',
      'disk "loop3"',
      'disk "nbd0"',
      'disk "nbd15"',
      'disk "ram0"',
      'disk "zram0"',
      'nvme controller "nvme-subsys0"',
      'raid disk "/dev/../etc/passwd -d megaraid,1"',
      'raid disk "/dev/sda -d megaraid,1; rm"',
    ]);
  });

  it("spells a disk name with a slash the way sysfs does", () => {
    expect(fileSafeName("cciss/c0d0")).toBe("cciss!c0d0");
  });
});
