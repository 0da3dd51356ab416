import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { parseCmdline } from "./kernel-cmdline.js";
import { ReconError } from "../lib/errors.js";
import { applyKernelOverrides, parseSiteConfig, Secret, type SiteConfig } from "./site-config.js";
import { normalizeMac, parseIpv4Cidr } from "./net-address.js";

function configError(text: string): ReconError {
  try {
    parseSiteConfig(text, "recon.yaml");
  } catch (error) {
    expect(error).toBeInstanceOf(ReconError);
    expect((error as ReconError).code).toBe("CONFIG_INVALID");
    return error as ReconError;
  }
  throw new Error("expected CONFIG_INVALID");
}

const FULL = `
interface: eno1
address: 10.20.0.1/24
ipv6Prefix: "fd00:20::"
dhcp:
  mode: authoritative
  pool: { start: 10.20.0.100, end: 10.20.0.199 }
dns: { enabled: true, domain: dc1.example }
http: { port: 8080 }
defaults:
  postAction: poweroff
  bmc: { username: admin, passwordFile: /etc/recon/bmc-password }
networks:
  10.20.0.0/24: { kernelArgs: [nomodeset] }
groups:
  rack-a:
    hostnames: ["rack-a-*"]
    postAction: stay
hosts:
  52-54-00-AB-CD-EF:
    hostname: rack-a-01
    bmc: { address: 10.30.0.11, password: hunter2 }
`;

describe("parseSiteConfig", () => {
  it("fills every default from an empty file", () => {
    const config = parseSiteConfig("");
    expect(config.dhcp).toEqual({ mode: "auto", leaseTime: "1h" });
    expect(config.dns).toEqual({ enabled: false, domain: "recon.lan" });
    expect(config.http.port).toBe(80);
    expect(config.defaults).toEqual({});
    expect(config.hosts).toEqual({});
  });

  it("reads a full config and keys hosts by normalized MAC", () => {
    const config = parseSiteConfig(FULL);
    expect(config.interface).toBe("eno1");
    expect(config.dhcp.pool).toEqual({ start: "10.20.0.100", end: "10.20.0.199" });
    expect(config.http.port).toBe(8080);
    expect(Object.keys(config.hosts)).toEqual(["52:54:00:ab:cd:ef"]);
    expect(config.hosts["52:54:00:ab:cd:ef"]?.bmc?.password?.reveal()).toBe("hunter2");
  });

  it("never prints a BMC password: String, JSON, inspect", () => {
    const config = parseSiteConfig(FULL);
    const dumped = [JSON.stringify(config), inspect(config, { depth: 10 }), String(config.hosts["52:54:00:ab:cd:ef"]?.bmc?.password)];
    for (const text of dumped) {
      expect(text).not.toContain("hunter2");
      expect(text).toContain("[redacted]");
    }
  });

  it.each([
    ["dhcp:\n  mode: relay\n", "dhcp.mode: 'relay' is not allowed; use one of auto, authoritative, proxy, off"],
    ["htpp: {port: 80}\n", "(top level): unknown key(s) 'htpp'; remove them or fix the spelling"],
    ["http: {port: eighty}\n", "http.port: expected number, got string"],
    ["http: {port: 70000}\n", "http.port:"],
    ["hosts:\n  not-a-mac: {}\n", "hosts.not-a-mac: the key must be a MAC address"],
    ["hosts:\n  52:54:00:00:00:01: {}\n  52-54-00-00-00-01: {}\n", "the same MAC as hosts.52:54:00:00:00:01; merge the two"],
    ["networks:\n  10.20.0.1/24: {}\n", "networks.10.20.0.1/24: host bits are set; the subnet is 10.20.0.0/24"],
    ["networks:\n  lab: {}\n", "networks.lab: the key must be a subnet"],
    ["groups:\n  rack-a: {postAction: stay}\n", "groups.rack-a: a group needs `macs` or `hostnames`"],
    ["groups:\n  rack-a: {macs: [zz]}\n", "groups.rack-a.macs.0: 'zz' is not a MAC address"],
    ["defaults: {action: wipe}\n", "defaults.action: 'wipe' is not allowed; use one of inventory, ignore"],
    ["defaults: {firmwareFile: pxelinux.0}\n", "use one of shimx64.efi, ipxe.efi, snponly.efi"],
    ["defaults: {kernelArgs: ['a b']}\n", "defaults.kernelArgs.0: a kernel argument is one word"],
    ["defaults: {hostname: a.b}\n", "defaults.hostname: a hostname is one DNS label"],
    ["defaults: {bmc: {passwordFile: secret.txt}}\n", "defaults.bmc.passwordFile: passwordFile must be an absolute path"],
    ["dhcp: {mode: authoritative, pool: {start: 10.0.0.10, end: 10.0.0.20}}\n", "address: authoritative DHCP needs the master's own address"],
    ["address: 10.0.0.1/24\ndhcp: {mode: authoritative}\n", "dhcp.pool: authoritative DHCP needs a pool"],
    ["address: 10.0.0.1/24\ndhcp: {pool: {start: 10.0.0.20, end: 10.0.0.10}}\n", "dhcp.pool: start comes after end"],
    ["address: 10.0.0.1/24\ndhcp: {pool: {start: 10.0.1.10, end: 10.0.1.20}}\n", "inside the master's subnet 10.0.0.0/24"],
    ["address: 10.0.0.50/24\ndhcp: {pool: {start: 10.0.0.10, end: 10.0.0.90}}\n", "contains the master's own address 10.0.0.50"],
    ["address: 10.0.0.1\n", "address: write the address with its prefix"],
    ["ipv6Prefix: fd00:20::/64\n", "ipv6Prefix: write the /64 prefix ending in '::'"],
    ["ips:\n  10.20.0.0/24: {}\n", "ips.10.20.0.0/24: the key must be one IPv4 address like 10.20.0.57 (a subnet goes under networks)"],
    ["ips:\n  10.20.0.057: {}\n", "ips.10.20.0.057: the key must be one IPv4 address"],
    ["ips:\n  10.20.0.5: {hosts: {}}\n", "ips.10.20.0.5: unknown key(s) 'hosts'"],
    ["defaults: {root: iscsi}\n", "defaults.root: 'iscsi' is not allowed; use one of http, nbd, nfs, nbd-rw"],
    ["hosts:\n  52:54:00:00:00:01: {image: Debian 12}\n", "hosts.52:54:00:00:00:01.image: an image label is the recipe name"],
  ])("%j → %s", (text, expected) => {
    const error = configError(text);
    expect(error.message).toContain(expected);
    expect(error.message).toContain("recon.yaml is not valid");
    expect(error.hint).toContain("docs/site-config.md");
  });

  it("never echoes a bad password value, even one of the wrong type", () => {
    const error = configError("defaults:\n  bmc: {password: [hunter2]}\n");
    expect(error.message).toContain("defaults.bmc.password: invalid (value not shown)");
    expect(error.message).not.toContain("hunter2");
  });

  it("reports YAML syntax errors with a position but without quoting the line", () => {
    const error = configError('defaults:\n  bmc: {password: "hunter2}\n');
    expect(error.message).toMatch(/not valid YAML at line \d+, column \d+/);
    expect(error.message).not.toContain("hunter2");
  });

  it("rejects duplicate keys instead of silently keeping the last", () => {
    expect(configError("http: {port: 80}\nhttp: {port: 81}\n").message).toContain("not valid YAML");
  });
});

describe("helpers", () => {
  it.each([
    ["52:54:00:AB:CD:EF", "52:54:00:ab:cd:ef"],
    ["52-54-00-ab-cd-ef", "52:54:00:ab:cd:ef"],
    ["5254.00ab.cdef", "52:54:00:ab:cd:ef"],
    ["52:54:00:ab:cd", undefined],
    ["52:54:00:ab:cd:eg", undefined],
  ])("normalizeMac(%s) = %s", (input, expected) => {
    expect(normalizeMac(input)).toBe(expected);
  });

  it("parses CIDRs and computes the network", () => {
    expect(parseIpv4Cidr("10.20.3.7/22")).toEqual({ address: "10.20.3.7", prefix: 22, network: "10.20.0.0" });
    expect(parseIpv4Cidr("10.20.3.7/33")).toBeUndefined();
    expect(parseIpv4Cidr("10.20.3.256/24")).toBeUndefined();
  });

  it("Secret reveals only on request", () => {
    const secret = new Secret("pw");
    expect(secret.reveal()).toBe("pw");
    expect(String(secret)).toBe("[redacted]");
  });
});

describe("applyKernelOverrides", () => {
  const base: SiteConfig = parseSiteConfig(FULL);

  it("returns the same config when no override is given", () => {
    const result = applyKernelOverrides(base, parseCmdline("root=live:CDLABEL=RECON quiet"));
    expect(result.config).toBe(base);
    expect(result.applied).toEqual([]);
  });

  it("applies overrides, last repeat wins, and keeps the secret a secret", () => {
    const result = applyKernelOverrides(base, parseCmdline("recon.dhcp=authoritative recon.dhcp=proxy recon.interface=eth1 recon.dns=off recon.port=8081"));
    expect(result.config.dhcp.mode).toBe("proxy");
    expect(result.config.interface).toBe("eth1");
    expect(result.config.dns.enabled).toBe(false);
    expect(result.config.http.port).toBe(8081);
    expect(result.applied).toEqual(["recon.dhcp=proxy", "recon.interface=eth1", "recon.dns=off", "recon.port=8081"]);
    expect(result.config.hosts["52:54:00:ab:cd:ef"]?.bmc?.password?.reveal()).toBe("hunter2");
    expect(base.dhcp.mode).toBe("authoritative");
  });

  it("sets the pool and address together", () => {
    const result = applyKernelOverrides(
      parseSiteConfig(""),
      parseCmdline("recon.dhcp=authoritative recon.address=192.168.7.1/24 recon.pool=192.168.7.50-192.168.7.99"),
    );
    expect(result.config.address).toBe("192.168.7.1/24");
    expect(result.config.dhcp.pool).toEqual({ start: "192.168.7.50", end: "192.168.7.99" });
  });

  it.each([
    ["recon.dhcp=relay", "dhcp.mode: 'relay' is not allowed"],
    ["recon.dns=maybe", "recon.dns: 'maybe' is not allowed; use on or off"],
    ["recon.pool=10.20.0.5", "write it as recon.pool=10.20.0.100-10.20.0.200"],
    ["recon.port=http", "http.port: expected number, got string"],
    ["recon.pool=10.20.0.50-10.20.0.60 recon.address=10.21.0.1/24", "inside the master's subnet 10.21.0.0/24"],
  ])("rejects %s", (cmdline, expected) => {
    expect(() => applyKernelOverrides(base, parseCmdline(cmdline))).toThrow(expected);
  });
});

describe("fleet.expectedNodes (issue #14)", () => {
  const invalid = (text: string) => {
    try {
      parseSiteConfig(text);
    } catch (error) {
      return (error as Error).message;
    }
    return "valid";
  };

  it("refuses a pool smaller than the expected fleet, naming both", () => {
    expect(
      invalid("address: 10.20.0.1/24\ndhcp: { mode: authoritative, pool: { start: 10.20.0.100, end: 10.20.0.199 } }\nfleet: { expectedNodes: 150 }\n"),
    ).toMatch(/dhcp\.pool: the pool holds 100 addresses but fleet\.expectedNodes is 150/);
    expect(
      invalid("address: 10.20.0.1/24\ndhcp: { mode: authoritative, pool: { start: 10.20.0.100, end: 10.20.0.199 } }\nfleet: { expectedNodes: 100 }\n"),
    ).toBe("valid");
  });

  it("refuses an address whose subnet cannot hold the fleet in recon's default pool, and says which prefix would", () => {
    expect(invalid("address: 10.20.0.1/24\nfleet: { expectedNodes: 400 }\n")).toMatch(
      /400 nodes do not fit .* 10\.20\.0\.0\/24 \(151 addresses\).*\/23 holds them/,
    );
    expect(invalid("address: 10.20.0.1/23\nfleet: { expectedNodes: 400 }\n")).toBe("valid");
    // A proxy site hands out its own addresses: recon's pool does not matter.
    expect(invalid("address: 10.20.0.1/24\ndhcp: { mode: proxy }\nfleet: { expectedNodes: 400 }\n")).toBe("valid");
  });
});

describe("distribution (issue #14 item 5, peer assist)", () => {
  it("is off by default: the HTTP path stays the default", () => {
    expect(parseSiteConfig("address: 10.20.0.1/24\n").distribution).toEqual({ peerAssist: false, trackerPort: 6969, seedTimeS: 120, seedRatio: 4 });
  });

  it("takes the switch and its bounds", () => {
    const config = parseSiteConfig("distribution: { peerAssist: true, trackerPort: 7000, seedTimeS: 30, seedRatio: 1.5 }\n");
    expect(config.distribution).toEqual({ peerAssist: true, trackerPort: 7000, seedTimeS: 30, seedRatio: 1.5 });
  });

  it.each([
    ["distribution: { peerAssist: yes please }\n", "distribution.peerAssist"],
    ["distribution: { seedTimeS: 86400 }\n", "distribution.seedTimeS: at most 3600 s"],
    ["distribution: { trackerPort: 0 }\n", "distribution.trackerPort"],
    ["distribution: { peers: 3 }\n", "peers"],
  ])("rejects %s naming %s", (text, expected) => {
    expect(configError(text).message).toContain(expected);
  });
});
