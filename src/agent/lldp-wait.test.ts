import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeListen, interfacesLackingNeighbour, linkedInterfaces, lldpWaitDone } from "./lldp-wait.js";

/** lldpctl -f json as the agent collected it in a VM whose two virtio-net ports heard each other (test/fixtures/inventory/README.md). */
const twoNeighbours = readFileSync(join(import.meta.dirname, "../../test/fixtures/inventory/vm-bios-dell/raw/lldpctl.json"), "utf8");

describe("interfacesLackingNeighbour / lldpWaitDone", () => {
  it("is done when every linked interface has a neighbour in lldpctl's answer", () => {
    expect(interfacesLackingNeighbour(["enp0s5", "enp0s6"], twoNeighbours)).toEqual([]);
    expect(lldpWaitDone(["enp0s5", "enp0s6"], twoNeighbours)).toBe(true);
  });

  it("waits on while one linked interface has none (the e1000e on slirp in that VM), and names it", () => {
    expect(interfacesLackingNeighbour(["enp0s4", "enp0s5", "enp0s6"], twoNeighbours)).toEqual(["enp0s4"]);
    expect(lldpWaitDone(["enp0s4", "enp0s5", "enp0s6"], twoNeighbours)).toBe(false);
  });

  it("waits on with no linked interface at all, and on an answer that is not lldpctl's JSON", () => {
    expect(lldpWaitDone([], twoNeighbours)).toBe(false);
    expect(lldpWaitDone(["enp0s5"], "")).toBe(false);
    expect(interfacesLackingNeighbour(["enp0s5"], "lldpctl: unable to connect")).toEqual(["enp0s5"]);
  });
});

describe("linkedInterfaces", () => {
  let root: string;
  /** A sysfs layout as the kernel shows it: type, carrier, and a device link for real ports. */
  const port = async (name: string, type: string, carrier: string | null, device: boolean) => {
    const dir = join(root, "sys/class/net", name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "type"), `${type}\n`);
    if (carrier !== null) await writeFile(join(dir, "carrier"), `${carrier}\n`);
    if (device) {
      await mkdir(join(root, "sys/devices/pci0000:00", name), { recursive: true });
      await symlink(join(root, "sys/devices/pci0000:00", name), join(dir, "device"));
    }
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "recon-lldp-wait-"));
    await port("eno1", "1", "1", true);
    await port("eno2", "1", "0", true); // no cable
    await port("ens1f0", "1", "1", true);
    await port("veth0", "1", "1", false); // a netns test's veth: no device behind it
    await port("lo", "772", "1", false);
    await port("ib0", "32", "1", true); // InfiniBand: not Ethernet, no LLDP
    await port("eno3", "1", null, true); // carrier unreadable (interface down)
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("lists Ethernet ports with carrier and a device, sorted", async () => {
    expect(await linkedInterfaces(root)).toEqual(["eno1", "ens1f0"]);
  });

  it("counts virtual Ethernet interfaces too when asked (tests in a network namespace)", async () => {
    expect(await linkedInterfaces(root, true)).toEqual(["eno1", "ens1f0", "veth0"]);
  });

  it("is empty where there is no sysfs", async () => {
    expect(await linkedInterfaces(join(root, "nowhere"))).toEqual([]);
  });
});

describe("describeListen", () => {
  it("says why the listen ended, in one line", () => {
    expect(describeListen({ ended: "all-neighbours", listened_ms: 3140, bound_ms: 35_000, waited_for: ["eno1", "eno2"], lacking: [] })).toBe(
      "every linked interface has a neighbour (eno1, eno2) after 3.1 s of at most 35.0 s",
    );
    expect(describeListen({ ended: "bound", listened_ms: 35_020, bound_ms: 35_000, waited_for: ["eno1", "eno2"], lacking: ["eno2"] })).toBe(
      "listened the full 35.0 s; no neighbour on eno2",
    );
    expect(describeListen({ ended: "bound", listened_ms: 35_020, bound_ms: 35_000, waited_for: [], lacking: [] })).toBe(
      "listened the full 35.0 s; no linked Ethernet interface to wait for",
    );
    expect(describeListen({ ended: "aborted", listened_ms: 1200, bound_ms: 35_000, waited_for: ["eno1"], lacking: ["eno1"] })).toBe(
      "stopped after 1.2 s (the agent was stopped); no neighbour on eno1",
    );
  });
});
