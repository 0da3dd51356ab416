import { describe, expect, it } from "vitest";
import { globToRegExp, resolveNodeSettings, type NodeIdentity } from "./resolve-node-settings.js";
import { parseSiteConfig } from "./site-config.js";

const config = parseSiteConfig(`
defaults:
  postAction: poweroff
  kernelArgs: [loglevel=4]
  bmc: { username: admin, passwordFile: /etc/recon/bmc }
networks:
  10.20.0.0/16: { kernelArgs: [net16], firmwareFile: snponly.efi }
  10.20.5.0/24: { kernelArgs: [net24], postAction: reboot }
groups:
  rack-a:
    hostnames: ["rack-a-*"]
    kernelArgs: [groupA]
    postAction: stay
  gpu:
    macs: ["52:54:00:00:00:02"]
    consoles: [tty0]
    action: ignore
  rack-a-odd:
    hostnames: ["rack-a-0[13579]"]
    kernelArgs: [odd]
hosts:
  52:54:00:00:00:03:
    hostname: rack-a-03
    kernelArgs: [host]
    postAction: poweroff
    bmc: { address: 10.30.0.3 }
  52:54:00:00:00:04:
    action: ignore
    reinventory: true
  52:54:00:00:00:05:
    image: rocky-9
    root: nbd
    kernelArgs: [host5]
    postAction: stay
ips:
  10.20.5.55:
    image: debian-12-gpu
    kernelArgs: [ip55]
    postAction: reboot
`);

const cases: Array<{
  name: string;
  node: NodeIdentity;
  action: string;
  postAction: string;
  kernelArgs: string[];
  firmwareFile: string | undefined;
  consoles: string[];
  sources: string[];
}> = [
  {
    name: "only defaults (no IP yet)",
    node: { mac: "52:54:00:00:00:01" },
    action: "inventory",
    postAction: "poweroff",
    kernelArgs: ["loglevel=4"],
    firmwareFile: undefined,
    consoles: ["ttyS0,115200n8", "tty0"],
    sources: ["defaults"],
  },
  {
    name: "outside every network",
    node: { mac: "52:54:00:00:00:01", ip: "10.21.0.9" },
    action: "inventory",
    postAction: "poweroff",
    kernelArgs: ["loglevel=4"],
    firmwareFile: undefined,
    consoles: ["ttyS0,115200n8", "tty0"],
    sources: ["defaults"],
  },
  {
    name: "nested networks: the /24 comes after the /16",
    node: { mac: "52:54:00:00:00:01", ip: "10.20.5.9" },
    action: "inventory",
    postAction: "reboot",
    kernelArgs: ["loglevel=4", "net16", "net24"],
    firmwareFile: "snponly.efi",
    consoles: ["ttyS0,115200n8", "tty0"],
    sources: ["defaults", "networks.10.20.0.0/16", "networks.10.20.5.0/24"],
  },
  {
    name: "group by DHCP hostname glob over the network",
    node: { mac: "52:54:00:00:00:01", ip: "10.20.5.9", hostname: "RACK-A-12" },
    action: "inventory",
    postAction: "stay",
    kernelArgs: ["loglevel=4", "net16", "net24", "groupA"],
    firmwareFile: "snponly.efi",
    consoles: ["ttyS0,115200n8", "tty0"],
    sources: ["defaults", "networks.10.20.0.0/16", "networks.10.20.5.0/24", "groups.rack-a"],
  },
  {
    name: "group by MAC replaces consoles",
    node: { mac: "52-54-00-00-00-02", ip: "10.99.0.1" },
    action: "ignore",
    postAction: "poweroff",
    kernelArgs: ["loglevel=4"],
    firmwareFile: undefined,
    consoles: ["tty0"],
    sources: ["defaults", "groups.gpu"],
  },
  {
    name: "host entry's hostname puts it in two groups (file order), host last",
    node: { mac: "52:54:00:00:00:03", ip: "10.20.0.3", hostname: "ignored-by-host-entry" },
    action: "inventory",
    postAction: "poweroff",
    kernelArgs: ["loglevel=4", "net16", "groupA", "odd", "host"],
    firmwareFile: "snponly.efi",
    consoles: ["ttyS0,115200n8", "tty0"],
    sources: ["defaults", "networks.10.20.0.0/16", "groups.rack-a", "groups.rack-a-odd", "hosts.52:54:00:00:00:03"],
  },
];

describe("resolveNodeSettings", () => {
  it("applies the IP layer after the host (MAC) layer: the exact address wins", () => {
    const resolved = resolveNodeSettings(config, { mac: "52:54:00:00:00:05", ip: "10.20.5.55" });
    expect(resolved.sources).toEqual(["defaults", "networks.10.20.0.0/16", "networks.10.20.5.0/24", "hosts.52:54:00:00:00:05", "ips.10.20.5.55"]);
    expect(resolved.image).toBe("debian-12-gpu");
    expect(resolved.root).toBe("nbd");
    expect(resolved.postAction).toBe("reboot");
    expect(resolved.kernelArgs).toEqual(["loglevel=4", "net16", "net24", "host5", "ip55"]);
  });

  it("takes image and root from the host when no IP entry matches; defaults are the own image over http", () => {
    const host = resolveNodeSettings(config, { mac: "52:54:00:00:00:05", ip: "10.20.5.56" });
    expect([host.image, host.root, host.postAction]).toEqual(["rocky-9", "nbd", "stay"]);
    expect(host.sources.at(-1)).toBe("hosts.52:54:00:00:00:05");
    const plain = resolveNodeSettings(config, { mac: "52:54:00:00:00:01" });
    expect([plain.image, plain.root]).toEqual([undefined, "http"]);
  });

  it("an IP entry applies to any MAC that leased that address", () => {
    const resolved = resolveNodeSettings(config, { mac: "52:54:00:00:00:09", ip: "10.20.5.55" });
    expect(resolved.image).toBe("debian-12-gpu");
    expect(resolved.sources.at(-1)).toBe("ips.10.20.5.55");
  });

  it.each(cases)("$name", ({ node, action, postAction, kernelArgs, firmwareFile, consoles, sources }) => {
    const resolved = resolveNodeSettings(config, node);
    expect(resolved.action).toBe(action);
    expect(resolved.postAction).toBe(postAction);
    expect(resolved.kernelArgs).toEqual(kernelArgs);
    expect(resolved.firmwareFile).toBe(firmwareFile);
    expect(resolved.consoles).toEqual(consoles);
    expect(resolved.sources).toEqual(sources);
  });

  it("merges BMC settings field by field", () => {
    expect(resolveNodeSettings(config, { mac: "52:54:00:00:00:03" }).bmc).toEqual({
      username: "admin",
      passwordFile: "/etc/recon/bmc",
      address: "10.30.0.3",
    });
  });

  it("uses the host entry's hostname, else the one from DHCP", () => {
    expect(resolveNodeSettings(config, { mac: "52:54:00:00:00:03", hostname: "x" }).hostname).toBe("rack-a-03");
    expect(resolveNodeSettings(config, { mac: "52:54:00:00:00:01", hostname: "x" }).hostname).toBe("x");
    expect(resolveNodeSettings(config, { mac: "52:54:00:00:00:01" }).hostname).toBeUndefined();
  });

  it("reads reinventory", () => {
    expect(resolveNodeSettings(config, { mac: "52:54:00:00:00:04" }).reinventory).toBe(true);
    expect(resolveNodeSettings(config, { mac: "52:54:00:00:00:01" }).reinventory).toBe(false);
  });
});

describe("globToRegExp", () => {
  it.each([
    ["rack-a-*", "rack-a-17", true],
    ["rack-a-*", "rack-b-17", false],
    ["node-??", "node-07", true],
    ["node-??", "node-7", false],
    ["n[0-3]", "n2", true],
    ["n[!0-3]", "n2", false],
    ["a.b", "axb", false],
    ["db(1)", "db(1)", true],
  ])("%s ~ %s → %s", (glob, name, expected) => {
    expect(globToRegExp(glob).test(name)).toBe(expected);
  });
});
