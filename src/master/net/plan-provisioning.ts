/**
 * The pure part of network bring-up: given what `ip -j addr` and `ip -j route` show and the site
 * config, which interface provisions and which address it carries (configured, present, a lease
 * to try, or a free default /24), and the DHCP pool inside that subnet. No I/O: bring-up.ts runs
 * the commands this plan asks for.
 */
import { ReconError } from "../../lib/errors.js";
import { defaultPoolOffsets, formatIpv4, parseIpv4, parseIpv4Cidr, prefixFor } from "../../model/net-address.js";
import type { SiteConfig } from "../../model/site-config.js";
import { chooseInterface, pickDefaultSubnet, type Interface } from "./ip.js";
import { DEFAULT_EXPECTED_NODES } from "../scale.js";

export type ProvisioningConfig = Pick<SiteConfig, "interface" | "address"> & { fleet?: Pick<SiteConfig["fleet"], "expectedNodes"> };

/** The provisioning network once it is up. */
export interface Provisioning {
  interface: string;
  mac: string;
  address: string;
  prefix: number;
  network: string;
}

export type AddressSource = "configured" | "present" | "default";

export type ProvisioningAddressPlan =
  /** Use this address; `add` when the interface does not carry it yet. */
  | (Provisioning & { kind: "address"; cidr: string; source: AddressSource; add: boolean })
  /** Nothing configured or present: ask the site's DHCP server first, then plan again with `leaseTried`. */
  | { kind: "lease"; interface: string; mac: string };

/**
 * Ethernet ports that are administratively down show no carrier: these are brought up (the
 * configured one only, if there is one) before choosing.
 */
export function interfacesToBringUp(interfaces: Interface[], config: ProvisioningConfig): string[] {
  return interfaces.filter((i) => !i.loopback && i.mac !== undefined && !i.up && (!config.interface || i.name === config.interface)).map((i) => i.name);
}

/**
 * The configured interface, else the first Ethernet port with a link; the configured address,
 * else the one it has, else (after a lease was tried) the first default /24 that collides with no
 * route or address. Throws NETWORK_UNAVAILABLE when there is no such interface or subnet.
 */
export function planProvisioningAddress(
  interfaces: Interface[],
  routes: string[],
  config: ProvisioningConfig,
  options: { leaseTried?: boolean } = {},
): ProvisioningAddressPlan {
  const chosen = chooseInterface(interfaces, config.interface);
  if (!chosen || !chosen.mac) {
    throw new ReconError(
      "NETWORK_UNAVAILABLE",
      config.interface ? `interface ${config.interface} (from the site config) does not exist or has no MAC` : "no Ethernet interface with a carrier (link)",
      {
        hint: `interfaces seen: ${interfaces.map((i) => `${i.name}${i.carrier ? "(link)" : ""}`).join(", ")}; plug the provisioning network in or set interface: in the site config`,
      },
    );
  }
  let cidr = config.address;
  let source: AddressSource = "configured";
  if (!cidr && chosen.ipv4[0]) {
    cidr = `${chosen.ipv4[0].address}/${chosen.ipv4[0].prefix}`;
    source = "present";
  }
  if (!cidr && !options.leaseTried) return { kind: "lease", interface: chosen.name, mac: chosen.mac };
  if (!cidr) {
    // A network that fits the expected fleet: a /24 up to 151 nodes, wider beyond (issue #14).
    const prefix = prefixFor(config.fleet?.expectedNodes ?? DEFAULT_EXPECTED_NODES);
    const subnet = pickDefaultSubnet(routes, interfaces, prefix);
    if (!subnet)
      throw new ReconError("NETWORK_UNAVAILABLE", `every default provisioning subnet collides with a route on this node (/${prefix} for the expected fleet)`, {
        hint: "set address: in the site config",
      });
    const network = parseIpv4Cidr(subnet)!;
    cidr = `${formatIpv4(parseIpv4(network.network)! + 1)}/${prefix}`;
    source = "default";
  }
  const parsed = parseIpv4Cidr(cidr)!;
  const add = !chosen.ipv4.some((a) => a.address === parsed.address);
  return {
    kind: "address",
    interface: chosen.name,
    mac: chosen.mac,
    cidr,
    source,
    add,
    address: parsed.address,
    prefix: parsed.prefix,
    network: parsed.network,
  };
}

/** dhcp.pool, else recon's default pool of the subnet (src/model/net-address.ts defaultPoolOffsets). */
export function defaultPool(net: Pick<Provisioning, "network" | "prefix">): { start: string; end: string } {
  const base = parseIpv4(net.network)!;
  const { start, end } = defaultPoolOffsets(net.prefix);
  return { start: formatIpv4(base + start), end: formatIpv4(base + end) };
}
