/**
 * What dnsmasq needs from the boot decision, for the whole fleet at once (pure). dnsmasq answers
 * by tag (option 93, user class) and by MAC (its host file), so the plans become two things: the
 * first stages every machine gets by default, and one host entry per MAC the site config names.
 * render-dnsmasq.ts only writes these out; it decides nothing.
 */
import type { SiteConfig, UefiFirmwareFile } from "../model/site-config.js";
import { planBoot, type BootPlan, type BootServer, type FirstStages } from "./plan-boot.js";

/** The UEFI binary other than the default; hosts tagged `fw-alt` get it. */
export function alternateEfiFirmware(firmware: UefiFirmwareFile): UefiFirmwareFile {
  return firmware === "ipxe.efi" ? "snponly.efi" : "ipxe.efi";
}

/** One line of dnsmasq's host file. */
export type DhcpHostEntry =
  /** dnsmasq never answers this MAC: its firmware falls through to the next boot device. */
  | { mac: string; ignore: true }
  | {
      mac: string;
      ignore?: false;
      hostname?: string | undefined;
      /** Its UEFI first stage is the other binary (`fw-alt` tag), not the default one. */
      efiAlternate: boolean;
    };

export interface DhcpBootPlan {
  /** What a machine gets by its firmware's tag unless its host entry says otherwise. */
  firstStage: FirstStages & { efi64Alternate: { via: "tftp"; file: UefiFirmwareFile } };
  hosts: DhcpHostEntry[];
}

/**
 * @param anyMachine the plan of a machine the site config does not name: its first stages are
 *   the defaults every tag line hands out.
 * @param named the plans of the MACs the site config names (hosts, group `macs`).
 */
export function dhcpBootFromPlans(anyMachine: BootPlan, named: readonly BootPlan[]): DhcpBootPlan {
  const efi64 = anyMachine.firstStage.efi64.file;
  const hosts = named.map((plan): DhcpHostEntry =>
    // Only the site config's ignore is kept from DHCP: a stored inventory or an arch recon
    // cannot boot still gets iPXE, whose script then says why and returns to the firmware.
    plan.kind === "ignore" && plan.why === "config-ignore"
      ? { mac: plan.mac, ignore: true }
      : { mac: plan.mac, hostname: plan.hostname, efiAlternate: plan.firstStage.efi64.file !== efi64 },
  );
  return { firstStage: { ...anyMachine.firstStage, efi64Alternate: { via: "tftp", file: alternateEfiFirmware(efi64) } }, hosts };
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
  return dhcpBootFromPlans(anyMachine, named);
}
