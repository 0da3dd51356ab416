import { describe, expect, it } from "vitest";
import { decideDhcpMode, decideOnForeignServer } from "./decide-dhcp-mode.js";
import type { DhcpServerSeen } from "./probe.js";

const server = (serverId: string, seen: Partial<DhcpServerSeen> = {}): DhcpServerSeen => ({
  serverId,
  sourceAddress: serverId,
  messageType: "OFFER",
  offeredAddress: "10.0.0.50",
  pxe: false,
  proxy: false,
  nextServer: undefined,
  bootFile: undefined,
  vendorOptionsHex: undefined,
  ...seen,
});
const proxy = (serverId: string) => server(serverId, { offeredAddress: undefined, pxe: true, proxy: true });

describe("decideDhcpMode", () => {
  it.each([
    ["auto", [], "authoritative"],
    ["auto", [server("10.0.0.2")], "proxy"],
    ["auto", [proxy("10.0.0.3")], "authoritative"],
    ["authoritative", [], "authoritative"],
    ["authoritative", [server("10.0.0.2")], "proxy"],
    ["proxy", [], "proxy"],
    ["proxy", [server("10.0.0.2")], "proxy"],
    ["off", [server("10.0.0.2")], "off"],
  ] as const)("%s with %j → %s", (configured, servers, mode) => {
    expect(decideDhcpMode(configured, { servers }).mode).toBe(mode);
  });

  it("names the foreign server in the reason", () => {
    const decision = decideDhcpMode("auto", { servers: [server("10.0.0.2", { offeredAddress: "10.0.0.70" })] });
    expect(decision).toMatchObject({ mode: "proxy", foreignServers: ["10.0.0.2"] });
    expect(decision.reason).toContain("10.0.0.2 (offered 10.0.0.70)");
  });

  it("ignores recon's own offers", () => {
    expect(decideDhcpMode("auto", { servers: [server("10.0.0.1")] }, ["10.0.0.1"]).mode).toBe("authoritative");
  });

  it("falls back to proxy when the probe could not run", () => {
    const decision = decideDhcpMode("auto", { servers: [], error: "EADDRINUSE" });
    expect(decision.mode).toBe("proxy");
    expect(decision.reason).toContain("EADDRINUSE");
    expect(decideDhcpMode("authoritative", undefined).mode).toBe("proxy");
  });

  it("warns about another proxyDHCP and about proxy mode with nobody handing out addresses", () => {
    expect(decideDhcpMode("auto", { servers: [proxy("10.0.0.3")] }).warnings[0]).toMatch(/10\.0\.0\.3/);
    expect(decideDhcpMode("proxy", { servers: [] }).warnings[0]).toMatch(/no DHCP server offered/);
  });
});

describe("decideOnForeignServer", () => {
  it("falls back to proxy when another server hands out addresses while authoritative", () => {
    expect(decideOnForeignServer("authoritative", { servers: [server("10.0.0.1"), server("10.0.0.2")] }, ["10.0.0.1"])).toMatchObject({
      action: "fallback-to-proxy",
      foreignServers: ["10.0.0.2"],
    });
  });

  it.each([
    ["authoritative", { servers: [server("10.0.0.1")] }],
    ["authoritative", { servers: [proxy("10.0.0.3")] }],
    ["authoritative", { servers: [], error: "timeout" }],
    ["proxy", { servers: [server("10.0.0.2")] }],
  ] as const)("keeps %s with %j", (mode, probe) => {
    expect(decideOnForeignServer(mode, probe, ["10.0.0.1"]).action).toBe("keep");
  });
});
