import { describe, expect, it } from "vitest";
import type { CommandRunner, RunOptions, RunResult } from "../lib/run.js";
import {
  addressAddArgs,
  bridgeAddArgs,
  createLab,
  linkSetMasterArgs,
  linkUpArgs,
  netnsAddArgs,
  netnsDeleteArgs,
  netnsExecArgv,
  parseNetnsList,
  parseNetnsPids,
  routeAddArgs,
  runInNetns,
  vethAddArgs,
} from "./netns.js";

describe("ip argument builders", () => {
  it("builds namespace, bridge, veth, address and link commands", () => {
    expect(netnsAddArgs("rcn-t1-m")).toEqual(["netns", "add", "rcn-t1-m"]);
    expect(netnsDeleteArgs("rcn-t1-m")).toEqual(["netns", "delete", "rcn-t1-m"]);
    expect(bridgeAddArgs("rcn-t1-m", "rcnbr0")).toEqual([
      "-n",
      "rcn-t1-m",
      "link",
      "add",
      "name",
      "rcnbr0",
      "type",
      "bridge",
      "stp_state",
      "0",
      "forward_delay",
      "0",
    ]);
    expect(vethAddArgs("rcn-t1-m", "rcnv0", "rcn-t1-p1", "eth0", "52:54:00:AA:00:01")).toEqual([
      "-n",
      "rcn-t1-m",
      "link",
      "add",
      "name",
      "rcnv0",
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "address",
      "52:54:00:aa:00:01",
      "netns",
      "rcn-t1-p1",
    ]);
    expect(linkSetMasterArgs("rcn-t1-m", "rcnv0", "rcnbr0")).toEqual(["-n", "rcn-t1-m", "link", "set", "dev", "rcnv0", "master", "rcnbr0"]);
    expect(linkUpArgs("rcn-t1-p1", "eth0")).toEqual(["-n", "rcn-t1-p1", "link", "set", "dev", "eth0", "up"]);
    expect(addressAddArgs("rcn-t1-m", "rcnbr0", "10.77.0.1/24")).toEqual(["-n", "rcn-t1-m", "addr", "add", "10.77.0.1/24", "dev", "rcnbr0"]);
    expect(routeAddArgs("rcn-t1-p1", "default", "eth0")).toEqual(["-n", "rcn-t1-p1", "route", "add", "default", "dev", "eth0"]);
    expect(netnsExecArgv("rcn-t1-m", ["dnsmasq", "--test"])).toEqual(["ip", "netns", "exec", "rcn-t1-m", "dnsmasq", "--test"]);
  });

  it("refuses names the kernel or ip would refuse", () => {
    expect(() => bridgeAddArgs("rcn-t1-m", "rcn-bridge-too-long")).toThrow(/1–15 characters/);
    expect(() => netnsAddArgs("../etc")).toThrow(/namespace name/);
    expect(() => addressAddArgs("rcn-t1-m", "rcnbr0", "10.77.0.1")).toThrow(/CIDR/);
    expect(() => vethAddArgs("a", "b", "c", "d", "52:54:00")).toThrow(/MAC/);
    expect(() => netnsExecArgv("rcn-t1-m", [])).toThrow(/empty/);
  });

  it("parses `ip netns list` with and without ids", () => {
    expect(parseNetnsList("rcn-t1-p1 (id: 2)\nrcn-t1-m (id: 1)\nother\n")).toEqual(["rcn-t1-p1", "rcn-t1-m", "other"]);
    expect(parseNetnsList("")).toEqual([]);
  });

  it("parses `ip netns pids` (one PID per line; never 0 or 1)", () => {
    expect(parseNetnsPids("4711\n4712\n")).toEqual([4711, 4712]);
    expect(parseNetnsPids("")).toEqual([]);
    expect(parseNetnsPids("1\n0\nx\n")).toEqual([]);
  });
});

function recordingRunner(fail?: (args: string[]) => boolean): CommandRunner & { calls: string[][]; namespaces: Set<string> } {
  const calls: string[][] = [];
  const namespaces = new Set<string>();
  return {
    calls,
    namespaces,
    async run(command: string, args: string[], _options?: RunOptions): Promise<RunResult> {
      calls.push([command, ...args]);
      const ok = (stdout = ""): RunResult => ({ command, args, exitCode: 0, stdout, stderr: "" });
      if (fail?.(args)) return { command, args, exitCode: 2, stdout: "", stderr: "RTNETLINK answers: File exists\n" };
      if (args[0] === "netns" && args[1] === "add") namespaces.add(args[2]!);
      if (args[0] === "netns" && args[1] === "delete") namespaces.delete(args[2]!);
      if (args[0] === "netns" && args[1] === "list") return ok([...namespaces].join("\n"));
      return ok();
    },
  };
}

describe("createLab", () => {
  it("makes the wire and hosts, and destroy removes every namespace once", async () => {
    const runner = recordingRunner();
    const lab = await createLab(runner, { prefix: "rcn-t1", bridge: "rcnbr0", bridgeAddress: "10.77.0.1/24" });
    const host = await lab.addHost({ name: "p1", mac: "52:54:00:aa:00:01" });
    expect(host).toEqual({ ns: "rcn-t1-p1", dev: "eth0", mac: "52:54:00:aa:00:01" });
    expect([...runner.namespaces]).toEqual(["rcn-t1-m", "rcn-t1-p1"]);
    await lab.destroy();
    await lab.destroy(); // idempotent
    expect(runner.namespaces.size).toBe(0);
    expect(runner.calls.filter((c) => c[2] === "delete").map((c) => c[3])).toEqual(["rcn-t1-p1", "rcn-t1-m"]);
  });

  it("removes the wire namespace when building the bridge fails", async () => {
    const runner = recordingRunner((args) => args.includes("bridge"));
    await expect(createLab(runner, { prefix: "rcn-t2", bridge: "rcnbr0" })).rejects.toThrow(/File exists/);
    expect(runner.namespaces.size).toBe(0);
  });

  it("runInNetns goes through ip netns exec", async () => {
    const runner = recordingRunner();
    await runInNetns(runner, "rcn-t1-p1", ["busybox", "udhcpc", "-q"]);
    expect(runner.calls[0]).toEqual(["ip", "netns", "exec", "rcn-t1-p1", "busybox", "udhcpc", "-q"]);
  });
});
