/**
 * Scale limits on purpose (issue #14): what the expected fleet (site config `fleet.expectedNodes`)
 * asks of dnsmasq, the kernel's neighbour table and nginx, instead of each tool's default. Pure.
 *
 * - dnsmasq `dhcp-lease-max` (default 1000) and `tftp-max` (default 50 concurrent transfers):
 *   every node's first stage arrives by TFTP at once when a fleet is woken, and under GRUB its
 *   kernel and initrd too (Debian's signed GRUB has no HTTP), so 50 would refuse the 51st node.
 * - the IPv4 neighbour table (Linux: gc_thresh1 128, gc_thresh2 512, gc_thresh3 1024 entries):
 *   above gc_thresh3 the kernel drops new neighbours ("neighbour table overflow") and the master
 *   cannot answer the nodes past it; each node is one entry, its BMC maybe another.
 * - nginx `worker_connections` per worker: a booting node holds up to a few connections (script,
 *   kernel, initrd, image, upload) beside the admins'.
 */
import { parseIpv4 } from "../model/net-address.js";

/** The fleet recon sizes for when the site config says nothing and gives no pool: a /24's default pool holds 151. */
export const DEFAULT_EXPECTED_NODES = 150;

/** fleet.expectedNodes, else the DHCP pool's size, else DEFAULT_EXPECTED_NODES. */
export function expectedNodes(fleet: { expectedNodes?: number | undefined }, pool?: { start: string; end: string }): number {
  if (fleet.expectedNodes !== undefined) return fleet.expectedNodes;
  if (pool) return Math.max(1, parseIpv4(pool.end)! - parseIpv4(pool.start)! + 1);
  return DEFAULT_EXPECTED_NODES;
}

export interface ScaleLimits {
  dhcpLeaseMax: number;
  tftpMax: number;
  neighbour: { gcThresh1: number; gcThresh2: number; gcThresh3: number };
  nginxWorkerConnections: number;
}

export function planScale(expectedNodes: number): ScaleLimits {
  const nodes = Math.max(1, Math.ceil(expectedNodes));
  return {
    // Leases outlive a boot: room for the fleet booted twice (a second NIC, a re-inventory) before dnsmasq refuses.
    dhcpLeaseMax: Math.max(1000, 2 * nodes),
    tftpMax: Math.max(50, nodes + 10),
    // Node and BMC per machine, twice over before the kernel starts collecting; never below Linux's defaults.
    neighbour: { gcThresh1: Math.max(128, 2 * nodes), gcThresh2: Math.max(512, 4 * nodes), gcThresh3: Math.max(1024, 8 * nodes) },
    nginxWorkerConnections: Math.max(4096, 8 * nodes),
  };
}

/** The sysctl files (under /proc/sys) and values that size the neighbour table, for the master to write. */
export function neighbourSysctls(limits: ScaleLimits): { path: string; value: string }[] {
  const base = "net/ipv4/neigh/default";
  return [
    { path: `${base}/gc_thresh1`, value: String(limits.neighbour.gcThresh1) },
    { path: `${base}/gc_thresh2`, value: String(limits.neighbour.gcThresh2) },
    { path: `${base}/gc_thresh3`, value: String(limits.neighbour.gcThresh3) },
  ];
}
