/**
 * Discovery: the facts the collection plan needs, read from /sys, /dev and lsblk. The only I/O
 * before the plan; `root` lets tests point it at a directory laid out like / .
 */
import { access, readdir } from "node:fs/promises";
import { constants } from "node:fs";
import { delimiter, join } from "node:path";
import type { CommandRunner } from "../lib/run.js";
import type { HostFacts } from "./collectors.js";

export const LSBLK_DISKS_ARGS = ["-J", "-d", "-o", "NAME,TYPE"];

/** Whole disks from `lsblk -J -d -o NAME,TYPE`; tolerant of a missing or odd document. */
export function parseLsblkDisks(stdout: string): string[] {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    return [];
  }
  const devices = (doc as { blockdevices?: unknown }).blockdevices;
  if (!Array.isArray(devices)) return [];
  // Items are unchecked JSON: `d?.name` reads undefined from anything that is not an object.
  return (devices as ({ name?: unknown; type?: unknown } | null | undefined)[])
    .filter((d): d is { name: string; type: string } => typeof d?.name === "string" && d?.type === "disk")
    .map((d) => d.name);
}

async function names(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => [] as string[]);
}

async function exists(path: string, mode = constants.F_OK): Promise<boolean> {
  return access(path, mode).then(
    () => true,
    () => false,
  );
}

/** True when `command` is an executable file in one of PATH's directories. */
export async function onPath(command: string, path = process.env.PATH ?? ""): Promise<boolean> {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    if (await exists(join(dir, command), constants.X_OK)) return true;
  }
  return false;
}

export interface DiscoverOptions {
  root?: string;
  /** PATH to look for optional tools in (nvidia-smi). */
  path?: string;
  env?: Record<string, string>;
}

export async function discoverFacts(runner: CommandRunner, options: DiscoverOptions = {}): Promise<HostFacts> {
  const root = options.root ?? "/";
  const lsblk = await runner.run("lsblk", LSBLK_DISKS_ARGS, { timeoutMs: 30_000, ...(options.env && { env: options.env }) });
  return {
    interfaces: (await names(join(root, "sys/class/net"))).filter((n) => n !== "lo"),
    disks: lsblk.exitCode === 0 ? parseLsblkDisks(lsblk.stdout) : [],
    nvmeControllers: (await names(join(root, "sys/class/nvme"))).filter((n) => /^nvme\d+$/.test(n)),
    ipmiDevice: await exists(join(root, "dev/ipmi0")),
    nvidiaSmi: await onPath("nvidia-smi", options.path ?? options.env?.PATH ?? process.env.PATH),
  };
}
