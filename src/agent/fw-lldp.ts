/**
 * NIC firmware that answers LLDP itself. Intel 700-series (i40e: X710, XL710, XXV710, X722) and
 * E810 (ice) ports run an LLDP agent in firmware by default; it consumes the switch's LLDP frames
 * before the host sees them, so lldpd on such a port hears nothing (lldpd/lldpd#444). The driver
 * offers a private flag to stop that agent: i40e `disable-fw-lldp` (on = stopped), ice
 * `fw-lldp-agent` (off = stopped; ice's first name `enable-fw-lldp` was renamed in Linux 5.4,
 * "ice: Rename ethtool private flag for lldp"). The setting is kept by the port across reboots
 * (Intel's ice README), so the agent puts back what it found.
 *
 * Three layers (docs/architecture.md, "One module per tool"): argument builders, a parser of
 * `ethtool --show-priv-flags`, and `stopFirmwareLldp`/`restore` through the injected runner.
 * Changing the flag resets the port on i40e: its link drops for a few seconds, twice.
 */
import { readlink } from "node:fs/promises";
import { basename, join } from "node:path";
import type { CommandRunner } from "../lib/run.js";

/** The drivers whose firmware may run an LLDP agent, and how each spells the flag. */
const FIRMWARE_AGENT_FLAGS: Record<string, { flag: string; stoppedWhen: boolean }[]> = {
  i40e: [{ flag: "disable-fw-lldp", stoppedWhen: true }],
  ice: [
    { flag: "fw-lldp-agent", stoppedWhen: false },
    { flag: "enable-fw-lldp", stoppedWhen: false },
    // Some out-of-tree ice releases kept i40e's spelling.
    { flag: "disable-fw-lldp", stoppedWhen: true },
  ],
};

export const FW_LLDP_FILE = "raw/fw-lldp.json";

export function showPrivFlagsArgs(iface: string): string[] {
  return ["--show-priv-flags", iface];
}

export function setPrivFlagArgs(iface: string, flag: string, on: boolean): string[] {
  return ["--set-priv-flags", iface, flag, on ? "on" : "off"];
}

/**
 * `ethtool --show-priv-flags` → flag name → on. Lines are `<name><padding>: on|off` under a
 * `Private flags for <if>:` header; anything else is skipped.
 */
export function parsePrivFlags(text: string): Map<string, boolean> {
  const flags = new Map<string, boolean>();
  for (const line of text.split("\n")) {
    const match = /^(\S+?)\s*:\s*(on|off)\s*$/.exec(line);
    if (match) flags.set(match[1]!, match[2] === "on");
  }
  return flags;
}

/** One port as fw-lldp.json records it. */
export interface FwLldpEntry {
  interface: string;
  driver: string;
  /** The private flag that stops the firmware agent, or null when the driver shows none. */
  flag: string | null;
  /** What the agent found: the firmware agent running, stopped, or not known (no flag, ethtool failed). */
  firmware_agent: "running" | "stopped" | "unknown";
  /** The agent set the flag so lldpd could hear the switch. */
  switched: boolean;
  /** The value it set for the listen (the one that stops the firmware agent), when switched. */
  set_to?: "on" | "off";
  /** Whether the flag was put back after the listen; null when nothing was switched. */
  restored: boolean | null;
  /** `ethtool --show-priv-flags` as it printed it before anything was changed. */
  show_priv_flags: string;
  error?: string;
}

export interface FwLldpDecision {
  flag: string | null;
  firmwareAgent: FwLldpEntry["firmware_agent"];
  /** The value to set for the listen, when the agent runs. */
  stopValue?: boolean;
}

/** Pure: whether the port's firmware agent runs, from its driver and its private flags. */
export function decideFwLldp(driver: string, privFlags: Map<string, boolean>): FwLldpDecision {
  for (const candidate of FIRMWARE_AGENT_FLAGS[driver] ?? []) {
    const value = privFlags.get(candidate.flag);
    if (value === undefined) continue;
    return value === candidate.stoppedWhen
      ? { flag: candidate.flag, firmwareAgent: "stopped" }
      : { flag: candidate.flag, firmwareAgent: "running", stopValue: candidate.stoppedWhen };
  }
  return { flag: null, firmwareAgent: "unknown" };
}

/** Whether recon looks at this driver at all. */
export function mayRunFirmwareLldp(driver: string | null): driver is string {
  return driver !== null && driver in FIRMWARE_AGENT_FLAGS;
}

/** The driver's name: the basename of /sys/class/net/<if>/device/driver, or null. */
export async function interfaceDriver(sysRoot: string, iface: string): Promise<string | null> {
  const target = await readlink(join(sysRoot, "sys/class/net", iface, "device/driver")).catch(() => null);
  return target === null ? null : basename(target);
}

export interface FwLldpSession {
  /** The ports whose firmware agent was stopped: the LLDP listen waits for a neighbour on each. */
  switched: string[];
  entries: FwLldpEntry[];
  /** Puts every switched flag back (each tried, failures recorded); the entries as recorded. */
  restore(): Promise<FwLldpEntry[]>;
}

const ETHTOOL_TIMEOUT_MS = 10_000;

function firstLine(text: string): string {
  return text.trim().split("\n")[0] ?? "";
}

/**
 * For each port whose driver is i40e or ice: reads its private flags, and when the firmware agent
 * runs, stops it. Never throws: a port that cannot be read or set is recorded with its error.
 */
export async function stopFirmwareLldp(
  runner: CommandRunner,
  options: { sysRoot: string; interfaces: readonly string[]; env?: Record<string, string> },
): Promise<FwLldpSession> {
  const run = (args: string[]) => runner.run("ethtool", args, { timeoutMs: ETHTOOL_TIMEOUT_MS, ...(options.env && { env: options.env }) });
  const entries: FwLldpEntry[] = [];
  const undo: { entry: FwLldpEntry; flag: string; value: boolean }[] = [];
  for (const iface of options.interfaces) {
    const driver = await interfaceDriver(options.sysRoot, iface);
    if (!mayRunFirmwareLldp(driver)) continue;
    const shown = await run(showPrivFlagsArgs(iface));
    const entry: FwLldpEntry = {
      interface: iface,
      driver,
      flag: null,
      firmware_agent: "unknown",
      switched: false,
      restored: null,
      show_priv_flags: shown.stdout,
    };
    entries.push(entry);
    if (shown.exitCode !== 0) {
      entry.error = `ethtool ${showPrivFlagsArgs(iface).join(" ")}: exit ${shown.exitCode}: ${firstLine(shown.stderr)}`;
      continue;
    }
    const decision = decideFwLldp(driver, parsePrivFlags(shown.stdout));
    entry.flag = decision.flag;
    entry.firmware_agent = decision.firmwareAgent;
    if (decision.flag === null || decision.stopValue === undefined) continue;
    const args = setPrivFlagArgs(iface, decision.flag, decision.stopValue);
    const set = await run(args);
    if (set.exitCode !== 0) {
      entry.error = `ethtool ${args.join(" ")}: exit ${set.exitCode}: ${firstLine(set.stderr)}`;
      continue;
    }
    entry.switched = true;
    entry.set_to = decision.stopValue ? "on" : "off";
    entry.restored = false;
    undo.push({ entry, flag: decision.flag, value: !decision.stopValue });
  }
  let restored: Promise<FwLldpEntry[]> | undefined;
  return {
    switched: undo.map((step) => step.entry.interface),
    entries,
    restore() {
      restored ??= (async () => {
        for (const step of undo) {
          const args = setPrivFlagArgs(step.entry.interface, step.flag, step.value);
          const result = await run(args);
          if (result.exitCode === 0) step.entry.restored = true;
          else step.entry.error = `ethtool ${args.join(" ")}: exit ${result.exitCode}: ${firstLine(result.stderr)}`;
        }
        return entries;
      })();
      return restored;
    },
  };
}

/** One line per port for the console: before the listen (`restoreTried` false) and after the restore. */
export function describeFwLldp(entry: FwLldpEntry, restoreTried: boolean): string {
  const what = entry.switched
    ? `firmware LLDP agent ${restoreTried ? "was stopped" : "stopped"} for the listen (${entry.flag} ${entry.set_to}), ${restoreTried ? (entry.restored ? "put back" : "NOT put back") : "to be put back after it"}`
    : entry.firmware_agent === "stopped"
      ? `firmware LLDP agent already stopped (${entry.flag})`
      : entry.flag === null && entry.error === undefined
        ? "no firmware LLDP flag shown by the driver"
        : `firmware LLDP agent ${entry.firmware_agent}, left as it was`;
  return `fw-lldp ${entry.interface} (${entry.driver}): ${what}${entry.error === undefined ? "" : `; ${entry.error}`}`;
}
