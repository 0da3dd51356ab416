/**
 * What dnsmasq needs from the boot decision, for the whole fleet at once (pure). dnsmasq answers
 * by tag (option 93, user class) and by MAC (its host file), so the plans become two things: the
 * first stages every machine gets by default, and one host entry per MAC the site config names.
 * render-dnsmasq.ts only writes these out; it decides nothing.
 */
import { UEFI_FIRMWARE_FILES, type SiteConfig, type UefiFirmwareFile } from "../model/site-config.js";
import { httpBootFile, httpBootUrl, planBoot, type BootPlan, type BootServer, type FirstStages } from "./plan-boot.js";

/** The dnsmasq tag a host entry sets when its UEFI first stage is not the default one. */
export const FIRMWARE_TAGS: Record<UefiFirmwareFile, string> = {
  "shimx64.efi": "fw-shim",
  "ipxe.efi": "fw-ipxe",
  "snponly.efi": "fw-snponly",
};

/** One line of dnsmasq's host file. */
export type DhcpHostEntry =
  /** dnsmasq never answers this MAC: its firmware falls through to the next boot device. */
  | { mac: string; ignore: true }
  | {
      mac: string;
      ignore?: false;
      hostname?: string | undefined;
      /** Its UEFI first stage when it is not the default one (the host entry sets that file's tag). */
      efiFile?: UefiFirmwareFile | undefined;
    };

/** A UEFI first stage other than the default, handed to hosts whose entry sets `tag`. */
export interface TaggedEfiStage {
  tag: string;
  file: UefiFirmwareFile;
  /** What the same hosts get by UEFI HTTP boot (the same file by URL; shim from its HTTP-boot directory). */
  http: { file: UefiFirmwareFile; url: string };
}

export interface DhcpBootPlan {
  /** What a machine gets by its firmware's tag unless its host entry says otherwise. */
  firstStage: FirstStages & { efi64Tagged: TaggedEfiStage[] };
  hosts: DhcpHostEntry[];
}

/**
 * @param anyMachine the plan of a machine the site config does not name: its first stages are
 *   the defaults every tag line hands out.
 * @param named the plans of the MACs the site config names (hosts, group `macs`).
 */
export function dhcpBootFromPlans(anyMachine: BootPlan, named: readonly BootPlan[], server: Pick<BootServer, "address" | "httpPort">): DhcpBootPlan {
  const efi64 = anyMachine.firstStage.efi64.file;
  const efi64Http = anyMachine.firstStage.efi64Http.file;
  // A file is tagged when a host choosing it differs from the defaults by TFTP or by HTTP boot (in proxy mode
  // the TFTP default is ipxe.efi but HTTP boot's is shim, so a host that names ipxe.efi needs its tag).
  const differs = (file: UefiFirmwareFile) => file !== efi64 || httpBootFile(file) !== efi64Http;
  const efi64Tagged = UEFI_FIRMWARE_FILES.filter(differs).map((file): TaggedEfiStage => {
    const http = httpBootFile(file);
    return { tag: FIRMWARE_TAGS[file], file, http: { file: http, url: httpBootUrl(server, http) } };
  });
  const hosts = named.map((plan): DhcpHostEntry => {
    // Only the site config's ignore is kept from DHCP: a stored inventory or an arch recon
    // cannot boot still gets its first stage, whose script or GRUB file then says why and returns to the firmware.
    if (plan.kind === "ignore" && plan.why === "config-ignore") return { mac: plan.mac, ignore: true };
    const file = plan.firstStage.efi64.file;
    const tagged = file !== efi64 || plan.firstStage.efi64Http.file !== efi64Http;
    return { mac: plan.mac, hostname: plan.hostname, ...(tagged && { efiFile: file }) };
  });
  return { firstStage: { ...anyMachine.firstStage, efi64Tagged }, hosts };
}

/** The MACs the site config names (hosts and group `macs`; parseSiteConfig normalized them), sorted, once each. */
export function namedMacs(config: SiteConfig): string[] {
  const macs = new Set<string>(Object.keys(config.hosts));
  for (const group of Object.values(config.groups)) for (const mac of group.macs ?? []) macs.add(mac);
  return [...macs].sort();
}

/**
 * The plans dnsmasq is rendered from, made when it starts: by MAC alone (DHCP sees no arch
 * before the request and no record is consulted, so the host file does not change with uploads).
 */
export function planDhcpBoot(config: SiteConfig, server: BootServer): DhcpBootPlan {
  // No MAC: a machine nothing in the site config names, so only `defaults` applies.
  const anyMachine = planBoot({ mac: "", arch: "unknown" }, config, undefined, server);
  const named = namedMacs(config).map((mac) => planBoot({ mac, arch: "unknown" }, config, undefined, server));
  return dhcpBootFromPlans(anyMachine, named, server);
}
