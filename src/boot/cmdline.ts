/**
 * Kernel command line parsing and role detection. Pure: the text of /proc/cmdline in, data out.
 */

/** Splits a kernel command line into key → values (a key may repeat: `console=`). */
export function parseCmdline(text: string): Map<string, string[]> {
  const args = new Map<string, string[]>();
  // The kernel allows double quotes around a value (`foo="a b"`); a word is otherwise unquoted.
  const words = text.trim().match(/(?:[^\s"]+|"[^"]*")+/g) ?? [];
  for (const word of words) {
    const eq = word.indexOf("=");
    const key = eq < 0 ? word : word.slice(0, eq);
    const value = eq < 0 ? "" : word.slice(eq + 1).replace(/^"(.*)"$/, "$1");
    const list = args.get(key) ?? [];
    list.push(value);
    args.set(key, list);
  }
  return args;
}

/** The last value of a key, as the kernel and dracut treat repeats. */
export function cmdlineValue(args: Map<string, string[]>, key: string): string | undefined {
  const values = args.get(key);
  return values === undefined ? undefined : values[values.length - 1];
}

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
