/**
 * Network namespaces for the lab (docs/architecture.md, "One module per tool": pure `ip` argument builders, a thin runner
 * through the injected CommandRunner). A lab is one netns holding a bridge (the "wire") plus
 * one netns per simulated host, joined to the bridge by a veth pair. Everything a DHCP, TFTP
 * or DNS server touches in tests lives in these namespaces, never on the host's interfaces.
 *
 * docs/lab-facts.md: the bridge has STP off and forward_delay 0, otherwise a new port stays in the
 * listening/learning states and the first DHCP packets are dropped.
 */
import { ReconError } from "../lib/errors.js";
import { runChecked, type CommandRunner, type RunOptions, type RunResult } from "../lib/run.js";

/** Linux IFNAMSIZ is 16 including the NUL: `ip` refuses longer interface names. */
export const MAX_INTERFACE_NAME = 15;

function checkInterfaceName(name: string): string {
  if (name.length === 0 || name.length > MAX_INTERFACE_NAME || /[\s/:]/.test(name)) {
    throw new ReconError("USAGE", `interface name "${name}" is invalid (1–${MAX_INTERFACE_NAME} characters, no spaces, "/" or ":")`);
  }
  return name;
}

function checkNetnsName(name: string): string {
  // `ip netns` keeps a file per namespace under /run/netns: a path component.
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) {
    throw new ReconError("USAGE", `network namespace name "${name}" is invalid (letters, digits, "_.-", at most 64)`);
  }
  return name;
}

// ---- pure argument builders (arguments to `ip`) ----

export function netnsAddArgs(ns: string): string[] {
  return ["netns", "add", checkNetnsName(ns)];
}

export function netnsDeleteArgs(ns: string): string[] {
  return ["netns", "delete", checkNetnsName(ns)];
}

/** `ip -n <ns> …`: the same command run against another namespace's links. */
function inside(ns: string, args: string[]): string[] {
  return ["-n", checkNetnsName(ns), ...args];
}

export function bridgeAddArgs(ns: string, bridge: string): string[] {
  // forward_delay 0 and STP off: ports forward at once (docs/lab-facts.md, "Network lab").
  return inside(ns, ["link", "add", "name", checkInterfaceName(bridge), "type", "bridge", "stp_state", "0", "forward_delay", "0"]);
}

/** A veth pair with `local` in `ns` and `peer` moved straight into `peerNs`. */
export function vethAddArgs(ns: string, local: string, peerNs: string, peer: string, peerMac?: string): string[] {
  const peerPart = ["name", checkInterfaceName(peer)];
  if (peerMac !== undefined) peerPart.push("address", checkMac(peerMac));
  return inside(ns, ["link", "add", "name", checkInterfaceName(local), "type", "veth", "peer", ...peerPart, "netns", checkNetnsName(peerNs)]);
}

/** A tap device for a qemu VM, in the wire namespace (qemu runs there through `ip netns exec`). */
export function tapAddArgs(ns: string, tap: string): string[] {
  return ["-n", ns, "tuntap", "add", "dev", checkInterfaceName(tap), "mode", "tap"];
}

export function linkSetMasterArgs(ns: string, dev: string, bridge: string): string[] {
  return inside(ns, ["link", "set", "dev", checkInterfaceName(dev), "master", checkInterfaceName(bridge)]);
}

export function linkUpArgs(ns: string, dev: string): string[] {
  return inside(ns, ["link", "set", "dev", checkInterfaceName(dev), "up"]);
}

/** `cidr` is `10.20.0.1/24`. */
export function addressAddArgs(ns: string, dev: string, cidr: string): string[] {
  if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(cidr)) throw new ReconError("USAGE", `address "${cidr}" is not IPv4 CIDR (a.b.c.d/n)`);
  return inside(ns, ["addr", "add", cidr, "dev", checkInterfaceName(dev)]);
}

export function routeAddArgs(ns: string, destination: string, dev: string): string[] {
  return inside(ns, ["route", "add", destination, "dev", checkInterfaceName(dev)]);
}

/** The prefix that runs a command inside `ns`, for runners that take a `wrapper` (dnsmasq, qemu). */
export function netnsWrapper(ns: string): string[] {
  return ["ip", "netns", "exec", checkNetnsName(ns)];
}

/** argv that runs `argv` inside `ns`; `ip netns exec` execs it, so the PID is the command's own. */
export function netnsExecArgv(ns: string, argv: readonly string[]): string[] {
  if (argv.length === 0) throw new ReconError("USAGE", "netnsExecArgv: empty command");
  return [...netnsWrapper(ns), ...argv];
}

function checkMac(mac: string): string {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) throw new ReconError("USAGE", `MAC "${mac}" is not aa:bb:cc:dd:ee:ff`);
  return mac.toLowerCase();
}

/** `ip netns list` prints `name` or `name (id: 3)` per line. */
export function parseNetnsList(stdout: string): string[] {
  return stdout
    .split("\n")
    .map((line) => line.trim().split(/\s+/)[0] ?? "")
    .filter(Boolean);
}

/** `ip netns pids <ns>` prints one PID per line. */
export function parseNetnsPids(stdout: string): number[] {
  return stdout
    .split(/\s+/)
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && pid > 1);
}

// ---- thin runner ----

async function ip(runner: CommandRunner, args: string[]): Promise<RunResult> {
  return runChecked(runner, "ip", args, { hint: "the lab needs root (CAP_NET_ADMIN) and iproute2" });
}

/** Runs `argv` inside `ns` through the runner; resolves with the result whatever the exit code. */
export function runInNetns(runner: CommandRunner, ns: string, argv: readonly string[], options?: RunOptions): Promise<RunResult> {
  const [command, ...args] = netnsExecArgv(ns, argv);
  return runner.run(command!, args, options);
}

export async function listNetns(runner: CommandRunner): Promise<string[]> {
  return parseNetnsList((await ip(runner, ["netns", "list"])).stdout);
}

/** Every process running in `ns` (none, not an error, when the namespace is already gone). */
export async function netnsPids(runner: CommandRunner, ns: string): Promise<number[]> {
  const result = await runner.run("ip", ["netns", "pids", ns]);
  return result.exitCode === 0 ? parseNetnsPids(result.stdout) : [];
}

/**
 * SIGKILL to every process of the given namespaces (ones this run made: a test's clean-up before
 * destroy(), so nothing a failed run started outlives it); returns the PIDs it signalled.
 */
export async function killNetnsProcesses(runner: CommandRunner, namespaces: readonly string[]): Promise<number[]> {
  const killed: number[] = [];
  for (const ns of namespaces) {
    for (const pid of await netnsPids(runner, ns)) {
      try {
        process.kill(pid, "SIGKILL");
        killed.push(pid);
      } catch {
        // ended between the listing and the signal
      }
    }
  }
  return killed;
}

export interface LabSpec {
  /** Prefix of every namespace this lab makes, e.g. `rcn-t1234`; the wire is `<prefix>-m`. */
  prefix: string;
  /** The bridge inside the wire namespace. */
  bridge: string;
  /** Address of the bridge itself (the master's address), e.g. `10.20.0.1/24`, or undefined. */
  bridgeAddress?: string | undefined;
}

export interface SimulatedHost {
  /** The host's namespace. */
  ns: string;
  /** Its interface inside `ns`. */
  dev: string;
  mac: string;
}

export interface HostSpec {
  /** Short name, unique in the lab; the namespace is `<prefix>-<name>`. */
  name: string;
  mac: string;
  /** Address to put on the host's interface now, or none (it will use DHCP). */
  address?: string | undefined;
}

export interface Lab {
  /** The namespace holding the bridge (where the master runs). */
  readonly ns: string;
  readonly bridge: string;
  addHost(spec: HostSpec): Promise<SimulatedHost>;
  /** A tap on the bridge for a VM; qemu must run inside `ns` to open it. */
  addTap(name: string): Promise<string>;
  /** Removes every namespace this lab made (and with them their veths and the bridge). Idempotent. */
  destroy(): Promise<void>;
}

/**
 * Creates the wire namespace with its bridge. On any failure it removes what it made before
 * throwing, so the caller only needs destroy() once this resolved.
 */
export async function createLab(runner: CommandRunner, spec: LabSpec): Promise<Lab> {
  const wire = `${spec.prefix}-m`;
  const made: string[] = [];
  let hostIndex = 0;

  const destroy = async () => {
    // Deleting a namespace removes its interfaces; a veth end dies with either namespace.
    // Reverse order: hosts first, the wire last. Errors are collected, not stopped at.
    const present = new Set(await listNetns(runner).catch(() => made));
    const failures: string[] = [];
    for (const ns of [...made].reverse()) {
      if (!present.has(ns)) continue;
      const result = await runner.run("ip", netnsDeleteArgs(ns));
      if (result.exitCode !== 0 && !/No such file/.test(result.stderr)) failures.push(`${ns}: ${result.stderr.trim()}`);
    }
    made.length = 0;
    if (failures.length > 0) throw new ReconError("COMMAND_FAILED", `could not remove lab namespaces:\n${failures.join("\n")}`);
  };

  try {
    await ip(runner, netnsAddArgs(wire));
    made.push(wire);
    await ip(runner, linkUpArgs(wire, "lo"));
    await ip(runner, bridgeAddArgs(wire, spec.bridge));
    if (spec.bridgeAddress !== undefined) await ip(runner, addressAddArgs(wire, spec.bridge, spec.bridgeAddress));
    await ip(runner, linkUpArgs(wire, spec.bridge));
  } catch (error) {
    await destroy().catch(() => undefined);
    throw error;
  }

  return {
    ns: wire,
    bridge: spec.bridge,
    async addHost(host) {
      const ns = `${spec.prefix}-${host.name}`;
      // The bridge-side end is named by index: host names could make it longer than 15.
      const local = checkInterfaceName(`rcnv${hostIndex++}`);
      const dev = "eth0";
      await ip(runner, netnsAddArgs(ns));
      made.push(ns);
      await ip(runner, linkUpArgs(ns, "lo"));
      await ip(runner, vethAddArgs(wire, local, ns, dev, host.mac));
      await ip(runner, linkSetMasterArgs(wire, local, spec.bridge));
      await ip(runner, linkUpArgs(wire, local));
      if (host.address !== undefined) await ip(runner, addressAddArgs(ns, dev, host.address));
      await ip(runner, linkUpArgs(ns, dev));
      return { ns, dev, mac: checkMac(host.mac) };
    },
    async addTap(name) {
      await ip(runner, tapAddArgs(wire, name));
      await ip(runner, linkSetMasterArgs(wire, name, spec.bridge));
      await ip(runner, linkUpArgs(wire, name));
      return name;
    },
    destroy,
  };
}
