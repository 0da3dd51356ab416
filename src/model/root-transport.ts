/**
 * How a peer's root file system reaches it (node setting `root`, docs/site-config.md):
 * - http: today's default — the whole ISO is fetched over HTTP into RAM (dracut livenet).
 * - nbd: the image exported read-only by the master's nbd-server; only the blocks read travel.
 * - nfs: a read-only NFS export of the image's root tree, writes in a RAM overlay.
 * - nbd-rw: one named node mounts a writable copy of the image for maintenance (issue #13).
 */
export const ROOT_TRANSPORTS = ["http", "nbd", "nfs", "nbd-rw"] as const;
export type RootTransport = (typeof ROOT_TRANSPORTS)[number];
export const DEFAULT_ROOT_TRANSPORT: RootTransport = "http";
