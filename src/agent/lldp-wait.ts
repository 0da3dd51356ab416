/**
 * When the LLDP listen may end early: every Ethernet interface with a link (carrier 1, a real
 * device behind it) has a neighbour in `lldpctl -f json`. The decision is pure
 * (`interfacesLackingNeighbour`); `linkedInterfaces` reads sysfs for it.
 *
 * The bound: LLDP's default msgTxInterval is 30 s (IEEE 802.1AB-2016, 9.2.5.7), so a switch
 * sends within 30 s of the listen starting; 5 s margin for the first frame after a link comes up
 * and lldpd's own start gives DEFAULT_LLDP_WAIT_MS (collectors.ts) = 35 s.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { parseLldpctl } from "../inventory/parse/lldpctl.js";

/** ARPHRD_ETHER in /sys/class/net/<if>/type. */
const ARPHRD_ETHER = "1";

/** How often lldpctl is asked while lldpd listens (each ask takes milliseconds). */
export const LLDP_POLL_MS = 1000;

/** How the listen went, as the LLDP collector's record keeps it (docs/raw-upload.md). */
export interface LldpListen {
  /** all-neighbours: every interface waited for has one; bound: the wait ran out; aborted: the agent was stopped. */
  ended: "all-neighbours" | "bound" | "aborted";
  /** From lldpd's start to the end of the listen. */
  listened_ms: number;
  /** The wait's bound (--lldp-wait-s). */
  bound_ms: number;
  /** The interfaces waited for when it ended: Ethernet with a link, and the ports whose firmware agent was stopped. */
  waited_for: string[];
  /** Those of them lldpctl named no neighbour for in its final answer. */
  lacking: string[];
}

/** One line for the console and collector.log. */
export function describeListen(listen: LldpListen): string {
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const lacking = listen.lacking.length > 0 ? `; no neighbour on ${listen.lacking.join(", ")}` : "";
  switch (listen.ended) {
    case "all-neighbours":
      return `every linked interface has a neighbour (${listen.waited_for.join(", ")}) after ${seconds(listen.listened_ms)} of at most ${seconds(listen.bound_ms)}`;
    case "bound":
      return `listened the full ${seconds(listen.bound_ms)}${listen.waited_for.length === 0 ? "; no linked Ethernet interface to wait for" : lacking}`;
    case "aborted":
      return `stopped after ${seconds(listen.listened_ms)} (the agent was stopped)${lacking}`;
  }
}

/**
 * The linked interfaces lldpctl's JSON names no neighbour for, in the given order. Unparsable
 * JSON counts as no neighbour anywhere (the wait goes on).
 */
export function interfacesLackingNeighbour(linked: readonly string[], lldpctlJson: string): string[] {
  const parsed = parseLldpctl(lldpctlJson);
  return linked.filter((name) => !parsed.value.has(name));
}

/** Whether the listen may stop: at least one linked interface, and none lacking a neighbour. */
export function lldpWaitDone(linked: readonly string[], lldpctlJson: string): boolean {
  return linked.length > 0 && interfacesLackingNeighbour(linked, lldpctlJson).length === 0;
}

async function readTrimmed(path: string): Promise<string | null> {
  try {
    return (await readFile(path, "utf8")).trim();
  } catch {
    return null;
  }
}

/**
 * Ethernet interfaces with carrier 1 under `<sysRoot>/sys/class/net`, sorted. Virtual ones (no
 * `device` link: bridges, bonds, veths, lo) are left out unless `includeVirtual`.
 */
export async function linkedInterfaces(sysRoot: string, includeVirtual = false): Promise<string[]> {
  const base = join(sysRoot, "sys/class/net");
  let names: string[];
  try {
    names = await readdir(base);
  } catch {
    return [];
  }
  const linked: string[] = [];
  for (const name of names.sort()) {
    if ((await readTrimmed(join(base, name, "type"))) !== ARPHRD_ETHER) continue;
    if ((await readTrimmed(join(base, name, "carrier"))) !== "1") continue;
    if (!includeVirtual) {
      const device = await stat(join(base, name, "device")).catch(() => null);
      if (device === null) continue;
    }
    linked.push(name);
  }
  return linked;
}
