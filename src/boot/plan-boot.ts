/**
 * The one decision of what a machine boots (house style 1, after pixiecore's BootSpec). Pure:
 * the machine as the network saw it, the site config and the node's record in, a BootPlan out.
 * The iPXE route, the dnsmasq host file and the UI all ask this function.
 */
import {
  resolveNodeSettings,
  type ResolvedNodeSettings,
} from "../model/resolve-node-settings.js";
import { type SiteConfig } from "../model/site-config.js";
import { type PostAction } from "../model/peer-contract.js";
import { normalizeMac } from "../model/net-address.js";

export type MachineArch = "bios" | "efi32" | "efi64" | "arm64" | "unknown";

export interface Machine {
  mac: string;
  arch: MachineArch;
  /** `iPXE` once iPXE itself sends the DHCP request or fetches the script. */
  userClass?: string | undefined;
  ip?: string | undefined;
  hostname?: string | undefined;
}

/** What planBoot needs to know about the node's history (NodeState satisfies it). */
export interface NodeBootRecord {
  /** Inventories stored for this node so far. */
  uploads: number;
}

/** What the master serves, decided at start-up; planBoot only reads it. */
export interface BootServer {
  /** The master's IPv4 address on the provisioning network (no port). */
  address: string;
  httpPort: number;
  /** The http tree's label: isos/<label>.iso, install/<label>/linux and …/initrd. */
  imageLabel: string;
  /** What the kernel in the image runs on. */
  imageArch: "x86_64" | "aarch64";
  /** Args the image's recipe adds for network boot (boot.json), before the site's own. */
  imageKernelArgs: readonly string[];
  /** Whether an arm64 iPXE binary is in the TFTP root. */
  arm64Firmware: boolean;
}

export type FirmwareFile = "undionly.kpxe" | "ipxe.efi" | "snponly.efi" | "ipxe-arm64.efi";

export type BootPlan =
  | {
      kind: "boot";
      mac: string;
      arch: MachineArch;
      hostname: string | undefined;
      kernelUrl: string;
      initrdUrl: string;
      isoUrl: string;
      kernelArgs: string[];
      postAction: PostAction;
      /** What TFTP hands this machine's firmware before iPXE runs. */
      firmwareFile: FirmwareFile;
      /** Config layers that applied, for the UI and logs. */
      sources: string[];
    }
  | { kind: "ignore"; mac: string; arch: MachineArch; reason: string; sources: string[] };

/** DHCP option 93 (client system architecture, RFC 4578 + IANA registry) → arch. */
export function archFromClientArch(code: number): MachineArch {
  switch (code) {
    case 0:
      return "bios";
    case 6:
      return "efi32";
    // 7 is "EFI x86-64" in the IANA registry; RFC 4578 listed it as EFI BC and 9 as x86-64,
    // and firmware in the field sends both for x86-64 UEFI.
    case 7:
    case 9:
      return "efi64";
    case 11:
      return "arm64";
    default:
      return "unknown";
  }
}

/** iPXE's `${platform}` (pcbios, efi) and `${buildarch}` (i386, x86_64, arm64) → arch. */
export function archFromIpxe(platform: string | undefined, buildarch: string | undefined): MachineArch {
  if (platform === "pcbios") return "bios";
  if (platform === "efi") {
    if (buildarch === "x86_64") return "efi64";
    if (buildarch === "i386") return "efi32";
    if (buildarch === "arm64") return "arm64";
  }
  return "unknown";
}

/** `http://10.20.0.1` on port 80, `http://10.20.0.1:8080` otherwise. */
export function masterHost(server: Pick<BootServer, "address" | "httpPort">): string {
  return server.httpPort === 80 ? server.address : `${server.address}:${server.httpPort}`;
}

function firmwareFor(arch: MachineArch, settings: ResolvedNodeSettings): FirmwareFile {
  if (arch === "bios") return "undionly.kpxe";
  if (arch === "arm64") return "ipxe-arm64.efi";
  return settings.firmwareFile;
}

function unsupportedArch(arch: MachineArch, server: BootServer): string | undefined {
  if (arch === "efi32") return "32-bit UEFI cannot run the 64-bit image";
  if (server.imageArch === "x86_64" && arch === "arm64") return "the image is x86_64 and this machine is arm64";
  if (server.imageArch === "aarch64" && (arch === "bios" || arch === "efi64")) {
    return `the image is aarch64 and this machine is ${arch}`;
  }
  if (arch === "arm64" && !server.arm64Firmware) return "no arm64 iPXE binary in the TFTP root";
  return undefined;
}

/** Why a node is not booted whatever its firmware: the site config ignores it, or its inventory is stored. */
export type BootRefusal =
  | { why: "config-ignore"; reason: string }
  | { why: "inventory-stored"; uploads: number; reason: string };

/**
 * The rule deciding from a node's resolved settings (defaults → networks → groups → host) and
 * its record whether recon boots it at all. planBoot asks it for every boot, and the master's
 * wake step asks it before powering a node on, so the two never disagree about `reinventory`.
 */
export function refuseBoot(settings: Pick<ResolvedNodeSettings, "action" | "reinventory" | "sources">, record: NodeBootRecord | undefined): BootRefusal | undefined {
  if (settings.action === "ignore") return { why: "config-ignore", reason: `the site config says ignore (${settings.sources.join(" → ")})` };
  if (record !== undefined && record.uploads > 0 && !settings.reinventory) {
    return { why: "inventory-stored", uploads: record.uploads, reason: "inventory already stored; set reinventory: true for this node to boot it again" };
  }
  return undefined;
}

/**
 * @param token per-boot secret the agent presents on upload; generated by the caller (this
 *   function is pure). It ends up on the peer's kernel command line, so it must be one word.
 */
export function planBoot(
  machine: Machine,
  config: SiteConfig,
  record: NodeBootRecord | undefined,
  server: BootServer,
  token: string,
): BootPlan {
  const mac = normalizeMac(machine.mac) ?? machine.mac.toLowerCase();
  const settings = resolveNodeSettings(config, { mac, ip: machine.ip, hostname: machine.hostname });
  const ignore = (reason: string): BootPlan => ({ kind: "ignore", mac, arch: machine.arch, reason, sources: settings.sources });

  const refusal = refuseBoot(settings, record);
  if (refusal?.why === "config-ignore") return ignore(refusal.reason);
  const unsupported = unsupportedArch(machine.arch, server);
  if (unsupported !== undefined) return ignore(unsupported);
  if (refusal !== undefined) return ignore(refusal.reason);

  const host = masterHost(server);
  const isoUrl = `http://${host}/isos/${server.imageLabel}.iso`;
  const kernelArgs = [
    `root=live:${isoUrl}`,
    // The whole squashfs is fetched once into RAM, so the peer never needs the master's
    // HTTP service again after boot (LAB-FACTS: one GET).
    "rd.live.ram=1",
    "ip=dhcp",
    "rd.neednet=1",
    // iPXE expands ${mac:hexhyp} to the MAC of the NIC that booted; dracut then brings up
    // that NIC (pxelinux's BOOTIF form: 01 = Ethernet hardware type).
    "BOOTIF=01-${mac:hexhyp}",
    `pxeaddr=${server.address}`,
    `recon.master=${host}`,
    `recon.token=${token}`,
    `recon.post=${settings.postAction}`,
    // Debian's 2019 ipxe.efi needs initrd=<name> or the EFI stub finds no initrd and the
    // kernel panics with "VFS: Unable to mount root fs" (LAB-FACTS). BIOS does not read it.
    ...(machine.arch === "bios" ? [] : ["initrd=initrd"]),
    ...settings.consoles.map((console) => `console=${console}`),
    ...server.imageKernelArgs,
    ...settings.kernelArgs,
  ];
  return {
    kind: "boot",
    mac,
    arch: machine.arch,
    hostname: settings.hostname,
    kernelUrl: `http://${host}/install/${server.imageLabel}/linux`,
    initrdUrl: `http://${host}/install/${server.imageLabel}/initrd`,
    isoUrl,
    kernelArgs,
    postAction: settings.postAction,
    firmwareFile: firmwareFor(machine.arch, settings),
    sources: settings.sources,
  };
}
