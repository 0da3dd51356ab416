/**
 * Which settings apply to one node: defaults → networks (widest subnet first) → groups (file
 * order) → host (MAC) → IP (the exact address it leased), the most specific last. Pure; planBoot, the dnsmasq host file and the UI all
 * call it so they cannot disagree.
 */
import { type NodeSettings, type Secret, type SiteConfig, type UefiFirmwareFile } from "./site-config.js";
import type { PostAction } from "./peer-contract.js";
import { DEFAULT_ROOT_TRANSPORT, type RootTransport } from "./root-transport.js";
import { ipv4InCidr, normalizeMac, parseIpv4Cidr } from "./net-address.js";

export interface NodeIdentity {
  mac: string;
  ip?: string | undefined;
  /** The hostname the node asked for in DHCP, if any; a host entry's `hostname` wins. */
  hostname?: string | undefined;
}

export interface ResolvedBmc {
  address?: string | undefined;
  username?: string | undefined;
  passwordFile?: string | undefined;
  password?: Secret | undefined;
}

export interface ResolvedNodeSettings {
  action: "inventory" | "ignore";
  /** The image label the node boots; unset = the master's own image (planBoot checks the label exists). */
  image: string | undefined;
  root: RootTransport;
  postAction: PostAction;
  kernelArgs: string[];
  consoles: string[];
  /** Unset: the boot decision picks by DHCP mode (shim when authoritative, ipxe.efi in proxy mode; boot/plan-boot.ts). */
  firmwareFile: UefiFirmwareFile | undefined;
  hostname: string | undefined;
  reinventory: boolean;
  bmc: ResolvedBmc | undefined;
  /** The layers that applied, in order: `defaults`, `networks.10.20.0.0/24`, `groups.rack-a`, `hosts.52:…`, `ips.10.20.0.57`. */
  sources: string[];
}

/** Built-in values under `defaults`. Serial first and tty0 last: the last console is /dev/console. */
export const BUILTIN_NODE_SETTINGS = {
  action: "inventory",
  postAction: "poweroff",
  consoles: ["ttyS0,115200n8", "tty0"],
  reinventory: false,
} as const;

/** Shell-style glob (`*`, `?`, `[a-z]`) → anchored, case-insensitive RegExp (hostnames are). */
export function globToRegExp(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]!;
    if (char === "*") source += ".*";
    else if (char === "?") source += ".";
    else if (char === "[") {
      const close = glob.indexOf("]", i + 1);
      if (close < 0) source += "\\[";
      else {
        const body = glob
          .slice(i + 1, close)
          .replace(/^!/, "^")
          .replace(/\\/g, "\\\\");
        source += `[${body}]`;
        i = close;
      }
    } else source += char.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  return new RegExp(`^${source}$`, "i");
}

function layer(into: ResolvedNodeSettings, settings: NodeSettings, source: string): void {
  into.sources.push(source);
  if (settings.action !== undefined) into.action = settings.action;
  if (settings.image !== undefined) into.image = settings.image;
  if (settings.root !== undefined) into.root = settings.root;
  if (settings.postAction !== undefined) into.postAction = settings.postAction;
  if (settings.kernelArgs !== undefined) into.kernelArgs = [...into.kernelArgs, ...settings.kernelArgs];
  if (settings.consoles !== undefined) into.consoles = [...settings.consoles];
  if (settings.firmwareFile !== undefined) into.firmwareFile = settings.firmwareFile;
  if (settings.hostname !== undefined) into.hostname = settings.hostname;
  if (settings.reinventory !== undefined) into.reinventory = settings.reinventory;
  if (settings.bmc !== undefined) {
    // Field by field: defaults usually give username + passwordFile, hosts the address.
    const merged: ResolvedBmc = { ...into.bmc };
    for (const [key, value] of Object.entries(settings.bmc)) {
      if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
    }
    into.bmc = merged;
  }
}

export function resolveNodeSettings(config: SiteConfig, node: NodeIdentity): ResolvedNodeSettings {
  const mac = normalizeMac(node.mac) ?? node.mac.toLowerCase();
  const resolved: ResolvedNodeSettings = {
    ...BUILTIN_NODE_SETTINGS,
    image: undefined,
    root: DEFAULT_ROOT_TRANSPORT,
    consoles: [...BUILTIN_NODE_SETTINGS.consoles],
    kernelArgs: [],
    firmwareFile: undefined,
    hostname: undefined,
    bmc: undefined,
    sources: [],
  };
  layer(resolved, config.defaults, "defaults");

  if (node.ip !== undefined) {
    const networks = Object.entries(config.networks)
      .map(([key, settings]) => ({ key, settings, cidr: parseIpv4Cidr(key) }))
      .filter((entry) => entry.cidr !== undefined && ipv4InCidr(node.ip!, entry.cidr))
      // Widest first so a /26 inside a /24 is applied after (over) the /24.
      .sort((a, b) => a.cidr!.prefix - b.cidr!.prefix);
    for (const { key, settings } of networks) layer(resolved, settings, `networks.${key}`);
  }

  const host = config.hosts[mac];
  // A group may match on the hostname the host entry assigns, not only the one DHCP reported.
  const hostname = host?.hostname ?? node.hostname;
  for (const [name, group] of Object.entries(config.groups)) {
    const byMac = group.macs?.includes(mac) ?? false;
    const byName = hostname !== undefined && (group.hostnames ?? []).some((glob) => globToRegExp(glob).test(hostname));
    if (!byMac && !byName) continue;
    const { macs: _macs, hostnames: _hostnames, ...settings } = group;
    layer(resolved, settings, `groups.${name}`);
  }

  if (host !== undefined) layer(resolved, host, `hosts.${mac}`);
  // By exact address, after the MAC: the heterogeneous-fleet practice (a node's place on the network wins).
  const byIp = node.ip === undefined ? undefined : config.ips[node.ip];
  if (byIp !== undefined) layer(resolved, byIp, `ips.${node.ip}`);
  if (resolved.hostname === undefined && node.hostname !== undefined) resolved.hostname = node.hostname;
  return resolved;
}
