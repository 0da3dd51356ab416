/**
 * The kernel NFS server's own byte count (/proc/net/rpc/nfsd, `io <read> <written>`: file data read
 * for clients and written for them since nfsd started; fs/nfsd/stats.c). Pure parser; the master
 * logs the read figure as `nfs server read`, beside nbd-server's `nbd export read`, so an admin sees
 * what an NFS root cost the master (issue #13, "the bytes … sent for that boot").
 */

export interface NfsdIo {
  readBytes: number;
  writtenBytes: number;
}

export const NFSD_STATS_FILE = "/proc/net/rpc/nfsd";

/** The `io` line of /proc/net/rpc/nfsd; undefined when the text has none (not that file, or nfsd not loaded). */
export function parseNfsdIo(text: string): NfsdIo | undefined {
  for (const line of text.split("\n")) {
    const match = /^io (\d+) (\d+)$/.exec(line.trim());
    if (match) return { readBytes: Number(match[1]), writtenBytes: Number(match[2]) };
  }
  return undefined;
}
