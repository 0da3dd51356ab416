/**
 * The contract between the master and a peer: the kernel arguments the master puts on a peer's
 * command line (planBoot) and the agent reads back, the peer's API paths on the master, and what
 * the peer does when it is done. Pure constants, so neither side imports the other's code.
 */

/** What the agent does after a successful upload; `stay` unless the site config says otherwise. */
export const POST_ACTIONS = ["poweroff", "reboot", "stay"] as const;
export type PostAction = (typeof POST_ACTIONS)[number];

/** Kernel-argument names the agent reads (BOOTIF= and pxeaddr= come from PXE/iPXE themselves). */
export const PEER_KERNEL_ARGS = {
  /** host[:port] or an http URL of the master. */
  master: "recon.master",
  /** The per-boot peer token (model/peer-token.ts). */
  token: "recon.token",
  /** One of POST_ACTIONS. */
  post: "recon.post",
} as const;

/** The peer workload, served by the master and fetched by the agent (model/workload-manifest.ts). */
export const WORKLOAD_PATH = "/post.tgz";

/** `/api/v1/nodes/52-54-00-ab-cd-ef/hello`: the peer's own API paths, MAC with dashes. */
export function peerNodePath(mac: string, what: "hello" | "inventory"): string {
  return `/api/v1/nodes/${mac.replace(/:/g, "-")}/${what}`;
}
