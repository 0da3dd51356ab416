/**
 * The kernel NFS server for `root: nfs` (issue #13 item 2), pure: what to mount, what to export and
 * the argv of every command (mount, umount, exportfs, rpc.nfsd, rpc.mountd, modprobe). The runner is
 * nfs-server.ts. NFSv4 only: rpc.mountd gets `-N 2 -N 3`, rpc.nfsd `-N 3` (2.6.2 refuses -N 2), so neither rpcbind nor statd
 * is needed (mountd only answers the kernel's export upcalls) and only TCP port 2049 is open.
 *
 * An image's root tree is three read-only mounts deep, as dracut's dmsquash-live mounts it on a peer
 * (the ISO layout of KIWI's DracutLive, checked with `xorriso -ls /LiveOS` and `unsquashfs -l`):
 * the ISO (iso9660) → LiveOS/squashfs.img (squashfs) → LiveOS/rootfs.img (ext4), the last at
 * nfsExportPath(label), the path the peer's `root=nfs4:` names (src/boot/root-transport.ts).
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { nfsExportPath } from "../../boot/root-transport.js";
import { ReconError } from "../../lib/errors.js";
import { formatIpv4, parseIpv4 } from "../../model/net-address.js";
import type { MountEntry } from "./mountinfo.js";
import { mountedAt } from "./mountinfo.js";

/** Everything the NFS transport mounts is below this directory (a tmpfs on the appliance: gone on a reboot). */
export const NFS_ROOT = "/run/recon-nfs";
/** The intermediate mount points: /run/recon-nfs/.mnt/<label>/{iso,squashfs}. */
export const NFS_MNT_DIR = join(NFS_ROOT, ".mnt");
export const NFSD_FS = "/proc/fs/nfsd";
/** rpc.nfsd's default; the appliance has two cores and peers read mostly cached pages. */
export const NFSD_THREADS = 8;
/**
 * NFSv4 refuses new OPENs during the grace period after nfsd starts (max of lease and grace time,
 * 90 s each by default): a peer booting right after the master starts would wait that long. 15 s is
 * well inside rpc.nfsd's range (10–3600) and still leaves a client three renewals per minute.
 */
export const NFSD_LEASE_SECONDS = 15;
export const NFSD_GRACE_SECONDS = 15;

export type NfsFsType = "iso9660" | "squashfs" | "ext4";

export interface MountStep {
  source: string;
  target: string;
  fsType: NfsFsType;
  options: string[];
  /** A bind mount of a tree mounted already (the appliance's live medium): no -t, no loop. */
  bind?: boolean;
}

export interface ImageMounts {
  label: string;
  /** In mount order; the last one's target is the export path. */
  steps: MountStep[];
}

export interface NfsExport {
  label: string;
  path: string;
  /** Who may mount it: the boot network's subnet (a.b.c.d/prefix). */
  clients: string;
  options: string[];
}

export interface NfsServerPlan {
  /** The master's boot address: rpc.nfsd listens on it only. */
  address: string;
  clients: string;
  threads: number;
  exports: NfsExport[];
  mounts: ImageMounts[];
}

export interface NfsImageSource {
  label: string;
  /** The ISO file, or (isoMounted) the directory where its file system is mounted already. */
  iso: string;
  /** `iso` is the mounted ISO (dracut's /run/initramfs/live on the appliance): bound read-only, not mounted again. */
  isoMounted?: boolean;
}

/** The network of address/prefix, in CIDR form: the exports' client list. */
export function subnetOf(address: string, prefix: number): string {
  const ip = parseIpv4(address);
  if (ip === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new Error(`not an IPv4 address/prefix: ${address}/${prefix}`);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return `${formatIpv4((ip & mask) >>> 0)}/${prefix}`;
}

/**
 * The export's fsid: a UUID derived from the label, the same on every start and master. Explicit
 * because the ext4 UUID NFS would take otherwise is the build's: two labels of the same build
 * (debian-12 and debian-12-alt in the lab) would share it and a peer could be handed the other's files.
 */
export function nfsFsid(label: string): string {
  const hex = createHash("sha256").update(`recon-nfs:${label}`).digest("hex").slice(0, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** The mounts that make one image's root tree appear at nfsExportPath(label). */
export function planImageMounts(image: NfsImageSource): ImageMounts {
  const dir = join(NFS_MNT_DIR, image.label);
  const iso = join(dir, "iso");
  const squashfs = join(dir, "squashfs");
  return {
    label: image.label,
    steps: [
      image.isoMounted
        ? { source: image.iso, target: iso, fsType: "iso9660", options: ["bind", "ro"], bind: true }
        : { source: image.iso, target: iso, fsType: "iso9660", options: ["loop", "ro"] },
      { source: join(iso, "LiveOS", "squashfs.img"), target: squashfs, fsType: "squashfs", options: ["loop", "ro"] },
      // noload: a read-only mount never replays a journal (the loop device under it is read-only too).
      { source: join(squashfs, "LiveOS", "rootfs.img"), target: nfsExportPath(image.label), fsType: "ext4", options: ["loop", "ro", "noload"] },
    ],
  };
}

export function planNfsServer(options: { address: string; prefix: number; images: readonly NfsImageSource[]; threads?: number }): NfsServerPlan {
  const clients = subnetOf(options.address, options.prefix);
  return {
    address: options.address,
    clients,
    threads: options.threads ?? NFSD_THREADS,
    exports: options.images.map((image) => ({
      label: image.label,
      path: nfsExportPath(image.label),
      clients,
      options: ["ro", "no_subtree_check", "no_root_squash", `fsid=${nfsFsid(image.label)}`, "sec=sys"],
    })),
    mounts: options.images.map((image) => planImageMounts(image)),
  };
}

/** The exports as exports(5) lines: written beside the run's files for the admin (exportfs itself gets -i and argv). */
export function renderExports(plan: NfsServerPlan): string {
  const lines = ["# Written by recon (src/master/nfs/nfs-config.ts) at each start; exported with exportfs -i, not read from here."];
  for (const entry of plan.exports) lines.push(`${entry.path} ${entry.clients}(${entry.options.join(",")})`);
  return `${lines.join("\n")}\n`;
}

export type MountAction = { kind: "reuse"; step: MountStep } | { kind: "mount"; step: MountStep } | { kind: "umount"; target: string };

/**
 * What to do about the mounts, given what is mounted now (a master process restarted after a crash
 * finds the earlier run's mounts; a reboot has emptied /run). An image whose chain is mounted whole,
 * each step with its file system type, is reused as it is; a partial or different chain is
 * unmounted top first and mounted again. Mounts under /run/recon-nfs that belong to no planned
 * image (an image removed since) are unmounted first, the last mounted first.
 */
export function planMountActions(mounts: readonly ImageMounts[], mounted: readonly MountEntry[]): MountAction[] {
  const planned = new Set(mounts.flatMap((image) => image.steps.map((step) => step.target)));
  const actions: MountAction[] = [];
  const strays = mounted.filter((entry) => entry.mountPoint.startsWith(`${NFS_ROOT}/`) && !planned.has(entry.mountPoint));
  for (const entry of [...strays].reverse()) actions.push({ kind: "umount", target: entry.mountPoint });
  for (const image of mounts) {
    const whole = image.steps.every((step) => mountedAt(mounted, step.target)?.fsType === step.fsType);
    if (whole) {
      for (const step of image.steps) actions.push({ kind: "reuse", step });
      continue;
    }
    for (const step of [...image.steps].reverse()) {
      // A target can carry several mounts (stacked): each umount takes the top one off.
      const count = mounted.filter((entry) => entry.mountPoint === step.target).length;
      for (let n = 0; n < count; n++) actions.push({ kind: "umount", target: step.target });
    }
    for (const step of image.steps) actions.push({ kind: "mount", step });
  }
  return actions;
}

/** The mount points to take down at stop, top of each chain first, the last image first. */
export function unmountOrder(mounts: readonly ImageMounts[]): string[] {
  return [...mounts].reverse().flatMap((image) => [...image.steps].reverse().map((step) => step.target));
}

// --- argv, one builder per command (never a shell string) ---

export function modprobeNfsdArgs(): string[] {
  return ["nfsd"];
}

/** Whether /proc/filesystems lists the nfsd file system: the kernel has an NFS server (built in or loaded). */
export function filesystemsHaveNfsd(procFilesystems: string): boolean {
  return procFilesystems.split("\n").some((line) => line.trim().split(/\s+/).at(-1) === "nfsd");
}

/** nfsd's control file system, which rpc.nfsd, rpc.mountd and exportfs talk to the kernel through. */
export function mountNfsdFsArgs(): string[] {
  return ["-t", "nfsd", "nfsd", NFSD_FS];
}

/**
 * A loop step's file is attached by `losetup` to a loop device of its own and that device is mounted,
 * never `mount -o loop`: mount(8) reuses a loop device already attached to the same file, and on the
 * appliance dracut attached the own image's rootfs.img to one that device-mapper's live-rw snapshot
 * holds exclusively, so the mount failed with "already mounted or mount point busy" (lab e2e).
 * `device`: the loop device losetup gave for this step's source.
 */
export function mountArgs(step: MountStep, device?: string): string[] {
  // mount(8) makes a bind read-only itself (a bind, then a read-only remount) when -o has bind,ro.
  if (step.bind) return ["-o", step.options.join(","), step.source, step.target];
  if (step.options.includes("loop")) {
    if (device === undefined)
      throw new ReconError("ARTEFACT_MISSING", `mount of ${step.source}: no loop device was attached for it`, {
        hint: "a recon bug (nfs-server.ts attaches one with losetup first)",
      });
    return ["-t", step.fsType, "-o", step.options.filter((option) => option !== "loop").join(","), device, step.target];
  }
  return ["-t", step.fsType, "-o", step.options.join(","), step.source, step.target];
}

/** Attaches `file` read-only to the first free loop device and prints its name. */
export function losetupAttachArgs(file: string): string[] {
  return ["--find", "--show", "--read-only", file];
}

export function losetupDetachArgs(device: string): string[] {
  return ["--detach", device];
}

/** losetup --show's one line: the device, checked so nothing else is ever mounted by mistake. */
export function parseLoopDevice(stdout: string): string | undefined {
  const line = stdout.trim();
  return /^\/dev\/loop\d+$/.test(line) ? line : undefined;
}

export function umountArgs(target: string): string[] {
  return [target];
}

/** -i: only these options, /etc/exports and /etc/exports.d are not read. */
export function exportfsArgs(entry: NfsExport): string[] {
  return ["-i", "-o", entry.options.join(","), `${entry.clients}:${entry.path}`];
}

export function exportfsUnexportArgs(entry: NfsExport): string[] {
  return ["-u", `${entry.clients}:${entry.path}`];
}

/** Flushes the kernel's export cache, so no cached entry keeps an unexported tree busy. */
export function exportfsFlushArgs(): string[] {
  return ["-f"];
}

export function rpcNfsdArgs(plan: Pick<NfsServerPlan, "address" | "threads">): string[] {
  return [
    "--host",
    plan.address,
    // Not `--no-nfs-version 2`: nfs-utils 2.6.2's rpc.nfsd (Debian 12) no longer knows version 2 and
    // exits with "2: Unsupported version" (the lab master's first NFS start); its -N takes 3 and 4.x.
    "--no-nfs-version",
    "3",
    "--lease-time",
    String(NFSD_LEASE_SECONDS),
    "--grace-time",
    String(NFSD_GRACE_SECONDS),
    String(plan.threads),
  ];
}

/** `rpc.nfsd 0`: every nfsd thread ends and every connection closes (rpc.nfsd(8)). */
export function rpcNfsdStopArgs(): string[] {
  return ["0"];
}

/** In the foreground (-F) for the supervisor; NFSv4 only: no MOUNT protocol, no rpcbind registration. */
export function rpcMountdArgs(): string[] {
  return ["--foreground", "--no-nfs-version", "2", "--no-nfs-version", "3"];
}
