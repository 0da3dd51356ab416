/**
 * The kernel arguments that tell a peer's initrd where its root is, per root transport
 * (src/model/root-transport.ts). Pure; planBoot puts them first in the kernel command line.
 *
 * Every form is stock dracut 059 (Debian 12's), checked against its source (modules.d/95nbd
 * parse-nbdroot.sh and nbdroot.sh, 90dmsquash-live parse-dmsquash-live.sh and
 * dmsquash-live-genrules.sh, 95nfs parse-nfsroot.sh, 90overlay-root overlay-mount.sh); the image's
 * initrd carries those modules (descriptions/debian-12, dracut.conf.d/20-recon-livenet.conf).
 * docs/site-config.md, "Root transports", says what each costs and where its writes go.
 */
import { ReconError } from "../lib/errors.js";
import type { RootTransport } from "../model/root-transport.js";
import { TORRENT_SCHEME } from "../model/peer-contract.js";

export interface RootContext {
  /** host[:port] of the master's HTTP service, as the peer reaches it. */
  host: string;
  /** The master's address on the boot network (no port). */
  address: string;
  /** The image label this node boots. */
  label: string;
  /** http://<host>/isos/<label>.iso */
  isoUrl: string;
  /** The ISO 9660 volume id of the image (the recipe's volumeId, e.g. RECON): dracut finds the exported ISO by it. Needed for nbd. */
  volumeId?: string;
  /** The node's MAC: names the node's writable copy. Needed for nbd-rw. */
  mac?: string;
  /**
   * Peer assist (#14 item 5): the image's torrent as the initrd's URL handler reads it,
   * torrent://<host>/torrent/<label>.torrent, when the master serves one; root http then fetches the
   * ISO by BitTorrent (the master's ISO URL is the torrent's web seed, so a lone peer still boots).
   */
  torrentUrl?: string;
}

/** torrent://<host>/torrent/<label>.torrent: the URL handler turns it into the http:// URL of the same path. */
export function torrentRootUrl(host: string, label: string): string {
  return `${TORRENT_SCHEME}://${host}/torrent/${label}.torrent`;
}

/** The NBD export of an image, read-only: its label. nbd-server's default port (10809) is implied. */
export function nbdExportName(label: string): string {
  return label;
}

/**
 * The label of the writable copy one node mounts for maintenance (`root: nbd-rw`): a new image
 * label beside the original, never the original itself (issue #13 item 3). It fits IMAGE_LABEL
 * (src/model/site-config.ts) for any label of up to 48 characters.
 */
export function rwCopyLabel(label: string, mac: string): string {
  return `${label}-rw-${mac.replaceAll(":", "").toLowerCase()}`;
}

/** Where the master mounts an image's root tree read-only and exports it over NFS (src/master/nfs). */
export function nfsExportPath(label: string): string {
  return `/run/recon-nfs/${label}`;
}

function needed<K extends "volumeId" | "mac">(root: RootTransport, ctx: RootContext, key: K): string {
  const value = ctx[key];
  if (value === undefined || value === "") {
    throw new ReconError("ARTEFACT_MISSING", `root transport '${root}' for image ${ctx.label}: the boot decision was not given the image's ${key}`, {
      hint: "a recon bug: the master passes the image's volume id and the node's MAC to planBoot (src/boot/root-transport.ts)",
    });
  }
  return value;
}

/**
 * Where the node's root comes from, as the boot scripts echo it to the console (`recon: booting <mac>
 * from …`): the ISO's URL for http, an nbd:// URI (the NBD URI form, export name as path) for nbd and
 * nbd-rw, an nfs:// URL for nfs. A technician reading a stalled console sees which server and transport
 * the initrd is waiting on.
 */
export function rootSource(root: RootTransport, ctx: RootContext): string {
  switch (root) {
    case "http":
      return ctx.torrentUrl === undefined ? ctx.isoUrl : `${ctx.torrentUrl} (BitTorrent from the other peers, web seed ${ctx.isoUrl})`;
    case "nbd":
      return `nbd://${ctx.address}/${nbdExportName(ctx.label)} (read-only, blocks on demand)`;
    case "nbd-rw":
      return `nbd://${ctx.address}/${rwCopyLabel(ctx.label, needed(root, ctx, "mac"))} (read-write copy of ${ctx.label})`;
    case "nfs":
      return `nfs://${ctx.address}${nfsExportPath(ctx.label)} (read-only, overlay in RAM)`;
    default:
      throw new ReconError("CONFIG_INVALID", `unknown root transport '${String(root)}'`, { hint: "set root to http, nbd, nfs or nbd-rw" });
  }
}

export function rootKernelArgs(root: RootTransport, ctx: RootContext): string[] {
  switch (root) {
    case "http":
      return [
        // With peer assist the image's torrent instead: 95recon-torrent's URL handler fetches the ISO
        // with aria2c (every piece checked against the torrent's SHA-1) and hands it to livenet as curl would.
        `root=live:${ctx.torrentUrl ?? ctx.isoUrl}`,
        // The whole squashfs is fetched once into RAM, so the peer never needs the master's
        // HTTP service again after boot (docs/lab-facts.md: one GET). By torrent too: the ISO is in
        // the handler's own tmpfs (the agent seeds from it), the squashfs copied into /run as over
        // HTTP. Reading the root through the ISO's loop device instead (rd.live.ram=0) made the real
        // root's systemd start 55 s instead of 3.6 s under TCG (pxe-fleet e2e, 2026-12-06).
        "rd.live.ram=1",
      ];
    case "nbd":
      return [
        // dmsquash-live mounts the ISO once it appears on /dev/nbd0. Not root=live:/dev/nbd0: the
        // nbd module makes /dev/nbd0 (empty) at load, before the network is up, and dmsquash-live's
        // udev rule on KERNEL=="nbd0" would then mount nothing and die. The label's symlink appears
        // only when blkid reads the connected device (dracut's own nbd rule waits on ID_FS_TYPE alike).
        `root=live:CDLABEL=${needed(root, ctx, "volumeId")}`,
        // 95nbd: netroot=nbd:<server>:<port/exportname>; a non-numeric port is an export name
        // (nbd-client -name, default port 10809). Run after DHCP by network-legacy's netroot.
        `netroot=nbd:${ctx.address}:${nbdExportName(ctx.label)}`,
        // No rd.live.ram: the squashfs is read through /dev/nbd0, so only the blocks read travel.
        // Writes go to dmsquash-live's default overlay, a sparse file in RAM (/run).
        "rd.live.ram=0",
      ];
    case "nbd-rw":
      return [
        // 95nbd alone: root=nbd:<server>:<exportname>:<fstype>:<flags>. The export is the ext4 root
        // tree of the node's own copy (rwCopyLabel), mounted read-write: its writes are kept.
        `root=nbd:${ctx.address}:${rwCopyLabel(ctx.label, needed(root, ctx, "mac"))}:ext4:rw`,
        "rw",
      ];
    case "nfs":
      return [
        // 95nfs: root=nfs4:<server>:<path>:<options>; the master exports the image's root tree read-only.
        `root=nfs4:${ctx.address}:${nfsExportPath(ctx.label)}:ro`,
        // 90overlay-root (stock dracut, pre-pivot 10-overlay-mount.sh): binds the NFS root to
        // /live/image, unmounts it from $NEWROOT and mounts an overlay there with its upper dir on a
        // tmpfs, so the peer's writes stay in RAM. Not rd.live.overlay.overlayfs=1: 90overlayfs
        // stacks its overlay on the NFS mount at $NEWROOT, and the lab's nfs peer came up with the
        // read-only NFS mount as its root (EROFS at the agent's first mkdtemp in /tmp).
        "rootovl",
      ];
    default:
      throw new ReconError("CONFIG_INVALID", `unknown root transport '${String(root)}'`, {
        hint: "set root to http, nbd, nfs or nbd-rw",
      });
  }
}
