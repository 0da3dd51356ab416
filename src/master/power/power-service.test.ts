import type { AddressInfo } from "node:net";
import express from "express";
import { describe, expect, it } from "vitest";
import { IpmiError, type BmcTarget, type IpmiClient, type PowerAction } from "../../ipmi/ipmitool.js";
import { type PowerState } from "../../inventory/parse/ipmitool-text.js";
import { isReconError } from "../../lib/errors.js";
import { createLogger } from "../../lib/log.js";
import { parseSiteConfig } from "../../model/site-config.js";
import { createPowerRouter } from "../http/power-routes.js";
import { adminAuthorizer } from "./fleet-power.js";
import { EMPTY_FLEET, reduceFleet, type NodeEvent } from "../../model/node-state.js";
import { describeBmc, fleetBmcs, findBmc } from "./bmcs.js";
import { createPowerService } from "./power-service.js";

const SITE = `
defaults:
  bmc: { username: admin, passwordFile: /etc/recon/bmc.pw }
bmcs:
  - { name: peer1, mac: 52-54-00-77-00-11, address: 10.77.0.201, password: pw-peer-one }
  - { mac: "52:54:00:77:00:12", address: 10.77.0.202 }
hosts:
  "52:54:00:77:00:13": { hostname: db3, bmc: { address: 10.77.0.203, username: root } }
`;

const silent = createLogger({}, { write: () => undefined });

describe("site config bmcs", () => {
  it("lists bmcs and hosts' BMCs with defaults filled, and never shows a password", () => {
    const config = parseSiteConfig(SITE);
    const bmcs = fleetBmcs(config);
    expect(bmcs.map((b) => ({ ...describeBmc(b), passwordFile: b.passwordFile }))).toEqual([
      { name: "peer1", mac: "52:54:00:77:00:11", address: "10.77.0.201", port: 623, username: "admin", credentials: "password", passwordFile: undefined },
      {
        name: "52:54:00:77:00:12",
        mac: "52:54:00:77:00:12",
        address: "10.77.0.202",
        port: 623,
        username: "admin",
        credentials: "passwordFile",
        passwordFile: "/etc/recon/bmc.pw",
      },
      {
        name: "db3",
        mac: "52:54:00:77:00:13",
        address: "10.77.0.203",
        port: 623,
        username: "root",
        credentials: "passwordFile",
        passwordFile: "/etc/recon/bmc.pw",
      },
    ]);
    expect(bmcs[0]!.password!.reveal()).toBe("pw-peer-one");
    expect(JSON.stringify(config)).not.toContain("pw-peer-one");
    expect(JSON.stringify(bmcs)).not.toContain("pw-peer-one");
    expect(findBmc(bmcs, "52-54-00-77-00-12")?.address).toBe("10.77.0.202");
    expect(findBmc(bmcs, "10.77.0.203")?.name).toBe("db3");
    expect(findBmc(bmcs, "peer1")?.mac).toBe("52:54:00:77:00:11");
    expect(config.power).toEqual({ wake: true, bootdevPxe: true, confirmOffAfterS: 120, wakeBatch: 0, wakePauseS: 60 });
  });

  it("refuses a BMC without credentials, or listed twice, and never echoes a password", () => {
    const problems = (text: string) => {
      try {
        parseSiteConfig(text);
        return "";
      } catch (error) {
        return isReconError(error) ? error.message : String(error);
      }
    };
    const message = problems("bmcs:\n  - { address: 10.0.0.5 }\n  - { address: 10.0.0.5, username: a, password: hunter2-secret }\n");
    expect(message).toContain("bmcs.0: no password");
    expect(message).toContain("bmcs.0.username: missing");
    expect(message).toContain("bmcs.1.address: the same BMC as bmcs.0");
    expect(message).not.toContain("hunter2");
    const typed = problems("bmcs:\n  - { address: 10.0.0.6, username: a, password: [hunter2, secret] }\n");
    expect(typed).toContain("bmcs.0.password: invalid (value not shown)");
    expect(typed).not.toContain("hunter2");
  });
});

describe("power events on node state", () => {
  it("a power event is recorded on the node without moving its phase", () => {
    const mac = "52:54:00:77:00:11";
    let fleet = reduceFleet(EMPTY_FLEET, { type: "dhcp-ack", at: "2026-11-22T01:00:00.000Z", mac, ip: "10.77.0.100" });
    fleet = reduceFleet(fleet, { type: "power", at: "2026-11-22T01:00:01.000Z", mac, action: "on", by: "wake", result: "ok" });
    expect(fleet.nodes[mac]!.phase).toBe("leased");
    expect(fleet.nodes[mac]!.power).toEqual({ at: "2026-11-22T01:00:01.000Z", action: "on", by: "wake", result: "ok" });
  });
});

/** A scripted BMC fleet (pure-logic tests only; the real ipmitool is in test/integration/ipmi.test.ts). */
function fakeIpmi(states: Record<string, PowerState>, failures: Record<string, Partial<Record<"bootdev" | "on" | "status", IpmiError>>> = {}) {
  const calls: string[] = [];
  const client: IpmiClient = {
    async powerStatus(t: BmcTarget) {
      calls.push(`${t.address} status`);
      const failure = failures[t.address]?.status;
      if (failure) throw failure;
      return states[t.address] ?? "off";
    },
    async power(t: BmcTarget, action: PowerAction) {
      calls.push(`${t.address} ${action}`);
      const failure = action === "on" ? failures[t.address]?.on : undefined;
      if (failure) throw failure;
      states[t.address] = action === "off" ? "off" : "on";
      return action === "off" ? "Down/Off" : "Up/On";
    },
    async bootdevPxe(t: BmcTarget) {
      calls.push(`${t.address} bootdev`);
      const failure = failures[t.address]?.bootdev;
      if (failure) throw failure;
    },
    mcInfo: async () => ({}) as never,
    lanPrint: async () => ({}) as never,
  };
  return { client, calls };
}

function service(
  states: Record<string, PowerState>,
  failures: Parameters<typeof fakeIpmi>[1] = {},
  confirmOffAfterMs = 0,
  skipWake?: (address: string) => string | undefined,
  pace: { wakeBatch?: number; wakePauseMs?: number } = {},
) {
  const events: NodeEvent[] = [];
  const { client, calls } = fakeIpmi(states, failures);
  const power = createPowerService({
    bmcs: fleetBmcs(parseSiteConfig(SITE)),
    ipmi: client,
    log: silent,
    emit: (event) => void events.push(event),
    now: () => new Date("2026-11-22T01:00:00.000Z"),
    confirmOffAfterMs,
    bootdevPxe: true,
    offWaitMs: 50,
    ...(skipWake && { skipWake: (bmc: { address: string }) => skipWake(bmc.address) }),
    ...pace,
  });
  return { power, events, calls };
}

describe("power service", () => {
  it("wakes the fleet: bootdev pxe where supported, power on anyway when not; a refused BMC is left alone", async () => {
    const { power, events, calls } = service(
      {},
      {
        "10.77.0.201": { bootdev: new IpmiError("UNSUPPORTED", "peer1", "chassis bootdev pxe", "Invalid data field in request") },
        "10.77.0.203": { bootdev: new IpmiError("AUTH", "db3", "chassis bootdev pxe", "RAKP 2 HMAC is invalid") },
      },
    );
    await power.wakeFleet();
    expect(calls.sort()).toEqual(["10.77.0.201 bootdev", "10.77.0.201 on", "10.77.0.202 bootdev", "10.77.0.202 on", "10.77.0.203 bootdev"]);
    const summary = events.map((e) => (e.type === "power" ? `${e.mac} ${e.action} ${e.result}` : e.type)).sort();
    expect(summary).toEqual([
      "52:54:00:77:00:11 bootdev-pxe unsupported",
      "52:54:00:77:00:11 on ok",
      "52:54:00:77:00:12 bootdev-pxe ok",
      "52:54:00:77:00:12 on ok",
      "52:54:00:77:00:13 bootdev-pxe failed",
    ]);
  });

  it("does not wake a node the caller says to skip (its inventory is stored)", async () => {
    const { power, calls } = service({}, {}, 0, (address) => (address === "10.77.0.202" ? "inventory stored" : undefined));
    await power.wakeFleet();
    expect(calls.filter((c) => c.startsWith("10.77.0.202"))).toEqual([]);
    expect(calls.filter((c) => c.endsWith(" on")).sort()).toEqual(["10.77.0.201 on", "10.77.0.203 on"]);
  });

  it("paces the wake: a batch, then the pause before the next; a stop during the pause wakes no more", async () => {
    const { power, calls } = service({}, {}, 0, undefined, { wakeBatch: 2, wakePauseMs: 60_000 });
    const waking = power.wakeFleet();
    // The first batch: two nodes, bootdev and on each (bounded wait: 5 s).
    for (let i = 0; i < 100 && calls.length < 4; i++) await new Promise((r) => setTimeout(r, 50));
    expect(calls.length).toBe(4);
    await new Promise((r) => setTimeout(r, 200));
    expect(new Set(calls.map((c) => c.split(" ")[0])).size).toBe(2);
    await power.stop();
    await waking;
    expect(calls.length).toBe(4);
  });

  it("wakes every batch when the pause is over", async () => {
    const { power, calls } = service({}, {}, 0, undefined, { wakeBatch: 1, wakePauseMs: 10 });
    await power.wakeFleet();
    expect(calls.filter((c) => c.endsWith(" on")).sort()).toEqual(["10.77.0.201 on", "10.77.0.202 on", "10.77.0.203 on"]);
  });

  it("after an upload: a node that powered itself off is confirmed; one still on is powered off", async () => {
    const { power, events, calls } = service({ "10.77.0.201": "off", "10.77.0.202": "on" }, {}, 20);
    power.observe({ type: "upload-stored", at: "t", mac: "52:54:00:77:00:11", uploadId: "a" });
    power.observe({ type: "upload-stored", at: "t", mac: "52:54:00:77:00:12", uploadId: "b" });
    power.observe({ type: "upload-stored", at: "t", mac: "52:54:00:77:00:99", uploadId: "c" });
    await new Promise((r) => setTimeout(r, 200));
    await power.stop();
    expect(calls).toEqual(["10.77.0.201 status", "10.77.0.202 status", "10.77.0.202 off", "10.77.0.202 status"]);
    expect(events.map((e) => (e.type === "power" ? `${e.mac} ${e.action} ${e.by} ${e.result}` : `${"mac" in e ? e.mac : ""} ${e.type}`))).toEqual([
      "52:54:00:77:00:11 status-off confirm-off ok",
      "52:54:00:77:00:11 powered-off",
      "52:54:00:77:00:12 off confirm-off ok",
      "52:54:00:77:00:12 powered-off",
    ]);
  });

  it("a BMC listed without a MAC is attached to the node whose agent found its address in-band", async () => {
    const events: NodeEvent[] = [];
    const { client, calls } = fakeIpmi({ "10.77.0.209": "off" });
    const power = createPowerService({
      bmcs: fleetBmcs(
        parseSiteConfig("bmcs:\n  - { address: 10.77.0.209, username: admin, password: x }\n  - { address: 10.77.0.210, username: admin, password: y }\n"),
      ),
      ipmi: client,
      log: silent,
      emit: (event) => void events.push(event),
      confirmOffAfterMs: 10,
      bootdevPxe: false,
      inventoryBmcAddress: async (mac) => (mac === "52:54:00:77:00:99" ? "10.77.0.209" : mac === "52:54:00:77:00:98" ? "10.99.9.9" : undefined),
      inBandWaitMs: 50,
    });
    power.observe({ type: "upload-stored", at: "t", mac: "52:54:00:77:00:99", uploadId: "a" });
    power.observe({ type: "upload-stored", at: "t", mac: "52:54:00:77:00:98", uploadId: "b" });
    await new Promise((r) => setTimeout(r, 150));
    await power.stop();
    expect(power.bmcs.map((b) => [b.address, b.mac, b.name])).toEqual([
      ["10.77.0.209", "52:54:00:77:00:99", "52:54:00:77:00:99"],
      ["10.77.0.210", undefined, "10.77.0.210"],
    ]);
    expect(calls).toEqual(["10.77.0.209 status"]);
    expect(events.map((e) => e.type)).toEqual(["power", "powered-off"]);
  });

  it("reads no inventory when no bmcs: entry lacks a MAC, and stops at an inventory that names no BMC", async () => {
    const asked: string[] = [];
    const lookup = async (mac: string) => {
      asked.push(mac);
      return mac === "52:54:00:77:00:97" ? null : undefined;
    };
    const named = createPowerService({
      bmcs: fleetBmcs(parseSiteConfig("bmcs:\n  - { address: 10.77.0.209, username: admin, password: x, mac: 52:54:00:77:00:01 }\n")),
      ipmi: fakeIpmi({ "10.77.0.209": "off" }).client,
      log: silent,
      emit: () => undefined,
      confirmOffAfterMs: 0,
      bootdevPxe: false,
      inventoryBmcAddress: lookup,
      inBandWaitMs: 1000,
    });
    named.observe({ type: "upload-stored", at: "t", mac: "52:54:00:77:00:96", uploadId: "a" });
    await new Promise((r) => setTimeout(r, 50));
    await named.stop();
    expect(asked).toEqual([]);
    const unnamed = createPowerService({
      bmcs: fleetBmcs(parseSiteConfig("bmcs:\n  - { address: 10.77.0.210, username: admin, password: y }\n")),
      ipmi: fakeIpmi({ "10.77.0.210": "off" }).client,
      log: silent,
      emit: () => undefined,
      confirmOffAfterMs: 0,
      bootdevPxe: false,
      inventoryBmcAddress: lookup,
      inBandWaitMs: 10_000,
    });
    unnamed.observe({ type: "upload-stored", at: "t", mac: "52:54:00:77:00:97", uploadId: "b" });
    await new Promise((r) => setTimeout(r, 100));
    await unnamed.stop();
    expect(asked).toEqual(["52:54:00:77:00:97"]);
  });

  it("50 confirm-off checks in a row leave no abort listener behind (no MaxListenersExceededWarning)", async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => void warnings.push(`${warning.name}: ${warning.message}`);
    process.on("warning", onWarning);
    try {
      const { power, events } = service({ "10.77.0.201": "off" }, {}, 1);
      for (let n = 0; n < 50; n++) {
        power.observe({ type: "upload-stored", at: "t", mac: "52:54:00:77:00:11", uploadId: `u${n}` });
        const deadline = Date.now() + 2000;
        while (events.filter((e) => e.type === "powered-off").length <= n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
      }
      await power.stop();
      expect(events.filter((e) => e.type === "powered-off")).toHaveLength(50);
      // Node emits the warning on the next tick after the 11th listener.
      await new Promise((r) => setTimeout(r, 20));
      expect(warnings.filter((w) => w.startsWith("MaxListenersExceededWarning"))).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("stop() cancels confirm-off checks that have not run yet", async () => {
    const { power, calls } = service({ "10.77.0.201": "on" }, {}, 60_000);
    power.observe({ type: "upload-stored", at: "t", mac: "52:54:00:77:00:11", uploadId: "a" });
    await power.stop();
    expect(calls).toEqual([]);
  });
});

describe("power API", () => {
  async function withApp(run: (url: string, calls: string[]) => Promise<void>) {
    const { power, calls } = service(
      { "10.77.0.201": "on" },
      { "10.77.0.202": { status: new IpmiError("UNREACHABLE", "52:54:00:77:00:12 (10.77.0.202)", "chassis power status", "Get Auth Capabilities error") } },
    );
    const app = express();
    app.use(createPowerRouter({ power, authorize: adminAuthorizer("admin-token-0123456789") }));
    app.use((error: Error & { httpStatus?: number; code?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(error.httpStatus ?? 500).json({ code: error.code, message: error.message });
    });
    const server = app.listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    try {
      await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls);
    } finally {
      await new Promise((r) => server.close(r));
    }
  }

  it("GET /api/v1/power: every BMC, failures per BMC, no password", async () => {
    await withApp(async (url) => {
      const response = await fetch(`${url}/api/v1/power`);
      const text = await response.text();
      expect(response.status).toBe(200);
      expect(text).not.toContain("pw-peer-one");
      const body = JSON.parse(text) as { bmcs: Array<{ name: string; state: string; error?: { failure: string } }> };
      expect(body.bmcs.map((b) => [b.name, b.state, b.error?.failure])).toEqual([
        ["peer1", "on", undefined],
        ["52:54:00:77:00:12", "unknown", "UNREACHABLE"],
        ["db3", "off", undefined],
      ]);
    });
  });

  it("POST needs the admin token, checks the action, and acts", async () => {
    await withApp(async (url, calls) => {
      const post = (headers: Record<string, string>, body: unknown) =>
        fetch(`${url}/api/v1/nodes/52-54-00-77-00-11/power`, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify(body),
        });
      expect((await post({}, { action: "off" })).status).toBe(401);
      expect((await post({ authorization: "Bearer wrong" }, { action: "off" })).status).toBe(401);
      expect(calls).toEqual([]);
      const auth = { authorization: "Bearer admin-token-0123456789" };
      expect((await post(auth, { action: "explode" })).status).toBe(400);
      const ok = await post(auth, { action: "off" });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ bmc: "peer1", mac: "52:54:00:77:00:11", address: "10.77.0.201", action: "off", answer: "Down/Off" });
      expect(calls).toEqual(["10.77.0.201 off"]);
      // The session cookie alone cannot act (CSRF): only with the header the review UI sends.
      const cookie = { cookie: "recon_admin=admin-token-0123456789" };
      const refused = await post(cookie, { action: "on" });
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { message: string }).message).toContain("session cookie must come from the review UI");
      expect(calls).toEqual(["10.77.0.201 off"]);
      expect((await post({ ...cookie, "x-recon-ui": "1" }, { action: "on" })).status).toBe(200);
      expect(calls).toEqual(["10.77.0.201 off", "10.77.0.201 on"]);
      const unknown = await fetch(`${url}/api/v1/nodes/52-54-00-00-00-00/power`, {
        method: "POST",
        headers: { "content-type": "application/json", ...auth },
        body: '{"action":"on"}',
      });
      expect(unknown.status).toBe(404);
    });
  });
});
