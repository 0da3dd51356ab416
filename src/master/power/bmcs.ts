/**
 * The fleet's BMCs as the site config lists them (pure): `bmcs:` entries with `defaults.bmc`
 * filling username and password, plus hosts whose settings carry a `bmc.address` (keyed by the
 * host's MAC). Lookup by node MAC, BMC address or name.
 */
import type { BmcTarget } from "../../ipmi/ipmitool.js";
import type { SiteConfig } from "../../model/site-config.js";
import { normalizeMac } from "../../model/net-address.js";

export interface FleetBmc extends BmcTarget {
  /** How the fleet names it: the entry's name, else the node's MAC, else the address. */
  name: string;
  /** The node's boot NIC, when known. */
  mac: string | undefined;
}

export function fleetBmcs(config: SiteConfig): FleetBmc[] {
  const defaults = config.defaults.bmc ?? {};
  const list: FleetBmc[] = [];
  const seen = new Set<string>();
  const add = (entry: {
    address: string;
    port?: number | undefined;
    username?: string | undefined;
    password?: BmcTarget["password"];
    passwordFile?: string | undefined;
    name?: string | undefined;
    mac?: string | undefined;
  }) => {
    const key = `${entry.address}:${entry.port ?? 623}`;
    if (seen.has(key)) return;
    seen.add(key);
    // An entry's own password or file wins as a pair; defaults fill only when it gives neither.
    const own = entry.password !== undefined || entry.passwordFile !== undefined;
    list.push({
      address: entry.address,
      port: entry.port,
      username: entry.username ?? defaults.username ?? "",
      password: own ? entry.password : defaults.password,
      passwordFile: own ? entry.passwordFile : defaults.passwordFile,
      name: entry.name ?? entry.mac ?? entry.address,
      mac: entry.mac,
    });
  };
  for (const bmc of config.bmcs) add(bmc);
  for (const [mac, settings] of Object.entries(config.hosts)) {
    if (settings.bmc?.address) add({ ...settings.bmc, address: settings.bmc.address, mac, name: settings.hostname ?? mac });
  }
  return list;
}

/** A node MAC (any spelling), a BMC address or a BMC name → the BMC; undefined when none. */
export function findBmc(bmcs: readonly FleetBmc[], key: string): FleetBmc | undefined {
  const mac = normalizeMac(key);
  if (mac !== undefined) {
    const byMac = bmcs.find((b) => b.mac === mac);
    if (byMac) return byMac;
  }
  return bmcs.find((b) => b.address === key || b.name === key);
}

/** What an API or CLI may show about a BMC: never the password, only whether a file holds it. */
export function describeBmc(bmc: FleetBmc): {
  name: string;
  mac: string | null;
  address: string;
  port: number;
  username: string;
  credentials: "password" | "passwordFile";
} {
  return {
    name: bmc.name,
    mac: bmc.mac ?? null,
    address: bmc.address,
    port: bmc.port ?? 623,
    username: bmc.username,
    credentials: bmc.passwordFile !== undefined ? "passwordFile" : "password",
  };
}
