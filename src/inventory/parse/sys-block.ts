/**
 * raw/sys-block.json (the agent's builtin reader of /sys/block): disk name → the serial, model,
 * vendor and wwid the kernel reports. The fallback for a disk udev had not processed when lsblk
 * ran. Pure and tolerant: anything unexpected is an error entry, never a throw.
 */
import type { Problem } from "../schema.js";
import { clean, jsonObjectAt } from "./common.js";

export interface SysBlockDisk {
  serial: string | null;
  model: string | null;
  vendor: string | null;
  wwid: string | null;
}

export function parseSysBlock(text: string): { value: Map<string, SysBlockDisk> | null; errors: Problem[] } {
  const source = "raw/sys-block.json";
  const disks = jsonObjectAt(text, source, "disks");
  if (disks.value === null) return { value: null, errors: disks.errors };
  const value = new Map<string, SysBlockDisk>();
  for (const [name, entry] of Object.entries(disks.value)) {
    if (entry === null || typeof entry !== "object") continue;
    const field = (key: string) => {
      const v = (entry as Record<string, unknown>)[key];
      return typeof v === "string" ? clean(v) : null;
    };
    value.set(name, { serial: field("serial"), model: field("model"), vendor: field("vendor"), wwid: field("wwid") });
  }
  return { value, errors: [] };
}
