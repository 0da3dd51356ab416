/**
 * The collection plan (docs/architecture.md, "Plan, then apply"). Pure: the facts discovered about this
 * machine in, the list of collectors out, exactly per the raw-upload contract
 * (docs/raw-upload.md). Each collector runs one tool (or reads one place in /proc or /sys) and
 * keeps its output as-is under raw/; parsing belongs to src/inventory.
 */

/** What discovery found on this machine (src/agent/discover.ts reads it). */
export interface HostFacts {
  /** Network interfaces from /sys/class/net, without lo. */
  interfaces: string[];
  /** Whole disks (lsblk TYPE=disk), kernel names such as `sda`, `nvme0n1`. */
  disks: string[];
  /** NVMe controllers from /sys/class/nvme, such as `nvme0`. */
  nvmeControllers: string[];
  /** /dev/ipmi0 exists: an in-band BMC is reachable. */
  ipmiDevice: boolean;
  /** nvidia-smi is on PATH. */
  nvidiaSmi: boolean;
  /**
   * Disks behind a RAID controller that `smartctl --scan-open` found (device and its `-d` value,
   * `/dev/bus/0` + `megaraid,0`, `/dev/sda` + `cciss,1`): the kernel sees only the controller's volumes.
   */
  raidDisks: RaidDisk[];
}

export interface RaidDisk {
  device: string;
  type: string;
}

export interface PlanOptions {
  /** The most lldpd listens before lldpctl is asked; it stops earlier once every linked interface has a neighbour (lldp-wait.ts). */
  lldpWaitMs: number;
  /** The time limit of every collector (the LLDP one gets it on top of its wait). */
  collectorTimeoutMs: number;
  /** The control socket of the agent's own lldpd, so it never talks to another lldpd. */
  lldpSocket: string;
}

/** LLDP's default msgTxInterval is 30 s (IEEE 802.1AB-2016, 9.2.5.7), plus 5 s for lldpd's start and a port's first frame. */
export const DEFAULT_LLDP_WAIT_MS = 35_000;
export const DEFAULT_COLLECTOR_TIMEOUT_MS = 120_000;
export const DEFAULT_LLDP_SOCKET = "/run/recon/lldpd.socket";

interface CollectorBase {
  /** Stable name in the manifest, e.g. `lshw`, `ethtool.eth0`, `smartctl.sda`. */
  id: string;
  /** Paths inside the upload this collector writes (raw/...). */
  files: string[];
  timeoutMs: number;
}

/** Runs argv (cwd = the staging directory); its stdout goes to `stdout` when set. */
export interface CommandCollector extends CollectorBase {
  kind: "command";
  argv: string[];
  /** null: the tool writes its file itself (dmidecode --dump-bin <file>). */
  stdout: string | null;
}

/** Tries each argv in turn and keeps the first that exits 0 (ipmitool lan print 1..9). */
export interface FirstAnswerCollector extends CollectorBase {
  kind: "first-answer";
  /** In order; `files` is empty in the plan and becomes the answering one's stdout file. */
  candidates: { argv: string[]; stdout: string }[];
}

/** Starts a receive-only lldpd, listens at most `waitMs` (less once every linked interface has a neighbour), then asks lldpctl; stops the lldpd. */
export interface LldpCollector extends CollectorBase {
  kind: "lldp";
  daemonArgv: string[];
  /** lldpd's control socket (its directory is made before the start). */
  controlSocket: string;
  argv: string[];
  waitMs: number;
  stdout: string;
}

/** Reads /proc or /sys directly (no tool): argv is [] and exit_code null in the manifest. */
export interface BuiltinCollector extends CollectorBase {
  kind: "builtin";
  reader: "efi" | "lockdown" | "meminfo" | "edac" | "disk-by-path" | "sys-block";
  stdout: string;
}

export type CollectorSpec = CommandCollector | FirstAnswerCollector | LldpCollector | BuiltinCollector;

/** A kernel name as a file-name part: `cciss/c0d0` → `cciss!c0d0` (the way sysfs spells it). */
export function fileSafeName(name: string): string {
  return name.replace(/\//g, "!");
}

// Interface and disk names become argv and file names: anything unusual is left out rather than
// quoted (Linux refuses "/", whitespace and ":"-free oddities in ifnames anyway).
const SAFE_INTERFACE = /^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,14}$/;
const SAFE_DISK = /^[A-Za-z0-9][A-Za-z0-9_.:!+/-]{0,63}$/;
// RAM-backed "disks" have no SMART and would only add a failure per boot; nbd devices are the master's
// export (root: nbd, #13): not this machine's drives (the lab saw burn-in's fio read the root over the network).
const NOT_A_DRIVE = /^(zram|ram|loop|nbd)\d+$/;
// A disk behind a RAID controller: a /dev path and a `-d` pass-through value (smartctl(8), "-d TYPE").
const SAFE_RAID_DEVICE = /^\/dev\/[A-Za-z0-9][A-Za-z0-9_.!+/-]{0,63}$/;
const RAID_TYPE = /^(sat\+)?(megaraid|cciss|aacraid|areca|3ware|hpt|sssraid),[0-9]{1,4}(\/[0-9]{1,4}){0,2}$/;

/**
 * A RAID disk's name in the inventory and its file-name id: "<device without /dev/>:<-d value>"
 * (`bus/0:megaraid,0`); the id spells "/" as "!" like every other disk (`smartctl.bus!0:megaraid,0.json`).
 */
/** A `-d` value that reaches a disk through a RAID controller (not `scsi`, `nvme`, `sat`, `auto`). */
export function isRaidPassThrough(type: string): boolean {
  return RAID_TYPE.test(type);
}

export function raidDiskName(disk: RaidDisk): string {
  return `${disk.device.replace(/^\/dev\//, "")}:${disk.type}`;
}

/** The interfaces and disks the plan will use, sorted; the rest is reported as skipped. */
export function usableFacts(facts: HostFacts): { facts: HostFacts; skipped: string[] } {
  const skipped: string[] = [];
  const keep = (names: string[], ok: (name: string) => boolean, what: string) =>
    [...new Set(names)].sort().filter((name) => {
      if (ok(name)) return true;
      skipped.push(`${what} ${JSON.stringify(name)}`);
      return false;
    });
  return {
    facts: {
      ...facts,
      interfaces: keep(facts.interfaces, (n) => n !== "lo" && SAFE_INTERFACE.test(n), "interface"),
      disks: keep(facts.disks, (n) => SAFE_DISK.test(n) && !n.includes("..") && !NOT_A_DRIVE.test(n), "disk"),
      nvmeControllers: keep(facts.nvmeControllers, (n) => /^nvme\d+$/.test(n), "nvme controller"),
      raidDisks: [...new Map(facts.raidDisks.map((disk) => [raidDiskName(disk), disk])).entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([, disk]) => disk)
        .filter((disk) => {
          if (SAFE_RAID_DEVICE.test(disk.device) && !disk.device.includes("..") && RAID_TYPE.test(disk.type)) return true;
          skipped.push(`raid disk ${JSON.stringify(`${disk.device} -d ${disk.type}`)}`);
          return false;
        }),
    },
    skipped,
  };
}

export function planCollectors(input: HostFacts, options: PlanOptions): CollectorSpec[] {
  const { facts } = usableFacts(input);
  const timeoutMs = options.collectorTimeoutMs;
  const command = (id: string, argv: string[], file: string): CommandCollector => ({
    kind: "command",
    id,
    argv,
    stdout: `raw/${file}`,
    files: [`raw/${file}`],
    timeoutMs,
  });
  const builtin = (id: string, reader: BuiltinCollector["reader"], file: string): BuiltinCollector => ({
    kind: "builtin",
    id,
    reader,
    stdout: `raw/${file}`,
    files: [`raw/${file}`],
    timeoutMs,
  });

  const plan: CollectorSpec[] = [
    command("lshw", ["lshw", "-json"], "lshw.json"),
    command("dmidecode", ["dmidecode", "-t", "0,1,2,3,4,16,17,38,39"], "dmidecode.txt"),
    // --dump-bin writes the file itself (the path is relative to the staging directory).
    { kind: "command", id: "dmidecode-bin", argv: ["dmidecode", "--dump-bin", "raw/dmidecode.bin"], stdout: null, files: ["raw/dmidecode.bin"], timeoutMs },
    command("lscpu", ["lscpu", "-J"], "lscpu.json"),
    command("lsblk", ["lsblk", "-J", "-O", "-b"], "lsblk.json"),
    command("lspci", ["lspci", "-vmm", "-nn", "-k"], "lspci.txt"),
    command("ip-link", ["ip", "-j", "link"], "ip-link.json"),
    command("ip-addr", ["ip", "-j", "addr"], "ip-addr.json"),
  ];
  for (const name of facts.interfaces) {
    plan.push(command(`ethtool-i.${name}`, ["ethtool", "-i", name], `ethtool-i.${name}.txt`));
    plan.push(command(`ethtool.${name}`, ["ethtool", name], `ethtool.${name}.txt`));
  }
  for (const disk of facts.disks) {
    const safe = fileSafeName(disk);
    plan.push(command(`smartctl.${safe}`, ["smartctl", "-j", "-a", `/dev/${disk}`], `smartctl.${safe}.json`));
  }
  // Disks behind RAID controllers (docs/raw-upload.md): what smartctl's scan saw, then each disk through its controller.
  plan.push(command("smartctl-scan", ["smartctl", "--scan-open"], "smartctl-scan.txt"));
  for (const disk of facts.raidDisks) {
    const safe = fileSafeName(raidDiskName(disk));
    plan.push(command(`smartctl.${safe}`, ["smartctl", "-j", "-a", "-d", disk.type, disk.device], `smartctl.${safe}.json`));
  }
  plan.push(command("nvme-list", ["nvme", "list", "-o", "json"], "nvme-list.json"));
  for (const ctrl of facts.nvmeControllers) {
    plan.push(command(`nvme-id-ctrl.${ctrl}`, ["nvme", "id-ctrl", `/dev/${ctrl}`, "-o", "json"], `nvme-id-ctrl.${ctrl}.json`));
  }
  plan.push({
    kind: "lldp",
    id: "lldpctl",
    // -d foreground (the agent owns and stops it), -r receive only (listen, send nothing),
    // -c also decode CDP (many switches ship with LLDP off), -u a private control socket.
    daemonArgv: ["lldpd", "-d", "-r", "-c", "-u", options.lldpSocket],
    controlSocket: options.lldpSocket,
    argv: ["lldpctl", "-u", options.lldpSocket, "-f", "json"],
    waitMs: options.lldpWaitMs,
    stdout: "raw/lldpctl.json",
    files: ["raw/lldpctl.json"],
    timeoutMs: options.lldpWaitMs + timeoutMs,
  });
  if (facts.ipmiDevice) {
    plan.push(command("ipmitool-mc-info", ["ipmitool", "mc", "info"], "ipmitool-mc-info.txt"));
    plan.push({
      kind: "first-answer",
      id: "ipmitool-lan-print",
      // The BMC's LAN channel is 1 on most boards, but 2, 3 or 8 on others.
      candidates: Array.from({ length: 9 }, (_, i) => ({
        argv: ["ipmitool", "lan", "print", String(i + 1)],
        stdout: `raw/ipmitool-lan-print.${i + 1}.txt`,
      })),
      files: [],
      timeoutMs,
    });
    plan.push(command("ipmitool-fru", ["ipmitool", "fru"], "ipmitool-fru.txt"));
    // Health (docs/inventory.md "Health"): the BMC's event log, its sensors' states, and their thresholds.
    plan.push(command("ipmitool-sel", ["ipmitool", "sel", "elist"], "ipmitool-sel.txt"));
    plan.push(command("ipmitool-sdr", ["ipmitool", "sdr", "elist"], "ipmitool-sdr.txt"));
    plan.push(command("ipmitool-sensor", ["ipmitool", "sensor"], "ipmitool-sensor.txt"));
  }
  plan.push(builtin("efi", "efi", "efi.json"));
  plan.push(builtin("lockdown", "lockdown", "lockdown.txt"));
  plan.push(builtin("meminfo", "meminfo", "meminfo.txt"));
  plan.push(builtin("edac", "edac", "edac.json"));
  plan.push(builtin("disk-by-path", "disk-by-path", "disk-by-path.json"));
  plan.push(builtin("sys-block", "sys-block", "sys-block.json"));
  if (facts.nvidiaSmi) plan.push(command("nvidia-smi", ["nvidia-smi", "-q", "-x"], "nvidia-smi.xml"));
  return plan;
}
