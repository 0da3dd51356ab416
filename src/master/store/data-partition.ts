/**
 * The stick's data partition: where the master keeps the site config, uploads and state, so the
 * admin takes the data away on the stick. A hybrid ISO written to a stick has two MBR partitions
 * (the ISO, the EFI image); recon appends a third, labelled RECON_DATA, in the free space on the
 * first master boot. On a CD or a read-only stick it warns loudly and keeps going on tmpfs.
 *
 * Plan (pure, from lsblk/sfdisk JSON) and apply (sfdisk, partx, mkfs.ext4, mount) are separate.
 */
import { ReconError } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import { runChecked, type CommandRunner } from "../../lib/run.js";

export const DATA_LABEL = "RECON_DATA";
/** Less than this after the ISO is not worth a partition: uploads are ~1 MB a node. */
export const MIN_DATA_BYTES = 64 * 1024 * 1024;

export interface BlockDevice {
  name: string;
  path: string;
  label: string | null;
  fstype: string | null;
  type: string;
  pkname: string | null;
  size: number;
  ro: boolean;
  mountpoint: string | null;
  children?: BlockDevice[];
}

export const LSBLK_ARGS = ["-J", "-b", "-o", "NAME,PATH,LABEL,FSTYPE,TYPE,PKNAME,SIZE,RO,MOUNTPOINT"];

export function parseLsblk(json: string): BlockDevice[] {
  const flat: BlockDevice[] = [];
  const walk = (devices: BlockDevice[]) => {
    for (const device of devices) {
      flat.push({ ...device, ro: device.ro === true || String(device.ro) === "1", size: Number(device.size) });
      if (device.children) walk(device.children);
    }
  };
  walk((JSON.parse(json) as { blockdevices: BlockDevice[] }).blockdevices ?? []);
  return flat;
}

export interface SfdiskPartition {
  node: string;
  start: number;
  size: number;
  type: string;
}

export interface SfdiskTable {
  label: string;
  sectorsize: number;
  partitions: SfdiskPartition[];
}

export function parseSfdiskJson(json: string): SfdiskTable {
  const table = (JSON.parse(json) as { partitiontable: SfdiskTable }).partitiontable;
  return { label: table.label, sectorsize: table.sectorsize ?? 512, partitions: table.partitions ?? [] };
}

export type DataPartitionPlan =
  | { action: "mount"; device: string; reason: string }
  | { action: "create"; disk: string; startSector: number; reason: string }
  | { action: "tmpfs"; reason: string };

/** The disk the live system booted from: the device carrying the ISO's volume label. */
export function findBootDisk(devices: BlockDevice[], volumeLabel: string): BlockDevice | undefined {
  const medium = devices.find((d) => d.label === volumeLabel && d.fstype === "iso9660");
  if (!medium) return undefined;
  if (medium.type === "part" && medium.pkname) return devices.find((d) => d.name === medium.pkname) ?? medium;
  return medium;
}

export function planDataPartition(devices: BlockDevice[], volumeLabel: string, table: SfdiskTable | undefined): DataPartitionPlan {
  const existing = devices.find((d) => d.label === DATA_LABEL && d.type === "part");
  if (existing) return { action: "mount", device: existing.path, reason: `found ${DATA_LABEL} on ${existing.path}` };
  const disk = findBootDisk(devices, volumeLabel);
  if (!disk) return { action: "tmpfs", reason: `no boot medium labelled ${volumeLabel} (network boot or renamed volume)` };
  if (disk.type === "rom") return { action: "tmpfs", reason: `booted from ${disk.path}, a CD/DVD: read-only` };
  if (disk.ro) return { action: "tmpfs", reason: `boot medium ${disk.path} is read-only (write-protect switch?)` };
  if (!table) return { action: "tmpfs", reason: `could not read the partition table of ${disk.path}` };
  if (table.label !== "dos") return { action: "tmpfs", reason: `${disk.path} has a ${table.label} table, not the hybrid ISO's MBR` };
  if (table.partitions.length >= 4) return { action: "tmpfs", reason: `${disk.path} has no free MBR slot` };
  const end = Math.max(0, ...table.partitions.map((p) => p.start + p.size));
  // sfdisk aligns the new partition to 1 MiB; do the same so the size check is honest.
  const alignment = (1024 * 1024) / table.sectorsize;
  const startSector = Math.ceil(end / alignment) * alignment;
  const free = disk.size - startSector * table.sectorsize;
  if (free < MIN_DATA_BYTES) {
    return {
      action: "tmpfs",
      reason: `only ${Math.max(0, Math.floor(free / 1048576))} MiB free after the image on ${disk.path} (need ${MIN_DATA_BYTES / 1048576} MiB)`,
    };
  }
  return { action: "create", disk: disk.path, startSector, reason: `${Math.floor(free / 1048576)} MiB free on ${disk.path} after the image` };
}

/** A file system mounted at a directory (findmnt's view). */
export interface MountedFs {
  source: string;
  fstype: string;
  target: string;
}

export const FINDMNT_ARGS = (dir: string) => ["-J", "-o", "SOURCE,FSTYPE,TARGET", "--mountpoint", dir];

/** findmnt -J output; findmnt prints nothing and exits 1 when the directory is no mount point. */
export function parseFindmnt(json: string): MountedFs | undefined {
  if (json.trim() === "") return undefined;
  const entries = (JSON.parse(json) as { filesystems?: MountedFs[] }).filesystems ?? [];
  // Stacked mounts list the top one last: that is what the directory shows.
  return entries.at(-1);
}

/** The tmpfs recon mounts when there is no persistent medium: its source name marks it as ours. */
const TMPFS_SOURCE = "recon-data";

export type MountStep = { kind: "mount" } | { kind: "reuse"; reason: string } | { kind: "conflict"; message: string; hint: string };

/**
 * Pure: what to do at `target` given what is mounted there already. Start-up is idempotent: the
 * data partition (or recon's own tmpfs) already mounted where recon wants it is used as it is;
 * anything else is a clear error, never a second mount on top (that would hide the data).
 */
export function planMountStep(plan: DataPartitionPlan, target: string, atTarget: MountedFs | undefined, devices: BlockDevice[]): MountStep {
  const device = plan.action === "mount" ? plan.device : undefined;
  if (device !== undefined) {
    const mountpoint = devices.find((d) => d.path === device)?.mountpoint ?? null;
    if (mountpoint !== null && mountpoint !== target) {
      return {
        kind: "conflict",
        message: `the data partition ${device} is already mounted at ${mountpoint}, not at ${target} where recon keeps its data`,
        hint: `unmount it (umount ${mountpoint}) and start recon again (systemctl restart recon)`,
      };
    }
  }
  if (atTarget === undefined) return { kind: "mount" };
  if (device !== undefined && atTarget.source === device) return { kind: "reuse", reason: `${device} is already mounted at ${target} (an earlier start)` };
  if (plan.action === "tmpfs" && atTarget.fstype === "tmpfs" && atTarget.source === TMPFS_SOURCE) {
    return { kind: "reuse", reason: `recon's tmpfs is already mounted at ${target} (an earlier start)` };
  }
  const wanted = device ?? (plan.action === "create" ? `a new ${DATA_LABEL} partition on ${plan.disk}` : "recon's tmpfs");
  return {
    kind: "conflict",
    message: `${target} already has ${atTarget.source} (${atTarget.fstype}) mounted; recon wants ${wanted} there`,
    hint: `unmount it (umount ${target}) and start recon again (systemctl restart recon), or give recon another data directory`,
  };
}

export interface PreparedDataDir {
  dir: string;
  persistent: boolean;
  device?: string;
  reason: string;
}

/** Apply: mount (creating first if planned) the data partition at `mountPoint`, else tmpfs. */
export async function prepareDataDir(runner: CommandRunner, log: Logger, options: { volumeLabel: string; mountPoint: string }): Promise<PreparedDataDir> {
  const { mountPoint } = options;
  await runChecked(runner, "mkdir", ["-p", mountPoint]);
  // lsblk's labels come from udev's database: let udev finish with the boot devices first.
  await runner.run("udevadm", ["settle", "--timeout=30"]);
  const devices = parseLsblk((await runChecked(runner, "lsblk", LSBLK_ARGS)).stdout);
  const disk = findBootDisk(devices, options.volumeLabel);
  let table: SfdiskTable | undefined;
  if (disk && disk.type === "disk") {
    const result = await runner.run("sfdisk", ["--json", disk.path]);
    if (result.exitCode === 0) table = parseSfdiskJson(result.stdout);
  }
  const plan = planDataPartition(devices, options.volumeLabel, table);
  log.info("data partition plan", { action: plan.action, reason: plan.reason });
  const atTarget = parseFindmnt((await runner.run("findmnt", FINDMNT_ARGS(mountPoint))).stdout);
  const step = planMountStep(plan, mountPoint, atTarget, devices);
  if (step.kind === "conflict") throw new ReconError("DATA_PARTITION", step.message, { hint: step.hint, exitCode: 3 });
  if (step.kind === "reuse") {
    log.info("data directory already mounted", { dir: mountPoint, reason: step.reason });
    if (plan.action === "mount") return { dir: mountPoint, persistent: true, device: plan.device, reason: plan.reason };
    warnNoPersistence(log, plan.reason, mountPoint);
    return { dir: mountPoint, persistent: false, reason: plan.reason };
  }
  let device: string | undefined;
  if (plan.action === "create") {
    // Append one Linux partition in the free space; --no-reread because the ISO partition is in
    // use, partx then tells the kernel about the new partition alone.
    await runChecked(runner, "sfdisk", ["--append", "--no-reread", plan.disk], { input: `start=${plan.startSector}, type=83\n` });
    const after = parseSfdiskJson((await runChecked(runner, "sfdisk", ["--json", plan.disk])).stdout);
    const created = after.partitions.find((p) => p.start === plan.startSector);
    if (!created) throw new ReconError("IO", `sfdisk did not create the data partition on ${plan.disk}`);
    const number = after.partitions.indexOf(created) + 1;
    await runChecked(runner, "partx", ["--add", "--nr", String(number), plan.disk]);
    await runner.run("udevadm", ["settle", "--timeout=10"]);
    device = /\d$/.test(plan.disk) ? `${plan.disk}p${number}` : `${plan.disk}${number}`;
    await runChecked(runner, "mkfs.ext4", ["-q", "-F", "-L", DATA_LABEL, device]);
    log.info("data partition created", { device, disk: plan.disk, label: DATA_LABEL });
  } else if (plan.action === "mount") {
    device = plan.device;
  }
  if (device) {
    await runChecked(runner, "mount", ["-t", "ext4", "-o", "noatime", device, mountPoint]);
    log.info("data partition mounted", { device, dir: mountPoint });
    return { dir: mountPoint, persistent: true, device, reason: plan.reason };
  }
  await runChecked(runner, "mount", ["-t", "tmpfs", "-o", "mode=0700,size=50%", TMPFS_SOURCE, mountPoint]);
  warnNoPersistence(log, plan.reason, mountPoint);
  return { dir: mountPoint, persistent: false, reason: plan.reason };
}

function warnNoPersistence(log: Logger, reason: string, dir: string): void {
  log.warn("NO PERSISTENT STORAGE: inventories are kept in RAM only and are lost at power-off; copy them off before shutting down", { reason, dir });
}
