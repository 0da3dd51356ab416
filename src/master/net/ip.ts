/**
 * `ip -j addr` / `ip -j route` parsers and the pure choices of network bring-up: which interface
 * provisions, and which private /24 to use when nobody gave one.
 */
import { parseIpv4, parseIpv4Cidr } from "../../model/net-address.js";

export interface Interface {
  name: string;
  mac: string | undefined;
  up: boolean;
  carrier: boolean;
  loopback: boolean;
  ipv4: Array<{ address: string; prefix: number }>;
}

export const IP_ADDR_ARGS = ["-j", "addr", "show"];
export const IP_ROUTE_ARGS = ["-j", "-4", "route", "show", "table", "all"];

interface IpAddrJson {
  ifname: string;
  address?: string;
  flags?: string[];
  operstate?: string;
  link_type?: string;
  addr_info?: Array<{ family: string; local: string; prefixlen: number }>;
}

export function parseIpAddr(json: string): Interface[] {
  return (JSON.parse(json) as IpAddrJson[]).map((entry) => ({
    name: entry.ifname,
    mac: entry.link_type === "ether" ? entry.address : undefined,
    up: (entry.flags ?? []).includes("UP"),
    carrier: (entry.flags ?? []).includes("LOWER_UP"),
    loopback: entry.link_type === "loopback" || (entry.flags ?? []).includes("LOOPBACK"),
    ipv4: (entry.addr_info ?? []).filter((a) => a.family === "inet").map((a) => ({ address: a.local, prefix: a.prefixlen })),
  }));
}

export function parseIpRoutes(json: string): string[] {
  return (JSON.parse(json) as Array<{ dst: string }>).map((r) => r.dst).filter((d) => d && d !== "default");
}

/** The configured interface, else the first Ethernet interface with carrier. */
export function chooseInterface(interfaces: Interface[], configured: string | undefined): Interface | undefined {
  if (configured) return interfaces.find((i) => i.name === configured);
  return interfaces.find((i) => !i.loopback && i.mac !== undefined && i.carrier);
}

/** Candidate provisioning subnets, from least to most likely to be in use on a site. */
export const DEFAULT_SUBNETS = ["172.30.213.0/24", "10.213.13.0/24", "192.168.213.0/24"];

function overlaps(a: string, b: string): boolean {
  const x = parseIpv4Cidr(a.includes("/") ? a : `${a}/32`);
  const y = parseIpv4Cidr(b.includes("/") ? b : `${b}/32`);
  if (!x || !y) return false;
  const prefix = Math.min(x.prefix, y.prefix);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return (parseIpv4(x.network)! & mask) >>> 0 === (parseIpv4(y.network)! & mask) >>> 0;
}

/** The first default /24 that collides with no route and no address this node already has. */
/**
 * The first default subnet that collides with no route or address, widened to `prefix` (the
 * aligned network holding the default /24, e.g. 172.30.212.0/22) when the fleet needs more room.
 */
export function pickDefaultSubnet(routes: string[], interfaces: Interface[], prefix = 24): string | undefined {
  const taken = [...routes, ...interfaces.flatMap((i) => i.ipv4.map((a) => `${a.address}/${a.prefix}`))];
  return DEFAULT_SUBNETS.map((subnet) => {
    const wide = parseIpv4Cidr(subnet.replace(/\/24$/, `/${Math.min(24, prefix)}`))!;
    return `${wide.network}/${wide.prefix}`;
  }).find((subnet) => !taken.some((t) => overlaps(subnet, t)));
}
