/**
 * The master's re-probe while it hands out addresses: every `intervalMs` it asks the network
 * again who answers DHCP, and stops at the first probe that hears another address server
 * (decideOnForeignServer), so the caller can step back to proxy. The probe is injected; this
 * loop only waits and decides. One abortable sleep per round (lib/abortable-sleep), so the
 * master's long-lived stop signal keeps a constant number of listeners however long it runs.
 */
import { sleep, untilAborted } from "../../lib/abortable-sleep.js";
import { decideOnForeignServer, type ForeignServerDecision, type ProbeFindings } from "./decide-dhcp-mode.js";

export type ForeignServerFound = Extract<ForeignServerDecision, { action: "fallback-to-proxy" }>;

export interface WatchForForeignDhcpOptions {
  /** Time between the end of one probe and the start of the next; 0 or less: never re-probe. */
  intervalMs: number;
  signal: AbortSignal;
  probe: () => Promise<ProbeFindings>;
  /** The master's own addresses: its dnsmasq answers the probe too. */
  ownAddresses: readonly string[];
  /** Called after every probe that found nothing to act on (tests count rounds with it). */
  onKeep?: ((decision: ForeignServerDecision) => void) | undefined;
}

/**
 * Resolves with the decision to fall back when another DHCP server hands out addresses, or
 * undefined once `signal` aborts. The caller is authoritative while this runs.
 */
export async function watchForForeignDhcp(options: WatchForForeignDhcpOptions): Promise<ForeignServerFound | undefined> {
  const { signal } = options;
  if (options.intervalMs <= 0) {
    await untilAborted(signal);
    return undefined;
  }
  while (await sleep(options.intervalMs, signal)) {
    const findings = await options.probe();
    if (signal.aborted) return undefined;
    const decision = decideOnForeignServer("authoritative", findings, options.ownAddresses);
    if (decision.action === "fallback-to-proxy") return decision;
    options.onKeep?.(decision);
  }
  return undefined;
}
