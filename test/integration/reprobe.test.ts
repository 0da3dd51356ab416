/**
 * The master's re-probe, for real (issue #9 item 6): `recon master` authoritative in a namespace
 * made here, re-probing every REPROBE_MS. After ≥ 50 re-probes (counted from its own dnsmasq's
 * log: each probe's DHCPDISCOVER from the master's MAC) a foreign dnsmasq starts on the same
 * bridge, in its own namespace. The master must log it at level=error, switch to proxy within one
 * re-probe round (+ slack), stop handing out addresses, and a new client must lease from the
 * foreign pool. Across all of it node must not print MaxListenersExceededWarning (the leak the
 * re-probe loop had: one abort listener per round), and the master must stay running.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLab, runInNetns, type Lab, type SimulatedHost } from "../../src/lab/netns.js";
import { leaseWithUdhcpc } from "../../src/lab/simulated-peer.js";
import { execaRunner } from "../../src/lib/run.js";
import { startMasterInNetns, testMasterArgs, type MasterProcess } from "../helpers/master-process.js";
import { repoRoot } from "../helpers/repo.js";
import { stopChild } from "../helpers/stop-child.js";

const PREFIX = `rcn-r${process.pid % 100000}`;
const BRIDGE = `rcnbr${process.pid % 10000}r`;
const MASTER = "10.81.0.1";
const FOREIGN = "10.81.0.2";
/** The foreign pool lies outside recon's default .100–.250, so an address tells who gave it. */
const FOREIGN_POOL = /^10\.81\.0\.(2\d|3\d|40)$/;
const REPROBE_MS = 250;
const PROBE_TIMEOUT_MS = 500;
const REPROBES = 50;
const UDHCPC_SCRIPT = join(repoRoot, "test/integration/helpers/udhcpc-report.sh");
const mac = (n: number) => `52:54:00:81:00:${n.toString(16).padStart(2, "0")}`;

let work: string;
let lab: Lab | undefined;
let proc: MasterProcess | undefined;
let masterMac: string;
let foreignHost: SimulatedHost;
let foreign: ResultPromise | undefined;
let foreignLog = "";
const peers: SimulatedHost[] = [];

function assertMasterRunning(): void {
  if (proc!.exited()) throw new Error(`the master exited (code ${proc!.child.exitCode ?? "?"}); log:\n${proc!.log().slice(-3000)}`);
}

/** Polls every 50 ms, bounded; fails at once when the master is gone. Returns when `until` holds. */
async function waitFor(what: string, until: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    assertMasterRunning();
    if (until()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms; master log:\n${proc!.log().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Re-probes so far: recon's dnsmasq logs every DHCPDISCOVER, each probe sends `attempts` (2) of them. */
function discoversFromMaster(): number {
  const pattern = new RegExp(`component=dnsmasq msg=dhcp .*message=DISCOVER .*mac=${masterMac}`, "g");
  return proc!.log().match(pattern)?.length ?? 0;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-reprobe-"));
  await chmod(work, 0o755);
  lab = await createLab(execaRunner, { prefix: PREFIX, bridge: BRIDGE });
  foreignHost = await lab.addHost({ name: "site", mac: mac(0xfe), address: `${FOREIGN}/24` });
  for (let n = 1; n <= 3; n++) peers.push(await lab.addHost({ name: `p${n}`, mac: mac(n) }));
  const link = await runInNetns(execaRunner, lab.ns, ["cat", `/sys/class/net/${BRIDGE}/address`]);
  masterMac = link.stdout.trim();
  expect(masterMac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
  await writeFile(join(work, "site.yaml"), [`interface: ${BRIDGE}`, `address: ${MASTER}/24`, "dhcp:", "  mode: auto", "http:", "  port: 8080", ""].join("\n"));
  proc = startMasterInNetns(lab.ns, testMasterArgs(work, { probeTimeoutMs: PROBE_TIMEOUT_MS, reprobeIntervalMs: REPROBE_MS }));
  await waitFor("master ready", () => /msg="master ready" mode=authoritative/.test(proc!.log()), 60_000);
}, 90_000);

afterAll(async () => {
  try {
    await proc?.stop();
    if (foreign) await stopChild(foreign);
  } finally {
    // Anything still in our namespaces was started by this test (udhcpc after a timeout).
    for (const ns of lab ? [lab.ns, foreignHost?.ns, ...peers.map((p) => p.ns)] : []) {
      if (ns === undefined) continue;
      const pids = await execa("ip", ["netns", "pids", ns], { reject: false });
      for (const pid of pids.stdout
        .split("\n")
        .map(Number)
        .filter((p) => p > 1)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone already
        }
      }
    }
    await lab?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  }
}, 60_000);

describe("re-probe while authoritative", () => {
  it("is authoritative at first: a client leases from recon", async () => {
    const outcome = await leaseWithUdhcpc(
      execaRunner,
      peers[0]!.ns,
      { dev: peers[0]!.dev, firmware: "os", script: UDHCPC_SCRIPT },
      { attempts: 3, attemptTimeoutMs: 10_000 },
    );
    expect(outcome.lease, outcome.output).toBeDefined();
    expect(outcome.lease!.serverId).toBe(MASTER);
    assertMasterRunning();
  }, 40_000);

  it(`re-probes ${REPROBES} times without an abort listener leak`, async () => {
    await waitFor(`${REPROBES} re-probes`, () => discoversFromMaster() >= 2 * REPROBES, REPROBES * (REPROBE_MS + PROBE_TIMEOUT_MS) * 3 + 10_000);
    expect(proc!.log()).not.toMatch(/MaxListenersExceededWarning/);
    expect(proc!.log()).not.toMatch(/FOREIGN DHCP SERVER/);
  }, 120_000);

  it("logs a foreign DHCP server at error level, switches to proxy within one round, and the next client leases from it", async () => {
    await writeFile(
      join(work, "foreign.conf"),
      [
        "port=0",
        "interface=eth0",
        "bind-interfaces",
        "no-ping",
        "dhcp-range=10.81.0.20,10.81.0.40,255.255.255.0,1h",
        `dhcp-leasefile=${join(work, "foreign.leases")}`,
        `pid-file=${join(work, "foreign.pid")}`,
        "",
      ].join("\n"),
    );
    foreign = execa(
      "ip",
      ["netns", "exec", foreignHost.ns, "dnsmasq", "--keep-in-foreground", "--log-facility=-", `--conf-file=${join(work, "foreign.conf")}`],
      { reject: false, all: true },
    );
    foreign.all?.on("data", (chunk: Buffer) => void (foreignLog += chunk.toString("utf8")));
    const foreignStarted = Date.now();
    await waitFor(
      "the foreign dnsmasq to start",
      () => {
        if (foreign!.exitCode !== null && foreign!.exitCode !== undefined) throw new Error(`foreign dnsmasq exited: ${foreignLog}`);
        return /started, version/.test(foreignLog);
      },
      10_000,
    );

    // One round: at most a full interval's sleep plus one probe; slack for a loaded 2-core host.
    const round = REPROBE_MS + PROBE_TIMEOUT_MS;
    await waitFor("the error line", () => /level=error (component=master )?msg="FOREIGN DHCP SERVER[^\n]*10\.81\.0\.2/.test(proc!.log()), round + 3000);
    const detectedMs = Date.now() - foreignStarted;
    await waitFor("proxy mode", () => /msg="master ready" mode=proxy/.test(proc!.log()), 10_000);
    const proxyMs = Date.now() - foreignStarted;
    console.log(`foreign server detected after ${detectedMs} ms, proxy after ${proxyMs} ms (round ${round} ms)`);
    expect(detectedMs).toBeLessThanOrEqual(round + 3000);

    // Proxy now: recon's dnsmasq configuration has no address pool any more.
    const conf = await readFile(join(work, "run", "dnsmasq.conf"), "utf8");
    expect(conf).toMatch(/dhcp-range=[^\n]*proxy/);
    expect(conf).not.toMatch(/dhcp-range=10\.81\.0\.100/);

    const leasesBefore = await readFile(join(work, "run", "dnsmasq.leases"), "utf8").catch(() => "");
    // Plain DHCP clients: busybox udhcpc as a PXE client would take recon's proxyDHCP offer (no
    // address) when it comes first and never bind, which a real PXE ROM does not do.
    for (const [peer, firmware] of [
      [peers[1]!, "os"],
      [peers[2]!, "os"],
    ] as const) {
      const outcome = await leaseWithUdhcpc(
        execaRunner,
        peer.ns,
        { dev: peer.dev, firmware, script: UDHCPC_SCRIPT },
        { attempts: 3, attemptTimeoutMs: 10_000 },
      );
      expect(outcome.lease, `${firmware} client: ${outcome.output}`).toBeDefined();
      expect(outcome.lease!.serverId).toBe(FOREIGN);
      expect(outcome.lease!.ip).toMatch(FOREIGN_POOL);
      assertMasterRunning();
    }
    const leasesAfter = await readFile(join(work, "run", "dnsmasq.leases"), "utf8").catch(() => "");
    for (const peer of peers.slice(1)) expect(leasesAfter).not.toContain(peer.mac);
    expect(leasesAfter.length).toBeLessThanOrEqual(leasesBefore.length);
    expect(await readFile(join(work, "foreign.leases"), "utf8")).toContain(peers[1]!.mac);
  }, 90_000);

  it("never warned about abort listeners and is still running", () => {
    expect(discoversFromMaster()).toBeGreaterThanOrEqual(2 * REPROBES);
    expect(proc!.log()).not.toMatch(/MaxListenersExceededWarning|memory leak/);
    assertMasterRunning();
  });
});
