/**
 * dnsmasq.conf and its host file as whole texts (house style 2). Pure; the supervisor writes
 * them and starts dnsmasq with `--conf-file=<this> --keep-in-foreground`. Every tuned option
 * comes from a measurement in /work/shared/LAB-FACTS.md; the comments say which.
 */
import { resolveNodeSettings } from "../../model/resolve-node-settings.js";
import type { SiteConfig, UefiFirmwareFile } from "../../model/site-config.js";

export interface DnsmasqPaths {
  tftpRoot: string;
  leaseFile: string;
  pidFile: string;
  /** Directory of dhcp-host files; dnsmasq re-reads it on change (inotify) without a restart. */
  hostsDir: string;
}

export interface DnsmasqOptions {
  mode: "authoritative" | "proxy";
  interface: string;
  /** The master's IPv4 address on `interface`. */
  address: string;
  /** The provisioning subnet: network address and prefix length. */
  network: string;
  prefix: number;
  /** Required in authoritative mode. */
  pool?: { start: string; end: string } | undefined;
  leaseTime: string;
  /** A /64 prefix (`fd00:20::`) to announce with RA, or undefined. */
  ipv6Prefix?: string | undefined;
  dns: { enabled: boolean; domain: string };
  /** `10.20.0.1` or `10.20.0.1:8080`: where iPXE fetches /boot.ipxe. */
  httpHost: string;
  /** What UEFI machines get unless their host entry sets the `fw-alt` tag. */
  efiFirmware: UefiFirmwareFile;
  /** Only when an arm64 iPXE binary is in the TFTP root: otherwise arm64 machines get nothing. */
  arm64Firmware: boolean;
  paths: DnsmasqPaths;
}

export function prefixToNetmask(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((shift) => (bits >>> shift) & 255).join(".");
}

/** The UEFI binary other than the default; hosts tagged `fw-alt` get it. */
export function alternateEfiFirmware(firmware: UefiFirmwareFile): UefiFirmwareFile {
  return firmware === "ipxe.efi" ? "snponly.efi" : "ipxe.efi";
}

function processSection(options: DnsmasqOptions): string[] {
  return [
    "# Process: supervised by the recon master, which reads the log from stderr.",
    "keep-in-foreground",
    // With keep-in-foreground, `-` logs to stderr without a timestamp (dnsmasq log.c).
    "log-facility=-",
    `pid-file=${options.paths.pidFile}`,
    `dhcp-leasefile=${options.paths.leaseFile}`,
    // The live image's /etc/hosts names the master, not the nodes.
    "no-hosts",
    "",
    "# Only the provisioning interface: never answer DHCP on the site's other networks.",
    `interface=${options.interface}`,
    "bind-interfaces",
    "except-interface=lo",
    "",
  ];
}

function dnsSection(options: DnsmasqOptions): string[] {
  if (!options.dns.enabled) {
    return ["# DNS off (dns.enabled: false): DHCP and TFTP only.", "port=0", ""];
  }
  const domain = options.dns.domain;
  return [
    `# DNS on (dns.enabled: true): names from the host file under ${domain}; the rest forwarded.`,
    `domain=${domain}`,
    `local=/${domain}/`,
    "expand-hosts",
    "domain-needed",
    "bogus-priv",
    "",
  ];
}

function dhcpSection(options: DnsmasqOptions): string[] {
  const netmask = prefixToNetmask(options.prefix);
  const lines: string[] = [];
  if (options.mode === "authoritative") {
    if (!options.pool) throw new Error("renderDnsmasqConf: authoritative mode needs a pool (validated by the site config)");
    lines.push(
      "# Authoritative DHCP: recon hands out the addresses on this network.",
      `dhcp-range=${options.pool.start},${options.pool.end},${netmask},${options.leaseTime}`,
      // Answer a node that asks for a lease from a previous run at once instead of ignoring it.
      "dhcp-authoritative",
      // Otherwise dnsmasq pings each new address ~3 s before offering it (LAB-FACTS).
      "no-ping",
    );
  } else {
    lines.push(
      "# Proxy DHCP: another server hands out addresses; recon only adds the boot information.",
      `dhcp-range=${options.network},proxy,${netmask}`,
    );
  }
  lines.push(`dhcp-hostsdir=${options.paths.hostsDir}`, "log-dhcp", "");
  if (options.ipv6Prefix !== undefined) {
    lines.push(
      "# Router advertisements: the 2019 iPXE waits ~12 s for IPv6 autoconfiguration without them (LAB-FACTS).",
      "enable-ra",
      `dhcp-range=${options.ipv6Prefix},ra-only,64`,
      "",
    );
  }
  return lines;
}

function bootSection(options: DnsmasqOptions): string[] {
  const master = options.address;
  const alt = alternateEfiFirmware(options.efiFirmware);
  const lines = [
    "# Boot: firmware gets an iPXE binary by TFTP, iPXE gets the script by HTTP.",
    // DHCP option 93; RFC 4578 and the IANA registry disagree on 7 and 9, both are x86-64 UEFI in practice.
    "dhcp-match=set:bios,option:client-arch,0",
    "dhcp-match=set:efi64,option:client-arch,7",
    "dhcp-match=set:efi64,option:client-arch,9",
  ];
  if (options.arm64Firmware) lines.push("dhcp-match=set:arm64,option:client-arch,11");
  lines.push("dhcp-userclass=set:ipxe,iPXE");
  if (options.mode === "authoritative") {
    // iPXE option 175.176 (no-pxedhcp): otherwise iPXE waits ~3 s for ProxyDHCP offers
    // (LAB-FACTS). In proxy mode dnsmasq sends no dhcp-option at all, so it is left out there.
    lines.push("dhcp-option=tag:ipxe,encap:175,176,1");
  }
  lines.push(
    `dhcp-boot=tag:ipxe,http://${options.httpHost}/boot.ipxe`,
    `dhcp-boot=tag:!ipxe,tag:bios,undionly.kpxe,,${master}`,
    `dhcp-boot=tag:!ipxe,tag:efi64,tag:!fw-alt,${options.efiFirmware},,${master}`,
    `dhcp-boot=tag:!ipxe,tag:efi64,tag:fw-alt,${alt},,${master}`,
  );
  if (options.arm64Firmware) lines.push(`dhcp-boot=tag:!ipxe,tag:arm64,ipxe-arm64.efi,,${master}`);
  if (options.mode === "proxy") {
    lines.push(
      // In proxy mode dnsmasq answers no PXE client unless a pxe-service (or pxe-prompt) exists.
      // One service per client type means no menu: UEFI clients get the file on port 4011
      // (pxe_uefi_workaround). iPXE matches none, so dnsmasq sends the dhcp-boot URL instead
      // ("discovery control 8", rfc2131.c).
      `pxe-service=tag:!ipxe,x86PC,"recon",undionly.kpxe,${master}`,
      // iPXE doing its own DHCP (an iPXE NIC ROM, or ipxe.efi without cached PXE packets)
      // takes its boot file from a ProxyDHCP offer only through a matching service; a full
      // URL as the "basename" has a '.' (so no layer suffix) and iPXE fetches it by HTTP.
      `pxe-service=tag:ipxe,x86PC,"recon",http://${options.httpHost}/boot.ipxe`,
      `pxe-service=tag:ipxe,x86-64_EFI,"recon",http://${options.httpHost}/boot.ipxe`,
      `pxe-service=tag:ipxe,BC_EFI,"recon",http://${options.httpHost}/boot.ipxe`,
      `pxe-service=tag:!ipxe,tag:!fw-alt,x86-64_EFI,"recon",${options.efiFirmware},${master}`,
      `pxe-service=tag:!ipxe,tag:fw-alt,x86-64_EFI,"recon",${alt},${master}`,
      `pxe-service=tag:!ipxe,tag:!fw-alt,BC_EFI,"recon",${options.efiFirmware},${master}`,
      `pxe-service=tag:!ipxe,tag:fw-alt,BC_EFI,"recon",${alt},${master}`,
    );
    if (options.arm64Firmware) {
      lines.push(
        `pxe-service=tag:!ipxe,ARM64_EFI,"recon",ipxe-arm64.efi,${master}`,
        `pxe-service=tag:ipxe,ARM64_EFI,"recon",http://${options.httpHost}/boot.ipxe`,
      );
    }
  }
  lines.push("", "# TFTP: only the iPXE binaries live here; everything else is HTTP.", "enable-tftp", `tftp-root=${options.paths.tftpRoot}`, "");
  return lines;
}

export function renderDnsmasqConf(options: DnsmasqOptions): string {
  return [
    "# Generated by recon (src/master/dhcp/render-dnsmasq.ts) at every start; edits are lost.",
    `# mode=${options.mode} interface=${options.interface} master=${options.address}`,
    "",
    ...processSection(options),
    ...dnsSection(options),
    ...dhcpSection(options),
    ...bootSection(options),
  ].join("\n");
}

export interface DhcpHostEntry {
  mac: string;
  hostname?: string | undefined;
  /** dnsmasq never answers this MAC: its firmware falls through to the next boot device. */
  ignore?: boolean | undefined;
  efiFirmware?: UefiFirmwareFile | undefined;
}

/** One file in `dhcp-hostsdir`: one dhcp-host value per line, without the `dhcp-host=` key. */
export function renderDhcpHostsFile(entries: readonly DhcpHostEntry[], defaultEfiFirmware: UefiFirmwareFile): string {
  const lines = ["# Generated by recon from the site config (hosts and groups); edits are lost."];
  for (const entry of [...entries].sort((a, b) => (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0))) {
    const fields = [entry.mac];
    if (entry.ignore) {
      fields.push("ignore");
    } else {
      if (entry.efiFirmware !== undefined && entry.efiFirmware !== defaultEfiFirmware) fields.push("set:fw-alt");
      if (entry.hostname !== undefined) fields.push(entry.hostname);
    }
    lines.push(fields.join(","));
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Host entries for every MAC the site config names (hosts and group `macs`), settled through
 * the same layering planBoot uses, so DHCP and the iPXE route agree.
 */
export function planDhcpHosts(config: SiteConfig): DhcpHostEntry[] {
  const macs = new Set<string>(Object.keys(config.hosts));
  for (const group of Object.values(config.groups)) for (const mac of group.macs ?? []) macs.add(mac);
  return [...macs].sort().map((mac) => {
    const settings = resolveNodeSettings(config, { mac });
    return settings.action === "ignore"
      ? { mac, ignore: true }
      : { mac, hostname: settings.hostname, efiFirmware: settings.firmwareFile };
  });
}
