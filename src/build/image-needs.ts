/**
 * What the recon roles need inside the image: the one list (issue #14, "image diet"). The tools
 * the agent and the master run (docs/architecture.md, "External tools"; src/agent/collectors.ts),
 * the files the master serves from its own root, and the driver classes a recon node may meet
 * (every NIC, InfiniBand, RAID/HBA, NVMe, SATA and md driver the image has), with the modules
 * those need and the firmware they ask for.
 *
 * The classes are globs; what they matched in the image as built before any cut is kept in
 * image-needs.snapshot.json (written by bench/image-needs-snapshot.ts from a built image root),
 * so a later, slimmer image is checked against every driver, firmware file and library the image
 * has today, not against whatever is left. src/build/image-cuts.ts may remove nothing named here
 * (image-cuts.test.ts), and checkImageNeeds tells what a given image root lacks.
 */
import { lstat, readdir, readlink } from "node:fs/promises";
import { isAbsolute, join, posix } from "node:path";
import snapshot from "./image-needs.snapshot.json" with { type: "json" };

export type ImageRole = "agent" | "master" | "live";

export interface NeededTool {
  /** The program name as the role runs it (found in usr/bin or usr/sbin of the image). */
  name: string;
  roles: ImageRole[];
  /** Where recon runs it. */
  from: string;
}

const AGENT_COLLECTORS = "agent/collectors.ts";
const BURN_IN = "agent/burn-in.ts";
const DATA_PARTITION = "master/store/data-partition.ts";

export const NEEDED_TOOLS: readonly NeededTool[] = [
  { name: "node", roles: ["agent", "master"], from: "the recon runtime (usr/bin/recon)" },
  { name: "lshw", roles: ["agent"], from: AGENT_COLLECTORS },
  { name: "dmidecode", roles: ["agent"], from: AGENT_COLLECTORS },
  { name: "lscpu", roles: ["agent"], from: AGENT_COLLECTORS },
  { name: "lsblk", roles: ["agent", "master"], from: "agent/collectors.ts, agent/discover.ts, master/appliance.ts, master/store/data-partition.ts" },
  { name: "lspci", roles: ["agent"], from: AGENT_COLLECTORS },
  { name: "ip", roles: ["agent", "master"], from: "agent/collectors.ts, master/net/bring-up.ts" },
  { name: "ethtool", roles: ["agent"], from: "agent/collectors.ts, agent/fw-lldp.ts" },
  { name: "smartctl", roles: ["agent"], from: "agent/collectors.ts, agent/discover.ts" },
  { name: "nvme", roles: ["agent"], from: AGENT_COLLECTORS },
  { name: "lldpd", roles: ["agent"], from: AGENT_COLLECTORS },
  { name: "lldpctl", roles: ["agent"], from: AGENT_COLLECTORS },
  { name: "ipmitool", roles: ["agent"], from: "agent/collectors.ts, agent/post-action.ts" },
  { name: "stress-ng", roles: ["agent"], from: BURN_IN },
  { name: "memtester", roles: ["agent"], from: BURN_IN },
  { name: "fio", roles: ["agent"], from: BURN_IN },
  { name: "udevadm", roles: ["agent", "master", "live"], from: "agent/build-upload.ts, master/store/data-partition.ts; udev loads the drivers" },
  { name: "systemctl", roles: ["agent", "live"], from: "agent/post-action.ts; recon.service" },
  { name: "modprobe", roles: ["live"], from: "udev and systemd load the drivers with kmod" },
  { name: "dnsmasq", roles: ["master"], from: "master/dhcp/supervisor.ts" },
  { name: "nginx", roles: ["master"], from: "master/http/nginx.ts" },
  { name: "nbd-server", roles: ["master"], from: "master/nbd/nbd-server.ts" },
  { name: "rpc.nfsd", roles: ["master"], from: "root transport nfs (recipe: nfs-kernel-server)" },
  { name: "rpc.mountd", roles: ["master"], from: "root transport nfs (recipe: nfs-kernel-server)" },
  { name: "exportfs", roles: ["master"], from: "root transport nfs (recipe: nfs-kernel-server)" },
  { name: "rpcbind", roles: ["master"], from: "root transport nfs (recipe: rpcbind)" },
  { name: "xorriso", roles: ["master"], from: "master/nbd/rw-copy.ts (where LiveOS/squashfs.img sits in the ISO)" },
  { name: "unsquashfs", roles: ["master"], from: "master/nbd/rw-copy.ts (an nbd-rw node's writable copy of the root)" },
  { name: "losetup", roles: ["master"], from: "master/nfs/nfs-server.ts (each image's ISO, squashfs and rootfs on a loop device of its own)" },
  { name: "dhclient", roles: ["master"], from: "master/net/dhclient.ts" },
  { name: "sfdisk", roles: ["master"], from: "master/store/data-partition.ts, master/live-image.ts" },
  { name: "partx", roles: ["master"], from: DATA_PARTITION },
  { name: "mkfs.ext4", roles: ["master"], from: DATA_PARTITION },
  { name: "mount", roles: ["master"], from: "master/store/data-partition.ts, master/live-image.ts" },
  { name: "umount", roles: ["master"], from: "master/live-image.ts" },
  { name: "findmnt", roles: ["master"], from: DATA_PARTITION },
  { name: "mkdir", roles: ["master"], from: DATA_PARTITION },
  { name: "flock", roles: ["master"], from: "lib/flock.ts" },
  { name: "aria2c", roles: ["agent", "live"], from: "agent/seed.ts; the initrd's 95recon-torrent (peer assist)" },
  { name: "mktorrent", roles: ["master"], from: "master/torrent/mktorrent.ts (peer assist)" },
  { name: "opentracker", roles: ["master"], from: "master/torrent/opentracker.ts (peer assist)" },
];

export interface NeededFile {
  /** Relative to the image root. */
  path: string;
  why: string;
}

export const NEEDED_FILES: readonly NeededFile[] = [
  { path: "usr/bin/recon", why: "the recon entry point" },
  { path: "usr/lib/recon/recon.mjs", why: "the bundled recon runtime" },
  { path: "usr/lib/ipxe/undionly.kpxe", why: "the master's BIOS first stage" },
  { path: "usr/lib/ipxe/ipxe.efi", why: "the master's UEFI iPXE first stage" },
  { path: "usr/lib/ipxe/snponly.efi", why: "the master's UEFI iPXE first stage (SNP)" },
  { path: "usr/lib/shim/shimx64.efi.signed", why: "the master serves shim to UEFI peers" },
  { path: "usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed", why: "the master serves signed GRUB to UEFI peers" },
];

export interface DriverClass {
  /** Relative to the kernel's module directory (usr/lib/modules/<version>/). */
  glob: string;
  why: string;
}

/** Every module these match is needed, and so are the modules they depend on (modules.dep). */
export const DRIVER_CLASSES: readonly DriverClass[] = [
  { glob: "kernel/drivers/net/ethernet/**", why: "every wired NIC" },
  { glob: "kernel/drivers/net/*.ko", why: "virtio_net (the lab), bonding helpers, tun, macvlan, mdio" },
  { glob: "kernel/drivers/net/{phy,pcs,mdio,usb,team,bonding,vxlan,ipvlan}/**", why: "PHYs NIC drivers use; USB NICs a technician plugs in" },
  { glob: "kernel/drivers/infiniband/**", why: "InfiniBand and RDMA NICs" },
  { glob: "kernel/drivers/scsi/**", why: "RAID controllers and HBAs, the SCSI disk and CD drivers" },
  { glob: "kernel/drivers/nvme/**", why: "NVMe disks" },
  { glob: "kernel/drivers/ata/**", why: "SATA/AHCI disks" },
  { glob: "kernel/drivers/md/**", why: "md RAID and device-mapper (dmsquash-live)" },
  { glob: "kernel/drivers/block/**", why: "nbd (root transport), loop, virtio_blk" },
  { glob: "kernel/drivers/char/ipmi/**", why: "/dev/ipmi0 for in-band ipmitool" },
  { glob: "kernel/drivers/edac/**", why: "the edac collector" },
  { glob: "kernel/drivers/virtio/**", why: "the lab's VMs" },
  { glob: "kernel/drivers/usb/{storage,host}/**", why: "the USB stick the master boots from" },
  { glob: "kernel/drivers/cdrom/**", why: "the ISO as a CD" },
  { glob: "kernel/fs/{squashfs,overlayfs,ext4,jbd2,isofs,fat,nls,nfs,nfs_common,nfsd,lockd,efivarfs,fuse}/**", why: "the live root, the data partition, root transports" },
];

export interface ImageNeedsSnapshot {
  /** The kernel the snapshot was taken from (module paths are relative to its directory). */
  kernel: string;
  takenFrom: string;
  /** Modules the classes matched, and their dependencies, relative to usr/lib/modules/<kernel>/. */
  modules: string[];
  /** Firmware those modules name (`modinfo -F firmware`) that the image had, relative to usr/lib/firmware/. */
  firmware: string[];
  /** Each tool's path and the shared libraries it loads (ELF NEEDED, resolved in the image), relative to the root. */
  tools: Record<string, string>;
  libraries: string[];
  /** Tools added to the list later, with the image root each was scanned in (bench/image-needs-add-tools.ts). */
  toolsAdded?: Record<string, string>;
}

export interface ImageNeeds {
  tools: readonly NeededTool[];
  files: readonly NeededFile[];
  snapshot: ImageNeedsSnapshot;
}

export const IMAGE_NEEDS: ImageNeeds = { tools: NEEDED_TOOLS, files: NEEDED_FILES, snapshot };

export const TOOL_DIRS = ["usr/sbin", "usr/bin"] as const;

/** Every root-relative path the needs name, for one kernel version: what no cut may match. */
export function neededPaths(needs: ImageNeeds, kernel = needs.snapshot.kernel): string[] {
  const { snapshot: s } = needs;
  return [
    ...needs.files.map((file) => file.path),
    ...needs.tools.flatMap((tool) => s.tools[tool.name] ?? TOOL_DIRS.map((dir) => `${dir}/${tool.name}`)),
    ...s.libraries,
    ...s.modules.map((module) => `usr/lib/modules/${kernel}/${module}`),
    ...s.firmware.map((file) => `usr/lib/firmware/${file}`),
  ];
}

/**
 * The path inside `root` a root-relative path ends at, following symlinks the way the booted image
 * would (an absolute target is read from `root`, not from this host); undefined when it is missing.
 */
export async function resolveInRoot(root: string, path: string, hops = 0): Promise<string | undefined> {
  if (hops > 40) return undefined;
  const parts = path.split("/").filter((part) => part !== "" && part !== ".");
  let done = "";
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === "..") {
      done = posix.dirname(done) === "." ? "" : posix.dirname(done);
      continue;
    }
    const next = done ? `${done}/${part}` : part;
    const info = await lstat(join(root, next)).catch(() => undefined);
    if (!info) return undefined;
    if (info.isSymbolicLink()) {
      const target = await readlink(join(root, next));
      const rest = parts.slice(i + 1).join("/");
      const base = isAbsolute(target) ? target : `${done}/${target}`;
      return resolveInRoot(root, rest ? `${base}/${rest}` : base, hops + 1);
    }
    done = next;
  }
  return done;
}

export interface ImageNeedsReport {
  root: string;
  /** Kernel versions under usr/lib/modules (each is checked for every module). */
  kernels: string[];
  missing: { tools: string[]; files: string[]; modules: string[]; firmware: string[]; libraries: string[] };
  checked: { tools: number; files: number; modules: number; firmware: number; libraries: number };
}

// A distribution may compress modules and firmware (Debian 13: .ko.xz; linux-firmware: .zst).
const COMPRESSED = ["", ".xz", ".zst", ".gz"];

async function presentAny(root: string, paths: string[]): Promise<boolean> {
  for (const path of paths) if ((await resolveInRoot(root, path)) !== undefined) return true;
  return false;
}

/** What `root` (an unpacked image root) lacks of `needs`; every list empty means it has it all. */
export async function checkImageNeeds(root: string, needs: ImageNeeds = IMAGE_NEEDS): Promise<ImageNeedsReport> {
  const { snapshot: s } = needs;
  const kernels = (await readdir(join(root, "usr/lib/modules")).catch(() => [] as string[])).sort();
  const missing: ImageNeedsReport["missing"] = { tools: [], files: [], modules: [], firmware: [], libraries: [] };
  for (const tool of needs.tools) {
    if (!(await presentAny(root, TOOL_DIRS.map((dir) => `${dir}/${tool.name}`)))) missing.tools.push(tool.name);
  }
  for (const file of needs.files) if (!(await presentAny(root, [file.path]))) missing.files.push(file.path);
  for (const library of s.libraries) if (!(await presentAny(root, [library]))) missing.libraries.push(library);
  for (const module of s.modules) {
    if (kernels.length === 0) missing.modules.push(module);
    for (const kernel of kernels) {
      if (!(await presentAny(root, COMPRESSED.map((suffix) => `usr/lib/modules/${kernel}/${module}${suffix}`)))) {
        missing.modules.push(kernels.length === 1 ? module : `${kernel}/${module}`);
      }
    }
  }
  for (const file of s.firmware) {
    if (!(await presentAny(root, COMPRESSED.map((suffix) => `usr/lib/firmware/${file}${suffix}`)))) missing.firmware.push(file);
  }
  return {
    root,
    kernels,
    missing,
    checked: { tools: needs.tools.length, files: needs.files.length, modules: s.modules.length, firmware: s.firmware.length, libraries: s.libraries.length },
  };
}

/** One line per missing kind, for a test's message or a log. */
export function describeMissing(report: ImageNeedsReport): string[] {
  return Object.entries(report.missing)
    .filter(([, names]) => names.length > 0)
    .map(([kind, names]) => `${kind} (${names.length}): ${names.slice(0, 20).join(", ")}${names.length > 20 ? ", …" : ""}`);
}
