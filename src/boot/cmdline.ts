/**
 * Role detection from the kernel command line. Pure: parsed arguments in, a decision out (the
 * tokenizer is src/model/kernel-cmdline.ts, shared with the site config's boot-menu overrides).
 */
import { cmdlineValue } from "../model/kernel-cmdline.js";

export type Role = "master" | "peer";

export interface RoleDecision {
  role: Role;
  reason: string;
}

/**
 * master: booted from the stick/CD (root=live:CDLABEL=…, or a disk).
 * peer: network-booted (root=live:http…, pxeaddr= from iPXE).
 * `recon.role=` overrides both, for tests and odd sites.
 */
export function detectRole(args: Map<string, string[]>): RoleDecision {
  const forced = cmdlineValue(args, "recon.role");
  if (forced === "master" || forced === "peer") {
    return { role: forced, reason: `recon.role=${forced} on the kernel command line` };
  }
  const root = cmdlineValue(args, "root") ?? "";
  if (/^live:(https?|ftp|tftp|nfs):/i.test(root)) {
    return { role: "peer", reason: `network root ${root.replace(/\?.*$/, "")}` };
  }
  if (args.has("pxeaddr")) {
    return { role: "peer", reason: "pxeaddr= set by the network boot" };
  }
  const invalid = forced === undefined ? "" : ` (ignored invalid recon.role=${forced})`;
  return { role: "master", reason: `booted from local media${root ? ` (root=${root})` : ""}${invalid}` };
}
