/**
 * Which DHCP role recon takes on a network, decided from what a probe heard (pure). The rule
 * behind every branch: recon is never a rogue DHCP server. If anything else hands out addresses,
 * recon only adds boot information (proxyDHCP, PXE 2.1), which cannot change any machine's lease.
 */
import type { DhcpServerSeen } from "./probe.js";

export type ConfiguredDhcpMode = "auto" | "authoritative" | "proxy" | "off";
export type DhcpMode = "authoritative" | "proxy" | "off";

/** What the probe found; `error` when it could not run (no socket, no route). */
export interface ProbeFindings {
  servers: readonly DhcpServerSeen[];
  error?: string | undefined;
}

export interface DhcpModeDecision {
  mode: DhcpMode;
  reason: string;
  /** Things an operator should see (foreign proxyDHCP, nobody to hand out addresses). */
  warnings: string[];
  /** Servers other than recon that hand out addresses. */
  foreignServers: string[];
}

function describe(servers: readonly DhcpServerSeen[]): string {
  return servers.map((s) => (s.offeredAddress ? `${s.serverId} (offered ${s.offeredAddress})` : s.serverId)).join(", ");
}

/** Servers other than recon itself; `ownAddresses` are the master's, whose dnsmasq may already run. */
export function foreignServers(
  probe: ProbeFindings,
  ownAddresses: readonly string[] = [],
): {
  addressServers: DhcpServerSeen[];
  proxyServers: DhcpServerSeen[];
} {
  const others = probe.servers.filter((s) => !ownAddresses.includes(s.serverId) && !ownAddresses.includes(s.sourceAddress));
  return {
    addressServers: others.filter((s) => s.offeredAddress !== undefined),
    proxyServers: others.filter((s) => s.proxy),
  };
}

export function decideDhcpMode(configured: ConfiguredDhcpMode, probe: ProbeFindings | undefined, ownAddresses: readonly string[] = []): DhcpModeDecision {
  if (configured === "off") {
    return { mode: "off", reason: "dhcp.mode is off: recon answers no DHCP; machines need another way to reach TFTP/HTTP", warnings: [], foreignServers: [] };
  }
  const { addressServers, proxyServers } = probe ? foreignServers(probe, ownAddresses) : { addressServers: [], proxyServers: [] };
  const foreign = [...new Set(addressServers.map((s) => s.serverId))];
  const warnings: string[] = [];
  if (proxyServers.length > 0) {
    warnings.push(`another proxyDHCP/PXE server answers here (${describe(proxyServers)}): PXE machines may boot from it instead of recon`);
  }

  if (configured === "proxy") {
    if (probe && !probe.error && addressServers.length === 0) {
      warnings.push("no DHCP server offered an address: in proxy mode machines will get none and cannot boot");
    }
    return { mode: "proxy", reason: "dhcp.mode is proxy: recon adds boot information only", warnings, foreignServers: foreign };
  }

  if (!probe || probe.error !== undefined) {
    // Unknown network: proxy is the mode that cannot hurt anyone.
    const why = probe?.error ?? "no probe was run";
    return {
      mode: "proxy",
      reason: `could not check for other DHCP servers (${why}); running as proxy so recon never hands out addresses on a network it has not checked`,
      warnings: [...warnings, "set dhcp.mode: authoritative only on an isolated provisioning network"],
      foreignServers: foreign,
    };
  }

  if (addressServers.length > 0) {
    const reason =
      configured === "authoritative"
        ? `dhcp.mode is authoritative, but ${describe(addressServers)} already hand(s) out addresses here; running as proxy instead so recon is never a rogue DHCP server`
        : `${describe(addressServers)} hand(s) out addresses here: proxy mode, recon adds boot information only`;
    return { mode: "proxy", reason, warnings, foreignServers: foreign };
  }

  return {
    mode: "authoritative",
    reason:
      configured === "authoritative"
        ? "dhcp.mode is authoritative and no other DHCP server answered"
        : "no other DHCP server answered: recon hands out addresses (authoritative)",
    warnings,
    foreignServers: [],
  };
}

export type ForeignServerDecision = { action: "keep"; reason: string } | { action: "fallback-to-proxy"; reason: string; foreignServers: string[] };

/**
 * A later probe while recon runs: if another server now hands out addresses and recon is
 * authoritative, two servers fight over leases (docs/lab-facts.md: even one server racing itself gives
 * DHCPNAK "address in use"); recon steps back to proxy. `ownAddresses` filters recon's own offers.
 */
export function decideOnForeignServer(current: DhcpMode, probe: ProbeFindings, ownAddresses: readonly string[]): ForeignServerDecision {
  if (current !== "authoritative") return { action: "keep", reason: `recon is ${current}: it hands out no addresses` };
  if (probe.error !== undefined) return { action: "keep", reason: `probe failed (${probe.error}); nothing new is known` };
  const { addressServers } = foreignServers(probe, ownAddresses);
  if (addressServers.length === 0) return { action: "keep", reason: "no other DHCP server answered" };
  return {
    action: "fallback-to-proxy",
    reason: `${describe(addressServers)} started handing out addresses while recon was authoritative: switching to proxy`,
    foreignServers: [...new Set(addressServers.map((s) => s.serverId))],
  };
}
