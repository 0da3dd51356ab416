/**
 * The kernel arguments that tell a peer's initrd where its root is, per root transport
 * (src/model/root-transport.ts). Pure; planBoot puts them first in the kernel command line.
 */
import { ReconError } from "../lib/errors.js";
import type { RootTransport } from "../model/root-transport.js";

export interface RootContext {
  /** host[:port] of the master's HTTP service, as the peer reaches it. */
  host: string;
  /** The master's address on the boot network (no port). */
  address: string;
  /** The image label this node boots. */
  label: string;
  /** http://<host>/isos/<label>.iso */
  isoUrl: string;
}

export function rootKernelArgs(root: RootTransport, ctx: RootContext): string[] {
  switch (root) {
    case "http":
      return [
        `root=live:${ctx.isoUrl}`,
        // The whole squashfs is fetched once into RAM, so the peer never needs the master's
        // HTTP service again after boot (docs/lab-facts.md: one GET).
        "rd.live.ram=1",
      ];
    default:
      throw new ReconError("CONFIG_INVALID", `root transport '${root}' is not built yet (issue #13)`, {
        hint: "set root: http for this node",
      });
  }
}
