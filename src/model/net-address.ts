/**
 * MAC and IPv4 primitives shared by the site config, the boot decision, the store, the agent and
 * the review. Pure. The one `normalizeMac`: every MAC recon keeps is lower-case, colon-separated.
 */

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function parseIpv4(text: string): number | undefined {
  if (!IPV4.test(text)) return undefined;
  return text.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

export interface Ipv4Cidr {
  address: string;
  prefix: number;
  /** The network address (host bits cleared), e.g. 10.20.0.0 for 10.20.0.1/24. */
  network: string;
}

export function parseIpv4Cidr(text: string): Ipv4Cidr | undefined {
  const match = /^([\d.]+)\/(\d{1,2})$/.exec(text);
  if (!match) return undefined;
  const value = parseIpv4(match[1]!);
  const prefix = Number(match[2]);
  if (value === undefined || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  return { address: match[1]!, prefix, network: formatIpv4(Math.floor(value / size) * size) };
}

export function ipv4InCidr(ip: string, cidr: Ipv4Cidr): boolean {
  const value = parseIpv4(ip);
  const network = parseIpv4(cidr.network);
  if (value === undefined || network === undefined) return false;
  const size = 2 ** (32 - cidr.prefix);
  return Math.floor(value / size) * size === network;
}

/**
 * recon's default DHCP pool in a subnet (when dhcp.pool is not set), as offsets from the network
 * address: from .100 (the low block stays for the site's own hosts; half of a smaller subnet) up
 * to .250 in a /24 or smaller, and to 5 short of the broadcast address in a larger one, so a /22
 * holds 919 nodes, not 151 (issue #14).
 */
export function defaultPoolOffsets(prefix: number): { start: number; end: number } {
  const size = 2 ** (32 - prefix);
  return { start: Math.min(100, Math.floor(size / 2)), end: size > 256 ? size - 6 : Math.min(250, size - 2) };
}

/** The longest prefix (smallest subnet) whose default pool holds `nodes` (/24 up to 151). */
export function prefixFor(nodes: number): number {
  for (let prefix = 24; prefix > 8; prefix--) {
    const { start, end } = defaultPoolOffsets(prefix);
    if (end - start + 1 >= nodes) return prefix;
  }
  return 8;
}

/** `52-54-00-AB-CD-EF`, `5254.00ab.cdef` and `52:54:00:ab:cd:ef` all become the last form. */
export function normalizeMac(text: string): string | undefined {
  const hex = text.toLowerCase().replace(/[:.-]/g, "");
  if (!/^[0-9a-f]{12}$/.test(hex)) return undefined;
  return hex.match(/../g)!.join(":");
}
