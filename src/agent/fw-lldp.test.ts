import { mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CommandRunner, RunResult } from "../lib/run.js";
import { decideFwLldp, describeFwLldp, interfaceDriver, parsePrivFlags, setPrivFlagArgs, showPrivFlagsArgs, stopFirmwareLldp } from "./fw-lldp.js";

/** Real `ethtool --show-priv-flags` outputs (test/fixtures/ethtool/priv-flags/SOURCES.md). */
const fixture = (name: string) => readFileSync(join(import.meta.dirname, "../../test/fixtures/ethtool/priv-flags", name), "utf8");
const I40E = fixture("i40e-eno1.txt");
const ICE = fixture("ice-e810-eth0.txt");

describe("parsePrivFlags", () => {
  it("reads every flag of an i40e port, padding and all", () => {
    const flags = parsePrivFlags(I40E);
    expect(flags.size).toBe(13);
    expect(flags.get("disable-fw-lldp")).toBe(false);
    expect(flags.get("disable-source-pruning")).toBe(true); // the one name as long as the padding
    expect(flags.get("flow-director-atr")).toBe(true);
    expect(flags.has("Private flags for eno1")).toBe(false);
  });

  it("reads an E810 port's flags, including the one printed without a space before the colon", () => {
    const flags = parsePrivFlags(ICE);
    expect(flags.size).toBe(15);
    expect(flags.get("fw-lldp-agent")).toBe(true);
    expect(flags.get("channel-pkt-clean-bp-stop-cfg")).toBe(false);
    expect(flags.get("channel-pkt-inspect-optimize")).toBe(true);
  });

  it("is empty for a driver without private flags", () => {
    expect(parsePrivFlags("")).toEqual(new Map());
  });
});

describe("decideFwLldp", () => {
  it("i40e: disable-fw-lldp off means the firmware agent runs; stopping it sets the flag on", () => {
    expect(decideFwLldp("i40e", parsePrivFlags(I40E))).toEqual({ flag: "disable-fw-lldp", firmwareAgent: "running", stopValue: true });
  });

  it("ice: fw-lldp-agent on means the firmware agent runs; stopping it sets the flag off", () => {
    expect(decideFwLldp("ice", parsePrivFlags(ICE))).toEqual({ flag: "fw-lldp-agent", firmwareAgent: "running", stopValue: false });
  });

  it("leaves an agent already stopped alone, and knows nothing of other drivers or a missing flag", () => {
    const stopped = new Map([...parsePrivFlags(I40E), ["disable-fw-lldp", true]]);
    expect(decideFwLldp("i40e", stopped)).toEqual({ flag: "disable-fw-lldp", firmwareAgent: "stopped" });
    // ice's flags do not name i40e's flag: nothing to do on a port that shows no such flag.
    expect(decideFwLldp("i40e", parsePrivFlags(ICE))).toEqual({ flag: null, firmwareAgent: "unknown" });
    expect(decideFwLldp("ixgbe", parsePrivFlags(I40E))).toEqual({ flag: null, firmwareAgent: "unknown" });
  });
});

describe("ethtool arguments", () => {
  it("shows and sets a private flag, argv only", () => {
    expect(showPrivFlagsArgs("eno1")).toEqual(["--show-priv-flags", "eno1"]);
    expect(setPrivFlagArgs("eno1", "disable-fw-lldp", true)).toEqual(["--set-priv-flags", "eno1", "disable-fw-lldp", "on"]);
    expect(setPrivFlagArgs("ens1f0", "fw-lldp-agent", false)).toEqual(["--set-priv-flags", "ens1f0", "fw-lldp-agent", "off"]);
  });
});

describe("stopFirmwareLldp", () => {
  let root: string;
  const port = async (name: string, driver: string | null) => {
    const dir = join(root, "sys/class/net", name);
    await mkdir(dir, { recursive: true });
    if (driver === null) return;
    const device = join(root, "sys/devices/pci0000:00", name);
    await mkdir(device, { recursive: true });
    await mkdir(join(root, "sys/bus/pci/drivers", driver), { recursive: true });
    await symlink(join(root, "sys/bus/pci/drivers", driver), join(device, "driver"));
    await symlink(device, join(dir, "device"));
  };
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "recon-fw-lldp-"));
    await port("eno1", "i40e");
    await port("ens2f0", "ice");
    await port("enp3s0", "igb");
    await port("veth0", null);
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** ethtool as the runner sees it: the real outputs for show, set answers per port. */
  function fakeEthtool(setFails: Record<string, number> = {}): { runner: CommandRunner; calls: string[] } {
    const calls: string[] = [];
    const result = (args: string[], exitCode: number, stdout = "", stderr = ""): RunResult => ({ command: "ethtool", args, exitCode, stdout, stderr });
    const runner: CommandRunner = {
      run(command, args) {
        calls.push(`${command} ${args.join(" ")}`);
        if (args[0] === "--show-priv-flags") return Promise.resolve(result(args, 0, args[1] === "eno1" ? I40E : ICE));
        const failing = setFails[args.slice(1).join(" ")];
        return Promise.resolve(failing === undefined ? result(args, 0) : result(args, failing, "", "netlink error: Operation not supported\n"));
      },
    };
    return { runner, calls };
  }

  it("reads each port's driver from sysfs", async () => {
    expect(await interfaceDriver(root, "eno1")).toBe("i40e");
    expect(await interfaceDriver(root, "veth0")).toBeNull();
  });

  it("stops the firmware agent on i40e and ice ports only, and puts each flag back", async () => {
    const { runner, calls } = fakeEthtool();
    const session = await stopFirmwareLldp(runner, { sysRoot: root, interfaces: ["eno1", "enp3s0", "ens2f0", "veth0"] });
    expect(session.switched).toEqual(["eno1", "ens2f0"]);
    expect(calls).toEqual([
      "ethtool --show-priv-flags eno1",
      "ethtool --set-priv-flags eno1 disable-fw-lldp on",
      "ethtool --show-priv-flags ens2f0",
      "ethtool --set-priv-flags ens2f0 fw-lldp-agent off",
    ]);
    expect(session.entries.map((entry) => describeFwLldp(entry, false))).toEqual([
      "fw-lldp eno1 (i40e): firmware LLDP agent stopped for the listen (disable-fw-lldp on), to be put back after it",
      "fw-lldp ens2f0 (ice): firmware LLDP agent stopped for the listen (fw-lldp-agent off), to be put back after it",
    ]);
    const entries = await session.restore();
    await session.restore(); // once only, however often it is called
    expect(calls.slice(4)).toEqual(["ethtool --set-priv-flags eno1 disable-fw-lldp off", "ethtool --set-priv-flags ens2f0 fw-lldp-agent on"]);
    expect(entries[0]).toEqual({
      interface: "eno1",
      driver: "i40e",
      flag: "disable-fw-lldp",
      firmware_agent: "running",
      switched: true,
      set_to: "on",
      restored: true,
      show_priv_flags: I40E,
    });
    expect(entries.map((entry) => describeFwLldp(entry, true))).toEqual([
      "fw-lldp eno1 (i40e): firmware LLDP agent was stopped for the listen (disable-fw-lldp on), put back",
      "fw-lldp ens2f0 (ice): firmware LLDP agent was stopped for the listen (fw-lldp-agent off), put back",
    ]);
  });

  it("records a flag the driver refused to set, and one it refused to put back", async () => {
    const { runner } = fakeEthtool({ "eno1 disable-fw-lldp on": 1 });
    const session = await stopFirmwareLldp(runner, { sysRoot: root, interfaces: ["eno1", "ens2f0"] });
    expect(session.switched).toEqual(["ens2f0"]);
    expect(session.entries[0]).toMatchObject({
      switched: false,
      restored: null,
      firmware_agent: "running",
      error: "ethtool --set-priv-flags eno1 disable-fw-lldp on: exit 1: netlink error: Operation not supported",
    });
    expect(describeFwLldp(session.entries[0]!, false)).toBe(
      "fw-lldp eno1 (i40e): firmware LLDP agent running, left as it was; ethtool --set-priv-flags eno1 disable-fw-lldp on: exit 1: netlink error: Operation not supported",
    );

    const back = fakeEthtool({ "ens2f0 fw-lldp-agent on": 2 });
    const again = await stopFirmwareLldp(back.runner, { sysRoot: root, interfaces: ["ens2f0"] });
    const [entry] = await again.restore();
    expect(entry).toMatchObject({
      switched: true,
      restored: false,
      error: "ethtool --set-priv-flags ens2f0 fw-lldp-agent on: exit 2: netlink error: Operation not supported",
    });
    expect(describeFwLldp(entry!, true)).toMatch(
      /^fw-lldp ens2f0 \(ice\): firmware LLDP agent was stopped for the listen \(fw-lldp-agent off\), NOT put back; /,
    );
  });

  it("does nothing on a machine without i40e or ice ports", async () => {
    const { runner, calls } = fakeEthtool();
    const session = await stopFirmwareLldp(runner, { sysRoot: root, interfaces: ["enp3s0", "veth0"] });
    expect(session.entries).toEqual([]);
    expect(await session.restore()).toEqual([]);
    expect(calls).toEqual([]);
  });
});
