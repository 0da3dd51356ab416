/**
 * Kernel settings the master sizes for its fleet (src/master/scale.ts): written to /proc/sys of
 * the master's network namespace, never lowered below what is set (another tool or the admin may
 * have set more), each write logged. A value that cannot be written (not root, a read-only
 * /proc/sys in a container) is a warning, not a stop: recon still works up to the kernel's default.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../../lib/log.js";

export interface SysctlSetting {
  /** Relative to /proc/sys, e.g. net/ipv4/neigh/default/gc_thresh3. */
  path: string;
  value: string;
}

export async function raiseSysctls(settings: SysctlSetting[], log: Logger, root = "/proc/sys"): Promise<void> {
  for (const setting of settings) {
    const file = join(root, setting.path);
    const current = (await readFile(file, "utf8").catch(() => "")).trim();
    if (current !== "" && Number(current) >= Number(setting.value)) {
      log.debug("sysctl kept", { key: setting.path, value: current, wanted: setting.value });
      continue;
    }
    try {
      await writeFile(file, `${setting.value}\n`);
      log.info("sysctl raised for the fleet", { key: setting.path, from: current || null, to: setting.value });
    } catch (error) {
      log.warn("sysctl not raised", { key: setting.path, value: current || null, wanted: setting.value, error: (error as Error).message });
    }
  }
}
