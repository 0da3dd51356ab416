/**
 * The virtual data centre, planned (pure): one lab network namespace with a bridge; a master VM
 * booting the recon ISO as a USB stick whose data partition carries the site config; N diskless
 * peer VMs (an empty disk each) that PXE-boot from the master, each behind an ipmi_sim BMC that
 * listens on an address of the lab bridge. The master learns the BMCs from its site config and
 * wakes the peers through them. `lab.ts` applies the plan.
 *
 * Addresses (10.77.0.0/24): master .1 (site config), DHCP pool .100–.199, BMCs .201…, the
 * lab namespace's own address on the bridge .254 (status and tests ask the master's API from
 * there). MACs: master 52:54:00:77:00:01, peers 52:54:00:77:00:1<n>, BMCs 52:54:00:77:b0:<n>.
 */
import { IMAGE_ARCH, type HttpTreePlan } from "../build/http-tree.js";
import { createHash } from "node:crypto";
import { DEFAULT_ROOT_TRANSPORT, type RootTransport } from "../model/root-transport.js";
import { join } from "node:path";
import { stringify } from "yaml";
import { ReconError } from "../lib/errors.js";
import type { LabBmcSpec } from "./bmc.js";
import { FIRMWARES, isUefi, ovmfFiles, type Firmware, type NicSpec, type VmSpec } from "./qemu.js";

/** One kind for every peer, "mixed" (BIOS and UEFI by turns), or one kind per peer. */
export type LabFirmware = Firmware | "mixed" | readonly Firmware[];
export const LAB_FIRMWARES: readonly string[] = [...FIRMWARES, "mixed"];
/** The master boots the stick: a network-boot kind makes no sense for it. */
export type MasterFirmware = "bios" | "uefi" | "uefi-sb";
export const MASTER_FIRMWARES: readonly MasterFirmware[] = ["bios", "uefi", "uefi-sb"];
export const MAX_LAB_PEERS = 8;

export interface LabOptions {
  peers: number;
  firmware: LabFirmware;
  /** The master VM's firmware (default bios). */
  masterFirmware?: MasterFirmware;
  /** The recon live ISO the master's stick is made from. */
  iso: string;
  /** Everything the lab writes lives here (and `lab down` removes it). */
  dir: string;
  /** Peers boot with rd.debug (dracut's full early-boot log on their serial console). */
  debug: boolean;
  /** How long a peer has after its upload to power itself off before the master does it. */
  confirmOffAfterS?: number;
  peerMemoryMiB?: number;
  masterMemoryMiB?: number;
  /** Each peer's root transport by position (node setting `root`; missing ones are http), set per MAC in the site config. */
  roots?: readonly RootTransport[];
  /**
   * Images beside the stick's own, put on the stick's data partition as `images/<label>/` (as
   * `recon images add` would): each an ISO and the kernel arguments its boot.json carries.
   */
  extraImages?: readonly LabExtraImage[];
  /** Each peer's image label by position (node setting `image`; missing ones boot the stick's own). */
  images?: readonly (string | undefined)[];
}

export interface LabExtraImage {
  label: string;
  iso: string;
  kernelArgs: readonly string[];
}

export interface LabPeerPlan {
  name: string;
  firmware: Firmware;
  mac: string;
  /** Size of the peer's empty disk, different per peer so inventories can be told apart. */
  diskBytes: number;
  diskFile: string;
  tap: string;
  serialLog: string;
  smbios: { manufacturer: string; product: string; serial: string };
  bmc: Omit<LabBmcSpec, "password">;
  vm: VmSpec;
  /** How its root reaches it (the site config's `hosts.<mac>.root`; http needs no entry). */
  root: RootTransport;
  /** The image it boots (the site config's `hosts.<mac>.image`); undefined: the stick's own. */
  image?: string;
}

export interface LabPlan {
  id: string;
  dir: string;
  /** Namespace prefix; createLab makes `<prefix>-m`, the namespace holding the bridge. */
  prefix: string;
  wireNs: string;
  bridge: string;
  network: string;
  masterAddress: string;
  /** The lab namespace's own address on the bridge (CIDR), then one per BMC. */
  bridgeAddresses: string[];
  labAddress: string;
  stateFile: string;
  master: { mac: string; tap: string; stick: string; stickBytes: number; firmware: MasterFirmware; vm: VmSpec };
  peers: LabPeerPlan[];
  /** Images put on the stick's data partition beside its own (images/<label>/). */
  extraImages: readonly LabExtraImage[];
  debug: boolean;
  confirmOffAfterS: number;
}

const NET = "10.77.0";

const hex2 = (n: number) => n.toString(16).padStart(2, "0");

export function labId(dir: string): string {
  return createHash("sha256").update(dir).digest("hex").slice(0, 6);
}

/** Peer `index`'s (1-based) firmware. */
export function peerFirmware(mode: LabFirmware, index: number): Firmware {
  if (typeof mode !== "string") return mode[index - 1]!;
  if (mode === "mixed") return index % 2 === 1 ? "bios" : "uefi";
  return mode;
}

const usage = (message: string, hint?: string) => new ReconError("USAGE", message, { exitCode: 2, ...(hint && { hint }) });

/**
 * `--firmware` and `--peers` as typed (pure): one kind, "mixed", or a comma-separated list with
 * one kind per peer, whose length is the peer count unless --peers says otherwise (then an error).
 */
export function parseLabFirmware(firmware: string | undefined, peers: string | undefined): { firmware: LabFirmware; peers: number } {
  const text = firmware ?? "mixed";
  const count = peers === undefined ? undefined : Number(peers);
  if (!text.includes(",")) {
    if (!LAB_FIRMWARES.includes(text)) throw usage(`--firmware must be one of ${LAB_FIRMWARES.join(", ")} or a comma-separated list of kinds, not '${text}'`);
    return { firmware: text as Firmware | "mixed", peers: count ?? 2 };
  }
  const kinds = text.split(",").map((kind) => kind.trim());
  const wrong = kinds.filter((kind) => !(FIRMWARES as readonly string[]).includes(kind));
  if (wrong.length > 0) throw usage(`--firmware ${text}: '${wrong.join("', '")}' is not a firmware kind`, `one of ${FIRMWARES.join(", ")} per peer`);
  if (count !== undefined && count !== kinds.length) {
    throw usage(`--firmware ${text} names ${kinds.length} peer(s) but --peers is ${peers}`, "drop --peers, or give one kind per peer");
  }
  return { firmware: kinds as Firmware[], peers: kinds.length };
}

/** A UEFI VM's OVMF code and its own copy of the variable store in the lab dir. */
function ovmfFor(firmware: Firmware, dir: string, name: string): Pick<VmSpec, "ovmfCode" | "ovmfVars"> {
  const files = ovmfFiles(firmware);
  return files ? { ovmfCode: files.code, ovmfVars: join(dir, `${name}.OVMF_VARS.fd`) } : {};
}

/** UEFI without an iPXE option ROM: OVMF's own PXE asks as arch 7, its HTTP boot as arch 16 (docs/lab-facts.md). */
function nicFor(firmware: Firmware, nic: NicSpec): NicSpec {
  return isUefi(firmware) ? { ...nic, romfile: "" } : nic;
}

export function planLab(options: LabOptions): LabPlan {
  if (!Number.isInteger(options.peers) || options.peers < 1 || options.peers > MAX_LAB_PEERS) {
    throw new ReconError("USAGE", `--peers must be 1–${MAX_LAB_PEERS}, not ${options.peers}`, { hint: "each peer is a TCG VM with 2 GiB of RAM", exitCode: 2 });
  }
  const mode = options.firmware;
  if (typeof mode === "string" ? !LAB_FIRMWARES.includes(mode) : mode.some((kind) => !FIRMWARES.includes(kind))) {
    throw usage(`--firmware must be one of ${LAB_FIRMWARES.join(", ")} or a comma-separated list of kinds`);
  }
  if (typeof mode !== "string" && mode.length !== options.peers) {
    throw usage(`--firmware names ${mode.length} peer(s) but --peers is ${options.peers}`, "drop --peers, or give one kind per peer");
  }
  const masterFirmware = options.masterFirmware ?? "bios";
  if (!MASTER_FIRMWARES.includes(masterFirmware)) throw usage(`--master-firmware must be one of ${MASTER_FIRMWARES.join(", ")}`);
  const id = labId(options.dir);
  const prefix = `rcnlab-${id}`;
  const dir = options.dir;
  const masterMac = "52:54:00:77:00:01";
  const masterTap = "labtapm";
  const stick = join(dir, "master-stick.img");
  const master = {
    mac: masterMac,
    tap: masterTap,
    stick,
    // Each image on the data partition is one more ISO (and its kernel and initrd) there.
    // 2 GiB, 1 more per extra image, 2 more per nbd-rw peer (its writable copy of the ext4 root, ~1.1 GB, lives there).
    stickBytes: (2 + (options.extraImages?.length ?? 0) + 2 * (options.roots?.filter((root) => root === "nbd-rw").length ?? 0)) * 1024 ** 3,
    firmware: masterFirmware,
    vm: {
      name: `recon-lab-master-${id}`,
      memoryMiB: options.masterMemoryMiB ?? 2048,
      cpus: 2,
      firmware: masterFirmware,
      ...ovmfFor(masterFirmware, dir, "master"),
      disks: [{ file: stick, format: "raw", as: "usb" }],
      nics: [nicFor(masterFirmware, { tap: masterTap, mac: masterMac })],
      serialLog: join(dir, "master.serial.log"),
    } satisfies VmSpec,
  };
  const peers: LabPeerPlan[] = [];
  for (let n = 1; n <= options.peers; n += 1) {
    const name = `peer${n}`;
    const firmware = peerFirmware(options.firmware, n);
    const mac = `52:54:00:77:00:${hex2(0x10 + n)}`;
    const tap = `labtap${n}`;
    const diskFile = join(dir, `${name}.disk.raw`);
    const serialLog = join(dir, `${name}.serial.log`);
    // 2 GiB + n GiB: each peer's disk size is its own, so a mix-up shows.
    const diskBytes = (2 + n) * 1024 ** 3;
    const smbios = { manufacturer: "Recon Lab", product: `LabServer ${firmware.toUpperCase()}`, serial: `RCNLAB-${id}-${n}` };
    const vmPort = 9100 + n;
    const bmc: LabPeerPlan["bmc"] = {
      name,
      address: `${NET}.${200 + n}`,
      netmask: "255.255.255.0",
      macAddress: `52:54:00:77:b0:${hex2(n)}`,
      username: "admin",
      vmPort,
      dir: join(dir, "bmc", name),
      poweroffWaitS: 20,
      killWaitS: 5,
    };
    const vm: VmSpec = {
      name: `recon-lab-${name}-${id}`,
      memoryMiB: options.peerMemoryMiB ?? 2048,
      cpus: 1,
      firmware,
      ...ovmfFor(firmware, dir, name),
      disks: [{ file: diskFile, format: "raw", as: "virtio", bootIndex: 1, serial: `RCNLABDISK${n}` }],
      nics: [nicFor(firmware, { tap, mac, bootIndex: 0 })],
      serialLog,
      smbios,
      ipmiBmcPort: vmPort,
    };
    peers.push({
      name,
      firmware,
      mac,
      diskBytes,
      diskFile,
      tap,
      serialLog,
      smbios,
      bmc,
      vm,
      root: options.roots?.[n - 1] ?? DEFAULT_ROOT_TRANSPORT,
      ...(options.images?.[n - 1] !== undefined && { image: options.images[n - 1] }),
    });
  }
  return {
    id,
    dir,
    prefix,
    wireNs: `${prefix}-m`,
    bridge: "labbr0",
    network: `${NET}.0/24`,
    masterAddress: `${NET}.1`,
    labAddress: `${NET}.254`,
    bridgeAddresses: [`${NET}.254/24`, ...peers.map((p) => `${p.bmc.address}/24`)],
    stateFile: join(dir, "lab.json"),
    master,
    peers,
    extraImages: options.extraImages ?? [],
    debug: options.debug,
    confirmOffAfterS: options.confirmOffAfterS ?? 600,
  };
}

/** The UEFI variable stores `lab up` copies into the lab dir (`lab down` removes them with it), one per UEFI VM. */
export function labVarStores(plan: LabPlan): Array<{ vm: string; template: string; file: string }> {
  return [plan.master.vm, ...plan.peers.map((peer) => peer.vm)].flatMap((vm) => {
    const files = ovmfFiles(vm.firmware);
    return files && vm.ovmfVars ? [{ vm: vm.name, template: files.varsTemplate, file: vm.ovmfVars }] : [];
  });
}

/** Where the master finds a peer's BMC password on its data partition (mounted at /var/lib/recon). */
export function masterPasswordFile(peer: string): string {
  return `/var/lib/recon/bmc/${peer}.password`;
}

/** The lab's burn-in: every test, a few seconds each (the peers are single-CPU TCG VMs). */
export const LAB_BURN_IN = { enabled: true, cpuS: 10, memoryS: 10, memoryPercent: 5, memtesterMiB: 4, memtesterS: 180, diskReadS: 10 } as const;

/** The http tree of an extra image as `recon images add` lays it out (pure): isos/<label>.iso, install/<label>/. */
export function labImageTree(image: LabExtraImage): HttpTreePlan {
  return {
    label: image.label,
    isoPath: `isos/${image.label}.iso`,
    kernelPath: `install/${image.label}/linux`,
    initrdPath: `install/${image.label}/initrd`,
    bootConfigPath: `install/${image.label}/boot.json`,
    arch: IMAGE_ARCH,
    imageKernelArgs: [...image.kernelArgs],
  };
}

/** A peer's own settings layer (root transport and image), or undefined when it takes the defaults. */
function hostSettings(peer: LabPeerPlan): { root?: RootTransport; image?: string } | undefined {
  const settings = { ...(peer.root !== DEFAULT_ROOT_TRANSPORT && { root: peer.root }), ...(peer.image !== undefined && { image: peer.image }) };
  return Object.keys(settings).length ? settings : undefined;
}

/** The master's site.yaml for the lab (pure): its address, the pool, the BMCs, power settings. */
export function renderLabSiteConfig(plan: LabPlan): string {
  const config = {
    address: `${plan.masterAddress}/24`,
    dhcp: { mode: "auto", pool: { start: `${NET}.100`, end: `${NET}.199` } },
    defaults: { postAction: "poweroff", ...(plan.debug && { kernelArgs: ["rd.debug"] }) },
    bmcs: plan.peers.map((peer) => ({
      name: peer.name,
      mac: peer.mac,
      address: peer.bmc.address,
      username: peer.bmc.username,
      passwordFile: masterPasswordFile(peer.name),
    })),
    power: { wake: true, bootdevPxe: true, confirmOffAfterS: plan.confirmOffAfterS },
    // Burn-in on, with bounds small enough for TCG peers (docs/testing.md): the lab shows it runs and
    // that the peers' disks are byte-identical afterwards (test/e2e/lab.test.ts).
    burnIn: LAB_BURN_IN,
    ...(plan.peers.some(hostSettings) && {
      hosts: Object.fromEntries(plan.peers.filter(hostSettings).map((peer) => [peer.mac, hostSettings(peer)])),
    }),
  };
  return `# recon lab ${plan.id}: written by 'recon lab up' (src/lab/lab-plan.ts)\n${stringify(config)}`;
}
