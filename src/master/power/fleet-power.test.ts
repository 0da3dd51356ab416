import { describe, expect, it } from "vitest";
import { planBoot, type BootServer } from "../../boot/plan-boot.js";
import { parseSiteConfig } from "../../model/site-config.js";
import type { NodeState } from "../../model/node-state.js";
import { reasonNotToWake } from "./fleet-power.js";

const server: BootServer = { address: "10.90.0.1", httpPort: 80, imageLabel: "test", imageArch: "x86_64", imageKernelArgs: [], arm64Firmware: false };

// Every layer sets reinventory somewhere: defaults → networks (widest first) → groups → host.
const layered = parseSiteConfig(`
defaults: { reinventory: false }
networks:
  10.90.0.0/24: { reinventory: true }
  10.90.0.0/26: { reinventory: false }
groups:
  rack-a: { hostnames: ["rack-a-*"], reinventory: true }
  by-mac: { macs: ["52:54:00:90:00:05"], reinventory: true }
hosts:
  "52:54:00:90:00:06": { hostname: rack-a-06, reinventory: false }
  "52:54:00:90:00:07": { reinventory: true }
  "52:54:00:90:00:08": { action: ignore }
`);
const allAgain = parseSiteConfig(`
defaults: { reinventory: true }
hosts:
  "52:54:00:90:00:09": { reinventory: false }
`);

function node(mac: string, uploads: number, ip?: string, hostname?: string): NodeState {
  return {
    mac,
    ip,
    hostname,
    phase: uploads > 0 ? "uploaded" : "leased",
    phases: {},
    boots: 1,
    uploads,
    lastUploadId: undefined,
    imageBytes: 0,
    lastError: undefined,
    lastSeen: "2026-12-01T00:00:00.000Z",
  };
}

describe("the wake step and planBoot share one reinventory rule", () => {
  it.each([
    ["never inventoried", layered, node("52:54:00:90:00:01", 0), true],
    ["stored, defaults say no", layered, node("52:54:00:90:00:01", 1, "10.99.0.5"), false],
    ["stored, its /24 says reinventory", layered, node("52:54:00:90:00:02", 1, "10.90.0.100"), true],
    ["stored, the narrower /26 says no over the /24", layered, node("52:54:00:90:00:03", 1, "10.90.0.10"), false],
    ["stored, a hostname group says yes over the /26", layered, node("52:54:00:90:00:04", 2, "10.90.0.10", "rack-a-04"), true],
    ["stored, a MAC group says yes", layered, node("52:54:00:90:00:05", 1), true],
    ["stored, the host says no over its group (matched by the host's hostname)", layered, node("52:54:00:90:00:06", 1, "10.90.0.100"), false],
    ["stored, the host says yes", layered, node("52:54:00:90:00:07", 1, "10.99.0.5"), true],
    ["the site config ignores it (nothing stored)", layered, node("52:54:00:90:00:08", 0), false],
    ["stored, defaults say reinventory", allAgain, node("52:54:00:90:00:01", 3), true],
    ["stored, the host says no over defaults", allAgain, node("52:54:00:90:00:09", 1), false],
  ] as const)("%s", (_name, config, state, booted) => {
    const plan = planBoot({ mac: state.mac, arch: "bios", ip: state.ip, hostname: state.hostname }, config, state, server, "tok");
    const skip = reasonNotToWake(config, server, state.mac, state);
    expect(plan.kind).toBe(booted ? "boot" : "ignore");
    expect(skip === undefined, `wake: ${skip ?? "wakes"}; boot: ${plan.kind === "ignore" ? plan.reason : "boots"}`).toBe(booted);
  });

  it("says why it leaves a node off", () => {
    expect(reasonNotToWake(layered, server, "52:54:00:90:00:01", node("52:54:00:90:00:01", 2))).toBe(
      "its inventory is stored (2 uploads); set reinventory: true for this node to wake it again",
    );
    expect(reasonNotToWake(layered, server, "52:54:00:90:00:08", undefined)).toBe("the site config says ignore (defaults → hosts.52:54:00:90:00:08)");
    expect(reasonNotToWake(layered, server, "52:54:00:90:00:01", undefined)).toBeUndefined();
  });
});
