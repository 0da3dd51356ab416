/**
 * dnsmasq.conf and its host file as whole texts (docs/architecture.md, "Whole-text renderers"). Pure; the supervisor writes
 * them and starts dnsmasq with `--conf-file=<this> --keep-in-foreground`. Every tuned option
 * comes from a measurement in docs/lab-facts.md; the comments say which.
 */
import { FIRMWARE_TAGS, type DhcpBootPlan, type DhcpHostEntry } from "../../boot/plan-dhcp.js";

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
  /**
   * What each firmware tag is handed (planDhcpBoot): the BIOS and UEFI binaries (UEFI's others
   * for hosts tagged with theirs), the UEFI HTTP-boot URL, arm64's only when present, and the script URL for iPXE.
   */
  firstStage: DhcpBootPlan["firstStage"];
  paths: DnsmasqPaths;
  /** dhcp-lease-max and tftp-max from the expected fleet (src/master/scale.ts); absent = dnsmasq's defaults. */
  limits?: { dhcpLeaseMax: number; tftpMax: number } | undefined;
}

export function prefixToNetmask(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((shift) => (bits >>> shift) & 255).join(".");
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
      // Otherwise dnsmasq pings each new address ~3 s before offering it (docs/lab-facts.md).
      "no-ping",
    );
  } else {
    lines.push("# Proxy DHCP: another server hands out addresses; recon only adds the boot information.", `dhcp-range=${options.network},proxy,${netmask}`);
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

/** The tags that exclude a default line: those of the tagged stages whose file differs from the default's. */
function notTags(tags: readonly string[]): string {
  return tags.map((tag) => `tag:!${tag},`).join("");
}

function bootSection(options: DnsmasqOptions): string[] {
  // The TFTP server of every first stage: this master.
  const master = options.address;
  const { bios, efi64, efi64Http, efi64Tagged, arm64, ipxe } = options.firstStage;
  const lines = [
    `# Boot: BIOS gets iPXE by TFTP; x86-64 UEFI gets ${efi64.file} by TFTP unless its host entry tags another binary`,
    "# (shimx64.efi: Microsoft-signed shim, then Debian's signed GRUB, Secure Boot on or off); UEFI HTTP boot gets",
    `# ${efi64Http.file} by URL (shim: then an HTTP-capable signed GRUB, no TFTP); iPXE gets its script by HTTP.`,
    // DHCP option 93; RFC 4578 and the IANA registry disagree on 7 and 9, both are x86-64 UEFI in practice; 16 is x64 UEFI HTTP.
    "dhcp-match=set:bios,option:client-arch,0",
    "dhcp-match=set:efi64,option:client-arch,7",
    "dhcp-match=set:efi64,option:client-arch,9",
    "dhcp-match=set:efi64-http,option:client-arch,16",
  ];
  if (arm64) lines.push("dhcp-match=set:arm64,option:client-arch,11");
  lines.push("dhcp-userclass=set:ipxe,iPXE");
  if (options.mode === "authoritative") {
    // iPXE option 175.176 (no-pxedhcp): otherwise iPXE waits ~3 s for ProxyDHCP offers
    // (docs/lab-facts.md). In proxy mode dnsmasq sends no dhcp-option at all, so it is left out there.
    lines.push("dhcp-option=tag:ipxe,encap:175,176,1");
  }
  const efiTags = efi64Tagged.map((stage) => stage.tag);
  lines.push(
    `dhcp-boot=tag:ipxe,${ipxe.url}`,
    `dhcp-boot=tag:!ipxe,tag:bios,${bios.file},,${master}`,
    `dhcp-boot=tag:!ipxe,tag:efi64,${notTags(efiTags)}${efi64.file},,${master}`,
  );
  for (const stage of efi64Tagged) lines.push(`dhcp-boot=tag:!ipxe,tag:efi64,tag:${stage.tag},${stage.file},,${master}`);
  if (arm64) lines.push(`dhcp-boot=tag:!ipxe,tag:arm64,${arm64.file},,${master}`);
  if (options.mode === "authoritative") {
    // UEFI HTTP boot (UEFI spec, "HTTP Boot"): the URL in the boot file field and option 60 HTTPClient, no TFTP.
    // In proxy mode dnsmasq answers only PXEClient vendor classes; recon's own responder answers these (http-boot-proxy.ts).
    const httpOther = efi64Tagged.filter((stage) => stage.http.file !== efi64Http.file);
    lines.push(`dhcp-boot=tag:!ipxe,tag:efi64-http,${notTags(httpOther.map((stage) => stage.tag))}${efi64Http.url}`);
    for (const stage of httpOther) lines.push(`dhcp-boot=tag:!ipxe,tag:efi64-http,tag:${stage.tag},${stage.http.url}`);
    lines.push("dhcp-option-force=tag:efi64-http,60,HTTPClient");
  }
  if (options.mode === "proxy") {
    lines.push(
      // In proxy mode dnsmasq answers no PXE client unless a pxe-service (or pxe-prompt) exists.
      // One service per client type means no menu: UEFI clients get the file on port 4011
      // (pxe_uefi_workaround). iPXE matches none, so dnsmasq sends the dhcp-boot URL instead
      // ("discovery control 8", rfc2131.c).
      `pxe-service=tag:!ipxe,x86PC,"recon",${bios.file},${master}`,
      // iPXE doing its own DHCP (an iPXE NIC ROM, or ipxe.efi without cached PXE packets)
      // takes its boot file from a ProxyDHCP offer only through a matching service; a full
      // URL as the "basename" has a '.' (so no layer suffix) and iPXE fetches it by HTTP.
      `pxe-service=tag:ipxe,x86PC,"recon",${ipxe.url}`,
      `pxe-service=tag:ipxe,x86-64_EFI,"recon",${ipxe.url}`,
      `pxe-service=tag:ipxe,BC_EFI,"recon",${ipxe.url}`,
    );
    for (const csa of ["x86-64_EFI", "BC_EFI"]) {
      lines.push(`pxe-service=tag:!ipxe,${notTags(efiTags)}${csa},"recon",${efi64.file},${master}`);
      for (const stage of efi64Tagged) lines.push(`pxe-service=tag:!ipxe,tag:${stage.tag},${csa},"recon",${stage.file},${master}`);
    }
    if (arm64) {
      lines.push(`pxe-service=tag:!ipxe,ARM64_EFI,"recon",${arm64.file},${master}`, `pxe-service=tag:ipxe,ARM64_EFI,"recon",${ipxe.url}`);
    }
  }
  lines.push(
    "",
    "# TFTP: the first stages, GRUB's configuration files, and the kernel and initrd Debian 12's GRUB reads (it has no HTTP).",
    "enable-tftp",
    `tftp-root=${options.paths.tftpRoot}`,
    "",
  );
  if (options.limits) {
    lines.push(
      "# Sized for the expected fleet (site config fleet.expectedNodes; src/master/scale.ts): dnsmasq's defaults are 1000 leases, 50 TFTP transfers.",
      `dhcp-lease-max=${options.limits.dhcpLeaseMax}`,
      `tftp-max=${options.limits.tftpMax}`,
      "",
    );
  }
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

/** One file in `dhcp-hostsdir` (the host entries of planDhcpBoot): one dhcp-host value per line, without the `dhcp-host=` key. */
export function renderDhcpHostsFile(entries: readonly DhcpHostEntry[]): string {
  const lines = ["# Generated by recon from the site config (hosts and groups); edits are lost."];
  for (const entry of [...entries].sort((a, b) => (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0))) {
    const fields = [entry.mac];
    if (entry.ignore) {
      fields.push("ignore");
    } else {
      if (entry.efiFile !== undefined) fields.push(`set:${FIRMWARE_TAGS[entry.efiFile]}`);
      if (entry.hostname !== undefined) fields.push(entry.hostname);
    }
    lines.push(fields.join(","));
  }
  return `${lines.join("\n")}\n`;
}
