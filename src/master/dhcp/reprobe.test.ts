import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import type { ProbeFindings } from "./decide-dhcp-mode.js";
import type { DhcpServerSeen } from "./probe.js";
import { watchForForeignDhcp } from "./reprobe.js";

const offer = (serverId: string): DhcpServerSeen => ({
  serverId,
  sourceAddress: serverId,
  messageType: "OFFER",
  offeredAddress: "10.0.0.150",
  pxe: false,
  proxy: false,
  nextServer: undefined,
  bootFile: undefined,
  vendorOptionsHex: undefined,
});

describe("watchForForeignDhcp", () => {
  it("keeps the stop signal's abort listeners constant across 50 re-probes, then returns the foreign server", async () => {
    const stop = new AbortController();
    const before = getEventListeners(stop.signal, "abort").length;
    const counts: number[] = [];
    let probes = 0;
    const found = await watchForForeignDhcp({
      intervalMs: 1,
      signal: stop.signal,
      ownAddresses: ["10.0.0.1"],
      // Recon's own dnsmasq answers every probe; a foreign one appears at the 51st.
      probe: async (): Promise<ProbeFindings> => {
        probes += 1;
        return { servers: probes <= 50 ? [offer("10.0.0.1")] : [offer("10.0.0.1"), offer("10.0.0.2")] };
      },
      onKeep: () => counts.push(getEventListeners(stop.signal, "abort").length),
    });
    expect(probes).toBe(51);
    expect(counts).toHaveLength(50);
    expect(new Set(counts)).toEqual(new Set([before]));
    expect(getEventListeners(stop.signal, "abort")).toHaveLength(before);
    expect(found?.foreignServers).toEqual(["10.0.0.2"]);
  });

  it("keeps going when a probe fails, and returns undefined once stopped", async () => {
    const stop = new AbortController();
    let probes = 0;
    const found = await watchForForeignDhcp({
      intervalMs: 1,
      signal: stop.signal,
      ownAddresses: [],
      probe: async () => {
        probes += 1;
        if (probes === 3) stop.abort();
        return { servers: [], error: "EADDRINUSE" };
      },
    });
    expect(found).toBeUndefined();
    expect(probes).toBe(3);
    expect(getEventListeners(stop.signal, "abort")).toHaveLength(0);
  });

  it("never probes with interval 0 and returns when stopped", async () => {
    const stop = new AbortController();
    let probes = 0;
    const watching = watchForForeignDhcp({
      intervalMs: 0,
      signal: stop.signal,
      ownAddresses: [],
      probe: async () => ({ servers: [(probes++, offer("10.0.0.2"))] }),
    });
    await new Promise((r) => setTimeout(r, 20));
    stop.abort();
    expect(await watching).toBeUndefined();
    expect(probes).toBe(0);
  });
});
