/**
 * The one decision of what a machine boots (docs/architecture.md, "Seams"; after pixiecore's BootSpec). Pure:
 * the machine as the network saw it, the site config and the node's record in, a BootPlan out:
 * ignore or boot, what each kind of firmware is handed first, the script iPXE then fetches, the
 * kernel, initrd, root and arguments, and whether the wake step powers the machine on. The iPXE
 * route renders it, dnsmasq's config and host file are rendered from plans (plan-dhcp.ts), the
 * wake step consults `wake`, and the UI may show it. A new boot chain is a new case here.
 */
import { resolveNodeSettings, type ResolvedNodeSettings } from "../model/resolve-node-settings.js";
import { ReconError } from "../lib/errors.js";
import { type SiteConfig, type UefiFirmwareFile } from "../model/site-config.js";
import { PEER_KERNEL_ARGS, renderBurnInArg, renderSeedArg, type PostAction } from "../model/peer-contract.js";
import { normalizeMac } from "../model/net-address.js";
import type { RootTransport } from "../model/root-transport.js";
import { rootKernelArgs, rootSource, torrentRootUrl } from "./root-transport.js";

export type MachineArch = "bios" | "efi32" | "efi64" | "arm64" | "unknown";

export interface Machine {
  mac: string;
  arch: MachineArch;
  /** `iPXE` once iPXE itself sends the DHCP request or fetches the script. */
  userClass?: string | undefined;
  /**
   * Which second stage the plan is for: iPXE fetching its script (the default), or Debian's signed
   * network GRUB reading its per-MAC configuration (the UEFI machines whose first stage is shim).
   */
  loader?: BootLoader | undefined;
  ip?: string | undefined;
  hostname?: string | undefined;
}

/** What planBoot needs to know about the node's history (NodeState satisfies it). */
export interface NodeBootRecord {
  /** Inventories stored for this node so far. */
  uploads: number;
}

export const IMAGE_ARCHES = ["x86_64", "aarch64"] as const;
export type ImageArch = (typeof IMAGE_ARCHES)[number];

/**
 * The image's architecture from its boot.json (`arch`, written by the http target and the
 * appliance). Trees written before boot.json named it hold x86_64 images, the only kind built then.
 */
export function imageArchFromBootJson(bootJson: { arch?: unknown }): ImageArch {
  const arch = bootJson.arch ?? "x86_64";
  if (typeof arch === "string" && (IMAGE_ARCHES as readonly string[]).includes(arch)) return arch as ImageArch;
  throw new ReconError("CONFIG_INVALID", `the image's boot.json names arch ${JSON.stringify(arch)}; recon boots ${IMAGE_ARCHES.join(" or ")} images`, {
    hint: "rebuild the http tree with this recon (make-recipe-target <recipe> http)",
  });
}

/** One image the master serves: isos/<label>.iso and install/<label>/{linux,initrd,boot.json}. */
export interface ServedImage {
  label: string;
  arch: ImageArch;
  /** Args the image's recipe adds for network boot (its boot.json), before the site's own. */
  kernelArgs: readonly string[];
  /** The ISO's volume id (boot.json `volumeId`): dracut finds the NBD-exported ISO by it (root: nbd). */
  volumeId?: string | undefined;
}

/** What the master serves, decided at start-up; planBoot only reads it. */
export interface BootServer {
  /** The master's IPv4 address on the provisioning network (no port). */
  address: string;
  httpPort: number;
  /** The master's own image (a node without `image:` boots it): isos/<label>.iso, install/<label>/linux and …/initrd. */
  imageLabel: string;
  /** What the kernel in the image runs on (boot.json's `arch`). */
  imageArch: ImageArch;
  /** Args the image's recipe adds for network boot (boot.json), before the site's own. */
  imageKernelArgs: readonly string[];
  /** The other images the master serves (the data partition's images/, master/images.ts), chosen per node by `image:`. */
  otherImages?: readonly ServedImage[] | undefined;
  /** The own image's ISO volume id, when known (see ServedImage.volumeId). */
  imageVolumeId?: string | undefined;
  /** Whether an arm64 iPXE binary is in the TFTP root. */
  arm64Firmware: boolean;
  /**
   * How dnsmasq answers now (the master updates it when a foreign server turns it into proxy mode).
   * It picks the UEFI first stage a node without `firmwareFile` gets; unset means authoritative.
   */
  dhcpMode?: "authoritative" | "proxy" | undefined;
  /**
   * Peer assist (#14 item 5): the labels whose torrent the master serves now (it makes them after it is
   * ready, so the set grows at run time). A node on `root: http` booting one of them gets its torrent
   * and recon.seed=; every other node, and every node before the torrent exists, plain HTTP.
   */
  torrentLabels?: ReadonlySet<string> | undefined;
}

export type FirmwareFile = "undionly.kpxe" | UefiFirmwareFile | "ipxe-arm64.efi";

/** The second stage that loads the kernel: iPXE (BIOS, arm64, UEFI with an iPXE first stage, HTTP boot) or GRUB (after shim). */
export type BootLoader = "ipxe" | "grub";

/** The UEFI iPXE binaries (the first stages that are not shim). */
export type IpxeEfiFile = Exclude<UefiFirmwareFile, "shimx64.efi">;

/**
 * The TFTP root's directory (served over HTTP at /tftp/uefi-http/) holding shim for UEFI HTTP boot and, beside
 * it as `grubx64.efi`, the HTTP-capable signed GRUB: shim loads its second stage from the directory it came
 * from, and the TFTP root's own `grubx64.efi` is Debian 12's (TFTP only).
 */
export const HTTP_BOOT_DIR = "uefi-http";

/**
 * Where the image (and a test host) keeps that GRUB: Debian 13's signed grubnetx64.efi.signed, which has the
 * http module (Debian 12's has not). scripts/install-host-tools.sh fetches it pinned by SHA256; the build
 * copies it into every image (src/build/describe.ts), so the stick carries it.
 */
export const HTTP_BOOT_GRUB = "/usr/lib/recon/grub-http/grubnetx64.efi.signed";

/**
 * Where the TFTP root (and the HTTP path /tftp/) holds shim's second stage: shim loads `grubx64.efi` from the
 * directory it came from, so it sits beside shimx64.efi.
 */
export const GRUB_FILE = "grubx64.efi";

/** What a machine's firmware is handed first: an iPXE binary over TFTP, or (iPXE already runs) a script URL. */
export type FirstStage = { via: "tftp"; file: FirmwareFile } | { via: "http"; url: string };

/**
 * The first stage per kind of firmware. DHCP answers before it knows which kind the MAC will
 * show (the answer goes by option 93 and user class), so the plan holds every kind. efi32 gets
 * nothing (no 32-bit iPXE is served); arm64 only when its iPXE binary is in the TFTP root.
 */
export interface FirstStages {
  bios: { via: "tftp"; file: "undionly.kpxe" };
  efi64: { via: "tftp"; file: UefiFirmwareFile };
  /**
   * UEFI HTTP boot (option 93 = 16, vendor class HTTPClient): a first stage by URL, never TFTP. By default
   * shim from `/tftp/uefi-http/`, beside Debian 13's signed network GRUB (it has the http module, which none of
   * Debian 12's has; signed by the Debian Secure Boot CA that Debian 12's shim trusts), so HTTP boot works
   * with Secure Boot on or off (docs/lab-facts.md, "Secure Boot and HTTP boot"). A node whose `firmwareFile`
   * names an iPXE binary gets that binary by URL instead.
   */
  efi64Http: { via: "http"; file: UefiFirmwareFile; url: string };
  arm64: { via: "tftp"; file: "ipxe-arm64.efi" } | undefined;
  /** User class iPXE (an iPXE NIC ROM, or the binary above once it runs): the chain script. */
  ipxe: { via: "http"; url: string };
}

/** Whether the wake step powers the machine on through its BMC. */
export type WakePlan = { wake: true } | { wake: false; reason: string };

interface PlanCommon {
  mac: string;
  arch: MachineArch;
  hostname: string | undefined;
  /**
   * What each firmware is handed if DHCP answers. An ignored machine still gets it (its iPXE
   * prints why and returns to the firmware); only a MAC the site config ignores (`why:
   * "config-ignore"`) gets no DHCP answer at all.
   */
  firstStage: FirstStages;
  wake: WakePlan;
  /** Config layers that applied, for the UI and logs. */
  sources: string[];
}

export type IgnoreWhy = BootRefusal["why"] | "arch";

export type BootPlan =
  | (PlanCommon & {
      kind: "boot";
      /** The first stage this machine's firmware (its `arch`) gets over TFTP. */
      firmwareFile: FirmwareFile;
      /** Who reads this plan: iPXE (the script route) or GRUB (its per-MAC configuration file). */
      loader: BootLoader;
      /** Kernel and initrd as paths of the TFTP root: Debian 12's signed GRUB reads them by TFTP (it has no HTTP). */
      kernelTftpPath: string;
      initrdTftpPath: string;
      /** The per-machine script the chain script sends iPXE to. */
      scriptUrl: string;
      kernelUrl: string;
      initrdUrl: string;
      isoUrl: string;
      /** The image label this node boots (the settings' `image`, else the master's own). */
      image: string;
      /** How its root file system reaches it (the settings' `root`). */
      root: RootTransport;
      /** Where the root comes from, for the console (root-transport.ts rootSource): the ISO URL, an nbd:// or nfs:// address. */
      rootSource: string;
      kernelArgs: string[];
      postAction: PostAction;
    })
  | (PlanCommon & { kind: "ignore"; why: IgnoreWhy; reason: string });

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
    // 16 is "x64 UEFI HTTP" (IANA): the same machines as 7/9, booting by URL.
    case 16:
      return "efi64";
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

/**
 * The x86-64 UEFI first stage of a node whose settings name none. Authoritative: shim, which boots with
 * Secure Boot on or off. Proxy: ipxe.efi, because Debian 12's signed GRUB takes its TFTP server from the
 * site server's DHCP answer (its next-server), not from recon's proxy answer, and without its
 * configuration it stops at its prompt (docs/lab-facts.md): a node would hang there instead of going
 * on to its next boot device. A site whose DHCP server names the master as next-server sets
 * `defaults: { firmwareFile: shimx64.efi }`.
 */
export function defaultUefiFirstStage(server: Pick<BootServer, "dhcpMode">): UefiFirmwareFile {
  return server.dhcpMode === "proxy" ? "ipxe.efi" : "shimx64.efi";
}

/**
 * What a node's UEFI HTTP boot gets, in either DHCP mode: its own `firmwareFile`, else shim. Unlike the TFTP
 * default, proxy mode changes nothing here: Debian 13's GRUB takes its server from the boot URL, not from a
 * DHCP answer (docs/lab-facts.md).
 */
export function httpBootFile(firmwareFile: UefiFirmwareFile | undefined): UefiFirmwareFile {
  return firmwareFile ?? "shimx64.efi";
}

/** The URL UEFI HTTP boot is handed for a first stage: shim from its own directory, iPXE from the TFTP root. */
export function httpBootUrl(server: Pick<BootServer, "address" | "httpPort">, file: UefiFirmwareFile): string {
  return `http://${masterHost(server)}/tftp/${file === "shimx64.efi" ? `${HTTP_BOOT_DIR}/` : ""}${file}`;
}

function firstStagesFor(settings: ResolvedNodeSettings, server: BootServer): FirstStages {
  const efiFile = settings.firmwareFile ?? defaultUefiFirstStage(server);
  const httpFile = httpBootFile(settings.firmwareFile);
  return {
    bios: { via: "tftp", file: "undionly.kpxe" },
    efi64: { via: "tftp", file: efiFile },
    efi64Http: { via: "http", file: httpFile, url: httpBootUrl(server, httpFile) },
    arm64: server.arm64Firmware ? { via: "tftp", file: "ipxe-arm64.efi" } : undefined,
    ipxe: { via: "http", url: `http://${masterHost(server)}/boot.ipxe` },
  };
}

function firmwareFor(arch: MachineArch, stages: FirstStages): FirmwareFile {
  if (arch === "bios") return stages.bios.file;
  // Reached only with the arm64 binary present (unsupportedArch refuses arm64 without it).
  if (arch === "arm64") return stages.arm64?.file ?? "ipxe-arm64.efi";
  return stages.efi64.file;
}

function wakeFor(config: SiteConfig, refusal: BootRefusal | undefined): WakePlan {
  if (refusal?.why === "config-ignore") return { wake: false, reason: refusal.reason };
  if (refusal?.why === "inventory-stored") {
    return {
      wake: false,
      reason: `its inventory is stored (${refusal.uploads} upload${refusal.uploads === 1 ? "" : "s"}); set reinventory: true for this node to wake it again`,
    };
  }
  if (!config.power.wake) return { wake: false, reason: "the site config does not wake the fleet (power.wake: false)" };
  return { wake: true };
}

/** Every image the master serves, its own first. */
export function servedImages(server: BootServer): ServedImage[] {
  return [
    { label: server.imageLabel, arch: server.imageArch, kernelArgs: server.imageKernelArgs, volumeId: server.imageVolumeId },
    ...(server.otherImages ?? []),
  ];
}

function unknownImage(label: string, where: string, server: BootServer): ReconError {
  const labels = servedImages(server).map((image) => image.label);
  return new ReconError("CONFIG_INVALID", `${where} sets image: ${label}, but this master serves no image labelled ${label}; it serves ${labels.join(", ")}`, {
    hint: `use one of ${labels.join(", ")}, or put that image on the data partition with recon images add <http tree> and restart the master`,
  });
}

/** The image a node's settings choose: its `image:` label, else the master's own. An unknown label is CONFIG_INVALID naming the labels served. */
export function chooseImage(settings: Pick<ResolvedNodeSettings, "image" | "sources">, server: BootServer): ServedImage {
  const images = servedImages(server);
  if (settings.image === undefined) return images[0]!;
  const image = images.find((candidate) => candidate.label === settings.image);
  if (image === undefined) throw unknownImage(settings.image, `the site config (${settings.sources.join(" → ")})`, server);
  return image;
}

/**
 * At master start, before any plan is made: every `image:` in the site config names an image this master
 * serves, and every `root:` is a transport this recon can build (rootKernelArgs), so an admin sees a
 * mistake at once rather than when a node boots. Throws the first problem as CONFIG_INVALID.
 */
/** Every layer of node settings in the site config, named as an admin finds it there ("hosts.52:54:…"). */
export function settingLayers(config: SiteConfig): Array<[string, { image?: string | undefined; root?: RootTransport | undefined }]> {
  return [
    ["defaults", config.defaults],
    ...Object.entries(config.networks).map(([key, value]) => [`networks.${key}`, value] as [string, typeof value]),
    ...Object.entries(config.groups).map(([key, value]) => [`groups.${key}`, value] as [string, typeof value]),
    ...Object.entries(config.hosts).map(([key, value]) => [`hosts.${key}`, value] as [string, typeof value]),
    ...Object.entries(config.ips).map(([key, value]) => [`ips.${key}`, value] as [string, typeof value]),
  ];
}

export function checkBootSettings(config: SiteConfig, server: BootServer): void {
  const layers = settingLayers(config);
  const images = servedImages(server);
  const host = masterHost(server);
  for (const [where, settings] of layers) {
    const image = images.find((candidate) => candidate.label === (settings.image ?? server.imageLabel));
    if (image === undefined) throw unknownImage(settings.image!, `the site config's ${where}`, server);
    if (settings.root !== undefined) {
      // Only the form is checked here (a host's own MAC, else a stand-in): the image must have what the transport needs.
      const mac = where.startsWith("hosts.") ? where.slice("hosts.".length) : "00:00:00:00:00:00";
      rootKernelArgs(settings.root, {
        host,
        address: server.address,
        label: image.label,
        isoUrl: `http://${host}/isos/${image.label}.iso`,
        volumeId: image.volumeId,
        mac,
      });
    }
  }
}

function unsupportedArch(arch: MachineArch, server: BootServer, image: ServedImage): string | undefined {
  if (arch === "efi32") return "32-bit UEFI cannot run the 64-bit image";
  if (image.arch === "x86_64" && arch === "arm64") return `the image ${image.label} is x86_64 and this machine is arm64`;
  if (image.arch === "aarch64" && (arch === "bios" || arch === "efi64")) {
    return `the image ${image.label} is aarch64 and this machine is ${arch}`;
  }
  if (arch === "arm64" && !server.arm64Firmware) return "no arm64 iPXE binary in the TFTP root";
  return undefined;
}

/** Why a node is not booted whatever its firmware: the site config ignores it, or its inventory is stored. */
export type BootRefusal = { why: "config-ignore"; reason: string } | { why: "inventory-stored"; uploads: number; reason: string };

/**
 * The rule deciding from a node's resolved settings (defaults → networks → groups → host) and
 * its record whether recon boots it at all, whatever its firmware. planBoot asks it for every
 * plan, so the boot and the wake (the plan's `wake`) never disagree about `reinventory`.
 */
export function refuseBoot(
  settings: Pick<ResolvedNodeSettings, "action" | "reinventory" | "sources">,
  record: NodeBootRecord | undefined,
): BootRefusal | undefined {
  if (settings.action === "ignore") return { why: "config-ignore", reason: `the site config says ignore (${settings.sources.join(" → ")})` };
  if (record !== undefined && record.uploads > 0 && !settings.reinventory) {
    return { why: "inventory-stored", uploads: record.uploads, reason: "inventory already stored; set reinventory: true for this node to boot it again" };
  }
  return undefined;
}

/**
 * Decides everything one machine is told. DHCP and the wake step ask before the machine's
 * firmware has shown its arch (`arch: "unknown"`, no token); the iPXE route asks with both.
 *
 * @param token per-boot secret the agent presents on upload; generated by the caller (this
 *   function is pure). It ends up on the peer's kernel command line, so it must be one word.
 *   Without one the plan's kernel args carry no `recon.token=` (no machine is sent them then).
 */
export function planBoot(machine: Machine, config: SiteConfig, record: NodeBootRecord | undefined, server: BootServer, token?: string): BootPlan {
  const mac = normalizeMac(machine.mac) ?? machine.mac.toLowerCase();
  const settings = resolveNodeSettings(config, { mac, ip: machine.ip, hostname: machine.hostname });
  const refusal = refuseBoot(settings, record);
  const common = {
    mac,
    arch: machine.arch,
    hostname: settings.hostname,
    firstStage: firstStagesFor(settings, server),
    wake: wakeFor(config, refusal),
    sources: settings.sources,
  };
  const ignore = (why: IgnoreWhy, reason: string, wake: WakePlan = common.wake): BootPlan => ({ ...common, kind: "ignore", why, reason, wake });

  if (refusal?.why === "config-ignore") return ignore(refusal.why, refusal.reason);
  const image = chooseImage(settings, server);
  const unsupported = unsupportedArch(machine.arch, server, image);
  if (unsupported !== undefined) return ignore("arch", unsupported, { wake: false, reason: unsupported });
  if (refusal !== undefined) return ignore(refusal.why, refusal.reason);

  const host = masterHost(server);
  const loader: BootLoader = machine.loader === "grub" && machine.arch === "efi64" ? "grub" : "ipxe";
  const label = image.label;
  const isoUrl = `http://${host}/isos/${label}.iso`;
  const byTorrent = settings.root === "http" && server.torrentLabels?.has(label) === true;
  const rootContext = {
    host,
    address: server.address,
    label,
    isoUrl,
    volumeId: image.volumeId,
    mac,
    ...(byTorrent ? { torrentUrl: torrentRootUrl(host, label) } : {}),
  };
  const kernelArgs = [
    // Where the root comes from, per transport (root-transport.ts): http fetches the ISO into RAM.
    ...rootKernelArgs(settings.root, rootContext),
    "ip=dhcp",
    "rd.neednet=1",
    // The MAC of the NIC that booted (the script and the GRUB file are per MAC); dracut then brings up
    // that NIC (pxelinux's BOOTIF form: 01 = Ethernet hardware type).
    `BOOTIF=01-${mac.replaceAll(":", "-")}`,
    `pxeaddr=${server.address}`,
    `recon.master=${host}`,
    ...(token === undefined ? [] : [`recon.token=${token}`]),
    `recon.post=${settings.postAction}`,
    // Seeding after the upload, bounded (docs/peer-assist.md); only a node that fetched by BitTorrent seeds.
    ...(byTorrent ? [`${PEER_KERNEL_ARGS.seed}=${renderSeedArg({ timeS: config.distribution.seedTimeS, ratio: config.distribution.seedRatio })}`] : []),
    // Burn-in is one site-wide decision (docs/workload.md, "Burn-in"): every peer gets the same bounds.
    ...(config.burnIn.enabled ? [`${PEER_KERNEL_ARGS.burnIn}=${renderBurnInArg(config.burnIn)}`] : []),
    // Debian's 2019 ipxe.efi needs initrd=<name> or the EFI stub finds no initrd and the
    // kernel panics with "VFS: Unable to mount root fs" (docs/lab-facts.md). BIOS does not read it, and
    // under GRUB it must not be there: the kernel's EFI stub would look for a file "initrd" and fail.
    ...(machine.arch === "bios" || loader === "grub" ? [] : ["initrd=initrd"]),
    ...settings.consoles.map((console) => `console=${console}`),
    ...image.kernelArgs,
    ...settings.kernelArgs,
  ];
  return {
    ...common,
    kind: "boot",
    firmwareFile: firmwareFor(machine.arch, common.firstStage),
    loader,
    kernelTftpPath: `/install/${label}/linux`,
    initrdTftpPath: `/install/${label}/initrd`,
    // The form iPXE's ${mac:hexhyp} gives the chain script (render-ipxe.ts).
    scriptUrl: `http://${host}/boot/${mac.replaceAll(":", "-")}.ipxe`,
    kernelUrl: `http://${host}/install/${label}/linux`,
    initrdUrl: `http://${host}/install/${label}/initrd`,
    isoUrl,
    image: label,
    root: settings.root,
    rootSource: rootSource(settings.root, rootContext),
    kernelArgs,
    postAction: settings.postAction,
  };
}
