/**
 * The builtin collectors: what the kernel exposes in /proc and /sys without a tool. Each reader
 * returns the text of its raw file. `root` is "/" on a machine; tests point it at a directory
 * laid out like /sys. The shaping functions are pure.
 */
import { constants } from "node:fs";
import { open, readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";

// The EFI global-variable GUID (UEFI spec, "Globally Defined Variables").
const EFI_GLOBAL = "8be4df61-93ca-11d2-aa0d-00e098032b8c";

export interface EfiState {
  efi: boolean;
  secure_boot: boolean | null;
  setup_mode: boolean | null;
}

/** efivarfs content is 4 bytes of attributes, then the value: one byte for these two. */
export function efiFlag(content: Buffer | undefined): boolean | null {
  if (content === undefined || content.length < 5) return null;
  return content[4] === 1;
}

export function efiState(efiDirExists: boolean, secureBoot: Buffer | undefined, setupMode: Buffer | undefined): EfiState {
  if (!efiDirExists) return { efi: false, secure_boot: null, setup_mode: null };
  return { efi: true, secure_boot: efiFlag(secureBoot), setup_mode: efiFlag(setupMode) };
}

const readOrUndefined = (path: string) => readFile(path).catch(() => undefined);

export async function readEfi(root: string): Promise<string> {
  const efiDir = join(root, "sys/firmware/efi");
  const exists = await readdir(efiDir).then(
    () => true,
    () => false,
  );
  const vars = join(efiDir, "efivars");
  const state = efiState(exists, await readOrUndefined(join(vars, `SecureBoot-${EFI_GLOBAL}`)), await readOrUndefined(join(vars, `SetupMode-${EFI_GLOBAL}`)));
  return `${JSON.stringify(state)}\n`;
}

/**
 * /sys/kernel/security/lockdown as the kernel writes it (`none [integrity] confidentiality`, the
 * active mode in brackets). Absent when securityfs is not mounted or the kernel has no lockdown
 * LSM: then the collector fails with that said, and the inventory's lockdown is null.
 */
export async function readLockdown(root: string): Promise<string> {
  const path = join(root, "sys/kernel/security/lockdown");
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ENOENT") throw error;
    throw new Error(`${path} is absent (${code}): securityfs is not mounted on /sys/kernel/security, or the kernel has no lockdown LSM`);
  }
}

const KMSG_MAX_READS = 100_000;

/**
 * The kernel's log as /dev/kmsg records (`<prio>,<seq>,<usec>,<flags>;<message>`, one per line),
 * those at or after `sinceUs` microseconds since boot. Read without blocking to the end of the
 * ring buffer (EAGAIN), bounded; a record overwritten while reading (EPIPE) is skipped. Used
 * only to tell a collector refused by kernel lockdown (lockdown.ts); undefined when unreadable.
 */
export async function readKernelLog(root: string, sinceUs = 0): Promise<string | undefined> {
  const handle = await open(join(root, "dev/kmsg"), constants.O_RDONLY | constants.O_NONBLOCK).catch(() => undefined);
  if (handle === undefined) return undefined;
  const records: string[] = [];
  const keep = (line: string) => {
    const at = /^\d+,\d+,(\d+),/.exec(line);
    if (at && Number(at[1]) >= sinceUs) records.push(line);
  };
  // The kernel refuses a read into a buffer smaller than one record (at most 8 KiB with its dictionary).
  const buffer = Buffer.alloc(16 * 1024);
  // /dev/kmsg gives one whole record per read; a plain file (tests) may cut a line between reads.
  let pending = "";
  try {
    for (let reads = 0; reads < KMSG_MAX_READS; reads++) {
      let bytes: number;
      try {
        ({ bytesRead: bytes } = await handle.read(buffer, 0, buffer.length, null));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EPIPE") continue;
        break; // EAGAIN: the end of the buffer
      }
      if (bytes === 0) break; // a plain file (tests) ends
      const lines = (pending + buffer.toString("utf8", 0, bytes)).split("\n");
      pending = lines.pop() ?? "";
      lines.forEach(keep);
    }
    keep(pending);
  } finally {
    await handle.close();
  }
  return records.length > 0 ? `${records.join("\n")}\n` : "";
}

export async function readMeminfo(root: string): Promise<string> {
  return readFile(join(root, "proc/meminfo"), "utf8");
}

type Counters = Record<string, string | number>;

/** A sysfs attribute as a number when it is one, else its trimmed text; absent → omitted. */
function attribute(value: string | undefined): string | number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  return /^-?\d+$/.test(text) ? Number(text) : text;
}

async function readAttributes(dir: string, names: Record<string, string>): Promise<Counters> {
  const out: Counters = {};
  for (const [file, key] of Object.entries(names)) {
    const value = attribute(await readFile(join(dir, file), "utf8").catch(() => undefined));
    if (value !== undefined) out[key] = value;
  }
  return out;
}

const byNumber = (prefix: string) => (a: string, b: string) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length));

/**
 * EDAC memory-controller counters (Documentation/admin-guide/ras.rst): corrected (ce) and
 * uncorrected (ue) errors per controller and per DIMM (`dimm*`, or `rank*` on older drivers).
 */
export async function readEdac(root: string): Promise<string> {
  const base = join(root, "sys/devices/system/edac/mc");
  const names = await readdir(base).catch(() => undefined);
  const controllers = [];
  for (const mc of (names ?? []).filter((n) => /^mc\d+$/.test(n)).sort(byNumber("mc"))) {
    const dir = join(base, mc);
    const counters = await readAttributes(dir, {
      mc_name: "mc_name",
      size_mb: "size_mb",
      ce_count: "ce_count",
      ue_count: "ue_count",
      ce_noinfo_count: "ce_noinfo_count",
      ue_noinfo_count: "ue_noinfo_count",
    });
    const entries = await readdir(dir).catch(() => [] as string[]);
    const dimms = [];
    for (const prefix of ["dimm", "rank"]) {
      for (const dimm of entries.filter((n) => new RegExp(`^${prefix}\\d+$`).test(n)).sort(byNumber(prefix))) {
        dimms.push({
          name: dimm,
          ...(await readAttributes(join(dir, dimm), {
            dimm_label: "label",
            dimm_location: "location",
            size: "size_mb",
            dimm_mem_type: "mem_type",
            dimm_edac_mode: "edac_mode",
            dimm_ce_count: "ce_count",
            dimm_ue_count: "ue_count",
          })),
        });
      }
    }
    controllers.push({ name: mc, ...counters, dimms });
  }
  return `${JSON.stringify({ edac: names !== undefined, mc: controllers }, null, 2)}\n`;
}

/**
 * /dev/disk/by-path → {"by_path": {"sda": ["pci-0000:00:1f.2-ata-1", …]}}: the stable
 * bus-position names udev gives each whole disk (partitions left out), sorted. Pure shaping.
 */
export function diskByPath(links: { name: string; target: string }[]): { by_path: Record<string, string[]> } {
  const byDisk: Record<string, string[]> = {};
  for (const link of links) {
    if (/-part\d+$/.test(link.name)) continue;
    const disk = link.target.split("/").at(-1);
    if (disk === undefined || disk === "" || disk === "..") continue;
    (byDisk[disk] ??= []).push(link.name);
  }
  for (const names of Object.values(byDisk)) names.sort();
  return { by_path: Object.fromEntries(Object.entries(byDisk).sort(([a], [b]) => a.localeCompare(b))) };
}

export async function readDiskByPath(root: string): Promise<string> {
  const dir = join(root, "dev/disk/by-path");
  const names = await readdir(dir).catch(() => [] as string[]);
  const links: { name: string; target: string }[] = [];
  for (const name of names) {
    const target = await readlink(join(dir, name)).catch(() => undefined);
    if (target !== undefined) links.push({ name, target });
  }
  return `${JSON.stringify(diskByPath(links))}\n`;
}

/** The sysfs attributes of a whole disk that name it, relative to /sys/block/<disk>/ (first found wins). */
export const SYS_BLOCK_ATTRIBUTES = {
  // virtio-blk has /sys/block/vda/serial; NVMe and some SCSI drivers device/serial.
  serial: ["serial", "device/serial"],
  model: ["device/model"],
  vendor: ["device/vendor"],
  wwid: ["wwid", "device/wwid"],
} as const;

/**
 * /sys/block → {"disks": {"vda": {"serial": "RCNLABDISK1", "model": null, …}}}: what the kernel
 * itself says about each whole disk. lsblk takes these from udev's database, and a disk udev has
 * not processed yet (a busy early boot, a late hotplug) shows no serial there; sysfs has it
 * regardless. Partitions, loop, ram, zram and nbd (the master's export) devices are left out. Values trimmed, "" → null.
 */
export async function readSysBlock(root: string): Promise<string> {
  const dir = join(root, "sys/block");
  const names = (await readdir(dir).catch(() => [] as string[])).filter((name) => !/^(loop|ram|zram|nbd)\d+$/.test(name)).sort();
  const disks: Record<string, Record<keyof typeof SYS_BLOCK_ATTRIBUTES, string | null>> = {};
  for (const name of names) {
    const entry = { serial: null, model: null, vendor: null, wwid: null } as Record<keyof typeof SYS_BLOCK_ATTRIBUTES, string | null>;
    for (const [key, paths] of Object.entries(SYS_BLOCK_ATTRIBUTES) as [keyof typeof SYS_BLOCK_ATTRIBUTES, readonly string[]][]) {
      for (const path of paths) {
        const text = (await readFile(join(dir, name, path), "utf8").catch(() => "")).trim();
        if (text !== "") {
          entry[key] = text;
          break;
        }
      }
    }
    // device/vendor is the SCSI INQUIRY vendor beside device/model; without a model it is a bus
    // id (virtio's "0x1af4"), not a maker.
    if (entry.model === null) entry.vendor = null;
    disks[name] = entry;
  }
  return `${JSON.stringify({ disks }, null, 2)}\n`;
}

/** The builtin collectors by reader name (collectors.ts plans them, collect.ts runs them). */
export const BUILTIN_READERS: Record<"efi" | "lockdown" | "meminfo" | "edac" | "disk-by-path" | "sys-block", (root: string) => Promise<string>> = {
  efi: readEfi,
  lockdown: readLockdown,
  meminfo: readMeminfo,
  edac: readEdac,
  "disk-by-path": readDiskByPath,
  "sys-block": readSysBlock,
};
