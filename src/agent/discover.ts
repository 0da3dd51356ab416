/**
 * Discovery: the facts the collection plan needs, read from /sys, /dev and lsblk. The only I/O
 * before the plan; `root` lets tests point it at a directory laid out like / .
 */
import { readdir } from "node:fs/promises";
import { constants } from "node:fs";
import { delimiter, join } from "node:path";
import type { CommandRunner } from "../lib/run.js";
import { parseSmartctlScan } from "../inventory/parse/smartctl-scan.js";
import { isRaidPassThrough, type HostFacts, type RaidDisk } from "./collectors.js";
import { pathExists } from "../lib/path-exists.js";

export const LSBLK_DISKS_ARGS = ["-J", "-d", "-o", "NAME,TYPE"];
/** `--scan-open` also opens each device, so a RAID controller's disks are listed with their `-d` value. */
export const SMARTCTL_SCAN_ARGS = ["--scan-open"];

/** The disks behind RAID controllers in a `smartctl --scan-open` listing (plain disks come from lsblk). */
export function raidDisksFromScan(stdout: string): RaidDisk[] {
  return parseSmartctlScan(stdout)
    .value.filter((entry) => isRaidPassThrough(entry.type))
    .map((entry) => ({ device: entry.device, type: entry.type }));
}

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

/** True when `command` is an executable file in one of PATH's directories. */
export async function onPath(command: string, path = process.env.PATH ?? ""): Promise<boolean> {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    if (await pathExists(join(dir, command), constants.X_OK)) return true;
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
  const env = options.env && { env: options.env };
  const lsblk = await runner.run("lsblk", LSBLK_DISKS_ARGS, { timeoutMs: 30_000, ...env });
  // smartctl exits non-zero when one device would not open; the lines it printed still hold.
  const scan = await runner.run("smartctl", SMARTCTL_SCAN_ARGS, { timeoutMs: 60_000, ...env });
  return {
    interfaces: (await names(join(root, "sys/class/net"))).filter((n) => n !== "lo"),
    disks: lsblk.exitCode === 0 ? parseLsblkDisks(lsblk.stdout) : [],
    nvmeControllers: (await names(join(root, "sys/class/nvme"))).filter((n) => /^nvme\d+$/.test(n)),
    ipmiDevice: await pathExists(join(root, "dev/ipmi0")),
    nvidiaSmi: await onPath("nvidia-smi", options.path ?? options.env?.PATH ?? process.env.PATH),
    raidDisks: raidDisksFromScan(scan.stdout),
  };
}
