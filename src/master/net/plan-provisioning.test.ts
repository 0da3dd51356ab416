import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isReconError } from "../../lib/errors.js";
import { parseIpAddr, parseIpRoutes } from "./ip.js";
import { defaultPool, interfacesToBringUp, planProvisioningAddress, type ProvisioningConfig } from "./plan-provisioning.js";

// Real `ip -j addr show` / `ip -j -4 route show table all` outputs, one namespace per case
// (test/fixtures/net/capture.sh builds them).
const fixtures = join(import.meta.dirname, "../../../test/fixtures/net");
function host(name: string) {
  const read = (file: string) => readFileSync(join(fixtures, name, file), "utf8");
  return { interfaces: parseIpAddr(read("ip-addr.json")), routes: parseIpRoutes(read("ip-route.json")) };
}
const macOf = (name: string, ifname: string) => host(name).interfaces.find((i) => i.name === ifname)!.mac;

interface Case {
  name: string;
  fixture: string;
  config?: ProvisioningConfig;
  leaseTried?: boolean;
  want: { kind: "lease"; interface: string } | { interface: string; cidr: string; source: string; add: boolean } | { error: RegExp };
}

const cases: Case[] = [
  { name: "a link, no address: try a lease first", fixture: "carrier-no-address", want: { kind: "lease", interface: "eth1" } },
  {
    name: "a link, no address, no lease: the first default /24",
    fixture: "carrier-no-address",
    leaseTried: true,
    want: { interface: "eth1", cidr: "172.30.213.1/24", source: "default", add: true },
  },
  { name: "the address the interface has", fixture: "carrier-with-address", want: { interface: "eth1", cidr: "10.50.0.5/24", source: "present", add: false } },
  {
    name: "the configured address wins over the present one",
    fixture: "carrier-with-address",
    config: { address: "10.50.0.1/24" },
    want: { interface: "eth1", cidr: "10.50.0.1/24", source: "configured", add: true },
  },
  {
    name: "a configured address already present is not added again",
    fixture: "carrier-with-address",
    config: { interface: "eth1", address: "10.50.0.5/24" },
    want: { interface: "eth1", cidr: "10.50.0.5/24", source: "configured", add: false },
  },
  {
    name: "the first default /24 routed already: the second",
    fixture: "first-default-taken",
    leaseTried: true,
    want: { interface: "eth1", cidr: "10.213.13.1/24", source: "default", add: true },
  },
  { name: "every default /24 routed", fixture: "all-defaults-taken", leaseTried: true, want: { error: /every default provisioning subnet collides/ } },
  {
    name: "every default /24 routed, an address configured",
    fixture: "all-defaults-taken",
    config: { address: "10.0.5.1/24" },
    want: { interface: "eth1", cidr: "10.0.5.1/24", source: "configured", add: true },
  },
  { name: "no carrier anywhere", fixture: "no-carrier", want: { error: /no Ethernet interface with a carrier/ } },
  {
    name: "no carrier, but the site config names the interface",
    fixture: "no-carrier",
    config: { interface: "eth1", address: "10.20.0.1/24" },
    want: { interface: "eth1", cidr: "10.20.0.1/24", source: "configured", add: true },
  },
  {
    name: "the first port with a link, not the first port",
    fixture: "second-port-has-link",
    leaseTried: true,
    want: { interface: "eth2", cidr: "172.30.213.1/24", source: "default", add: true },
  },
  {
    name: "a configured interface that does not exist",
    fixture: "second-port-has-link",
    config: { interface: "eth9" },
    want: { error: /interface eth9 \(from the site config\) does not exist/ },
  },
  { name: "a port still down shows no carrier", fixture: "port-down", want: { error: /no Ethernet interface with a carrier/ } },
];

describe("planProvisioningAddress", () => {
  it.each(cases)("$name ($fixture)", ({ fixture, config = {}, leaseTried, want }) => {
    const { interfaces, routes } = host(fixture);
    if ("error" in want) {
      let thrown: unknown;
      try {
        planProvisioningAddress(interfaces, routes, config, { leaseTried });
      } catch (error) {
        thrown = error;
      }
      expect(isReconError(thrown) && thrown.code).toBe("NETWORK_UNAVAILABLE");
      expect((thrown as Error).message).toMatch(want.error);
      return;
    }
    const plan = planProvisioningAddress(interfaces, routes, config, { leaseTried });
    if ("kind" in want) {
      expect(plan).toEqual({ kind: "lease", interface: want.interface, mac: macOf(fixture, want.interface) });
      return;
    }
    expect(plan).toMatchObject({ kind: "address", ...want, mac: macOf(fixture, want.interface) });
  });

  it("gives the network and prefix of the chosen address", () => {
    const { interfaces, routes } = host("carrier-with-address");
    expect(planProvisioningAddress(interfaces, routes, {})).toMatchObject({ address: "10.50.0.5", prefix: 24, network: "10.50.0.0" });
  });
});

describe("interfacesToBringUp", () => {
  it("brings administratively down Ethernet ports up, never lo", () => {
    expect(interfacesToBringUp(host("port-down").interfaces, {})).toEqual(["eth1"]);
    expect(interfacesToBringUp(host("carrier-no-address").interfaces, {})).toEqual([]);
  });
  it("only the configured one when the site config names one", () => {
    expect(interfacesToBringUp(host("port-down").interfaces, { interface: "eth2" })).toEqual([]);
    expect(interfacesToBringUp(host("port-down").interfaces, { interface: "eth1" })).toEqual(["eth1"]);
  });
});

describe("defaultPool", () => {
  it.each([
    [
      { network: "172.30.213.0", prefix: 24 },
      { start: "172.30.213.100", end: "172.30.213.250" },
    ],
    [
      // A wider subnet holds a wider pool (issue #14: it stopped at .250, 151 nodes, whatever the prefix).
      { network: "10.0.0.0", prefix: 16 },
      { start: "10.0.0.100", end: "10.0.255.250" },
    ],
    [
      { network: "172.30.212.0", prefix: 22 },
      { start: "172.30.212.100", end: "172.30.215.250" },
    ],
    [
      { network: "10.1.2.0", prefix: 26 },
      { start: "10.1.2.32", end: "10.1.2.62" },
    ],
  ])("%o → %o", (net, pool) => {
    expect(defaultPool(net)).toEqual(pool);
  });

  it("chooses a default network that fits the expected fleet", () => {
    const plan = (expectedNodes: number | undefined) =>
      planProvisioningAddress(
        [{ name: "eth0", mac: "52:54:00:00:00:01", up: true, carrier: true, loopback: false, ipv4: [] }],
        [],
        { fleet: { expectedNodes } },
        { leaseTried: true },
      );
    const fits = (expectedNodes: number | undefined) => {
      const p = plan(expectedNodes);
      if (p.kind !== "address") throw new Error("no address");
      const pool = defaultPool(p);
      return { cidr: p.cidr, pool: `${pool.start}-${pool.end}` };
    };
    expect(fits(undefined)).toEqual({ cidr: "172.30.213.1/24", pool: "172.30.213.100-172.30.213.250" });
    expect(fits(151)).toEqual({ cidr: "172.30.213.1/24", pool: "172.30.213.100-172.30.213.250" });
    expect(fits(152)).toEqual({ cidr: "172.30.212.1/23", pool: "172.30.212.100-172.30.213.250" });
    expect(fits(900)).toEqual({ cidr: "172.30.212.1/22", pool: "172.30.212.100-172.30.215.250" });
  });
});
