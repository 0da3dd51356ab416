/**
 * The per-MAC GRUB files (`<tftp root>/grub/nodes/<mac>.cfg`). dnsmasq's TFTP serves only files, and
 * Debian 12's signed GRUB reads nothing but TFTP, so the machine's boot decision must be on disk before
 * its GRUB asks: recon writes it when dnsmasq answers the machine (its DHCP ACK, or a proxy PXE answer),
 * which is seconds before GRUB runs (shim and GRUB still have to arrive by TFTP). Each write is a fresh
 * decision with a fresh token, like each fetch of the iPXE script; the chain file waits a bounded time
 * for a file that is late (boot/render-grub.ts).
 */
import { chmod, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { planBoot, type BootServer, type NodeBootRecord } from "../../boot/plan-boot.js";
import { grubNodeFile, renderGrubNodeConfig } from "../../boot/render-grub.js";
import type { Logger } from "../../lib/log.js";
import { normalizeMac } from "../../model/net-address.js";
import { issueToken, newNonce, tokenFingerprint } from "../../model/peer-token.js";
import type { SiteConfig } from "../../model/site-config.js";

export interface GrubNodeFilesDeps {
  tftpRoot: string;
  config: SiteConfig;
  server: BootServer;
  secret: Uint8Array;
  record: (mac: string) => NodeBootRecord | undefined;
  log: Logger;
  now?: () => number;
}

/** Writes at most one file per MAC per this many ms: dnsmasq logs several lines per exchange. */
const REWRITE_AFTER_MS = 5_000;

/** `prepare(mac, ip)`: `ip` is the address dnsmasq answered with, so the site config's ips layer applies (undefined in proxy mode before a lease shows). */
export function createGrubNodeFiles(deps: GrubNodeFilesDeps): { prepare(mac: string, ip?: string): Promise<void> } {
  const now = deps.now ?? Date.now;
  const written = new Map<string, number>();
  return {
    async prepare(rawMac: string, ip?: string) {
      const mac = normalizeMac(rawMac);
      if (mac === undefined) return;
      const last = written.get(mac);
      if (last !== undefined && now() - last < REWRITE_AFTER_MS) return;
      written.set(mac, now());
      const token = issueToken(deps.secret, mac, newNonce());
      const withToken = planBoot({ mac, arch: "efi64", loader: "grub", ip }, deps.config, deps.record(mac), deps.server, token);
      // Only machines whose UEFI first stage is shim run GRUB; the others never read this file (their token is unused).
      if (withToken.firstStage.efi64.file !== "shimx64.efi") return;
      const path = join(deps.tftpRoot, grubNodeFile(mac));
      // dnsmasq's TFTP (as nobody) must never read half a file: write beside it, then rename.
      const temporary = `${path}.${process.pid}.tmp`;
      await writeFile(temporary, renderGrubNodeConfig(withToken, { via: "tftp", server: deps.server.address }));
      await chmod(temporary, 0o644);
      await rename(temporary, path);
      deps.log.info("grub config written", {
        mac,
        plan: withToken.kind,
        ...(withToken.kind === "ignore" ? { reason: withToken.reason } : { image: withToken.image, root: withToken.root, token: tokenFingerprint(token) }),
      });
    },
  };
}
