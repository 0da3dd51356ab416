/**
 * What dnsmasq reads, written into the run dir: dnsmasq.conf for the DHCP mode and the host
 * file of per-MAC boot entries, both from the one boot decision (planDhcpBoot).
 */
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { BootServer } from "../../boot/plan-boot.js";
import { planDhcpBoot } from "../../boot/plan-dhcp.js";
import type { SiteConfig } from "../../model/site-config.js";
import { defaultPool, type Provisioning } from "../net/plan-provisioning.js";
import type { DhcpMode } from "./decide-dhcp-mode.js";
import { renderDhcpHostsFile, renderDnsmasqConf } from "./render-dnsmasq.js";
import { expectedNodes, planScale } from "../scale.js";

/** Creates the hosts dir dnsmasq re-reads; returns the path of dnsmasq.conf. */
export async function prepareDnsmasqDirs(runDir: string): Promise<string> {
  const hostsDir = join(runDir, "hosts");
  // dnsmasq drops root for `nobody` after start and re-reads the hosts dir then: world-readable.
  await mkdir(hostsDir, { recursive: true, mode: 0o755 });
  await chmod(hostsDir, 0o755);
  return join(runDir, "dnsmasq.conf");
}

export interface DnsmasqFilesInput {
  mode: Exclude<DhcpMode, "off">;
  net: Provisioning;
  config: SiteConfig;
  server: BootServer;
  tftpRoot: string;
  runDir: string;
}

export async function writeDnsmasqFiles({ mode, net, config, server, tftpRoot, runDir }: DnsmasqFilesInput): Promise<void> {
  const hostsDir = join(runDir, "hosts");
  // The mode being written decides the default UEFI first stage (plan-boot.ts defaultUefiFirstStage).
  const dhcpBoot = planDhcpBoot(config, { ...server, dhcpMode: mode });
  const pool = mode === "authoritative" ? (config.dhcp.pool ?? defaultPool(net)) : undefined;
  await writeFile(
    join(runDir, "dnsmasq.conf"),
    renderDnsmasqConf({
      mode,
      interface: net.interface,
      address: net.address,
      network: net.network,
      prefix: net.prefix,
      pool,
      leaseTime: config.dhcp.leaseTime,
      ipv6Prefix: config.ipv6Prefix,
      dns: config.dns,
      firstStage: dhcpBoot.firstStage,
      limits: planScale(expectedNodes(config.fleet, pool)),
      paths: {
        tftpRoot,
        leaseFile: join(runDir, "dnsmasq.leases"),
        pidFile: join(runDir, "dnsmasq.pid"),
        hostsDir,
      },
    }),
  );
  await writeFile(join(hostsDir, "recon.hosts"), renderDhcpHostsFile(dhcpBoot.hosts));
}
