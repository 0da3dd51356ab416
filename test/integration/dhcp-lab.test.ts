/**
 * Real dnsmasq, real DHCP clients, all inside network namespaces made for this run (HARD SAFETY
 * RULE: no server ever binds a host interface). Layout (src/lab/netns.ts):
 *
 *   rcn-t<pid>-m   the master: bridge rcnbr0 10.77.0.1/24, recon's dnsmasq (supervised), probes
 *   rcn-t<pid>-pN  20 simulated peers (busybox udhcpc, curl), veth to the bridge
 *   rcn-t<pid>-fx  a "foreign" site DHCP server (plain dnsmasq, 10.77.0.2) for the proxy case
 *   rcn-t<pid>-px  a peer that looks at all offers like a PXE ROM does (the probe)
 *
 * Every process is started through execa with one AbortController; afterAll aborts it, then
 * deletes the namespaces, even when a test failed.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLab, netnsWrapper, routeAddArgs, runInNetns, type Lab, type SimulatedHost } from "../../src/lab/netns.js";
import { curlGetArgv, leaseWithUdhcpc, type LeaseOutcome, type PeerFirmware } from "../../src/lab/simulated-peer.js";
import { createLogger } from "../../src/lib/log.js";
import { execaRunner, runChecked } from "../../src/lib/run.js";
import { decideDhcpMode, decideOnForeignServer } from "../../src/master/dhcp/decide-dhcp-mode.js";
import type { ProbeResult } from "../../src/master/dhcp/probe.js";
import { planDhcpBoot } from "../../src/boot/plan-dhcp.js";
import { parseSiteConfig } from "../../src/model/site-config.js";
import { renderDnsmasqConf, type DnsmasqOptions } from "../../src/master/dhcp/render-dnsmasq.js";
import { DnsmasqStartError, superviseDnsmasq, type DnsmasqSupervisor, type SupervisorEvent } from "../../src/master/dhcp/supervisor.js";
import { DEBIAN_SHIM } from "../../src/master/boot-files/tftp-root.js";
import { isPidAlive, tearDownLab } from "./helpers/lab-teardown.js";
import { assembleTftpRoot, IPXE_DIR } from "./helpers/tftp-root.js";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const UDHCPC_SCRIPT = join(here, "helpers/udhcpc-report.sh");
const PROBE_CHILD = join(here, "helpers/probe-child.ts");

const PREFIX = `rcn-t${process.pid}`;
const MASTER = "10.77.0.1";
const FOREIGN = "10.77.0.2";
const PEERS = 20;
const mac = (n: number) => `52:54:00:77:00:${n.toString(16).padStart(2, "0")}`;

let work: string;
let tftpRoot: string;
let lab: Lab | undefined;
const peers: SimulatedHost[] = [];
let foreignHost: SimulatedHost;
let pxeView: SimulatedHost;
const stopAll = new AbortController();
const logLines: string[] = [];
const logger = createLogger({}, { level: "debug", write: (line) => logLines.push(line) });
const supervisors: { stop: AbortController; supervisor: DnsmasqSupervisor; pidFile: string }[] = [];

const sha256 = async (file: string) =>
  createHash("sha256")
    .update(await readFile(file))
    .digest("hex");

async function writeConf(name: string, mode: DnsmasqOptions["mode"]): Promise<{ conf: string; pidFile: string; leaseFile: string }> {
  const dir = join(work, name);
  await mkdir(join(dir, "hosts"), { recursive: true });
  const paths = { tftpRoot, leaseFile: join(dir, "leases"), pidFile: join(dir, "pid"), hostsDir: join(dir, "hosts") };
  const conf = join(dir, "dnsmasq.conf");
  await writeFile(
    conf,
    renderDnsmasqConf({
      mode,
      interface: lab!.bridge,
      address: MASTER,
      network: "10.77.0.0",
      prefix: 24,
      pool: mode === "authoritative" ? { start: "10.77.0.100", end: "10.77.0.199" } : undefined,
      leaseTime: "1h",
      dns: { enabled: false, domain: "recon.lan" },
      firstStage: planDhcpBoot(parseSiteConfig(""), {
        address: MASTER,
        httpPort: 8080,
        imageLabel: "test",
        imageArch: "x86_64",
        imageKernelArgs: [],
        arm64Firmware: false,
      }).firstStage,
      paths,
    }),
  );
  return { conf, pidFile: paths.pidFile, leaseFile: paths.leaseFile };
}

async function startSupervised(ns: string, conf: string, pidFile: string, events: SupervisorEvent[], extra: { startTimeoutMs?: number } = {}) {
  const stop = new AbortController();
  stopAll.signal.addEventListener("abort", () => stop.abort(), { once: true });
  const supervisor = await superviseDnsmasq({
    runner: execaRunner,
    confFile: conf,
    logger,
    signal: stop.signal,
    wrapper: netnsWrapper(ns),
    onEvent: (event) => events.push(event),
    backoff: { initialMs: 200, maxRestarts: 3 },
    ...extra,
  });
  const entry = { stop, supervisor, pidFile };
  supervisors.push(entry);
  return entry;
}

async function stopSupervised(entry: { stop: AbortController; supervisor: DnsmasqSupervisor }) {
  entry.stop.abort();
  await entry.supervisor.done;
}

async function probeFrom(ns: string, options: Record<string, unknown>): Promise<ProbeResult & { error?: string }> {
  const result = await runInNetns(execaRunner, ns, [process.execPath, "--import", "tsx", PROBE_CHILD, JSON.stringify(options)], {
    cwd: repo,
    timeoutMs: 15_000,
    signal: stopAll.signal,
  });
  const line = result.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(line) as ProbeResult & { error?: string };
  } catch {
    throw new Error(`probe child printed no JSON (exit ${result.exitCode}): ${result.stdout}${result.stderr}`);
  }
}

function lease(peer: SimulatedHost, firmware: PeerFirmware, attempts = 4): Promise<LeaseOutcome> {
  return leaseWithUdhcpc(
    execaRunner,
    peer.ns,
    { dev: peer.dev, firmware, script: UDHCPC_SCRIPT },
    { attempts, attemptTimeoutMs: 10_000, signal: stopAll.signal },
  );
}

async function tftpGet(peer: SimulatedHost, server: string, file: string): Promise<string> {
  const out = join(work, "downloads", `${peer.ns}-${file}`);
  await runChecked(execaRunner, "ip", ["netns", "exec", peer.ns, ...curlGetArgv(`tftp://${server}/${file}`, out, 20)], { signal: stopAll.signal });
  return out;
}

/** Where the TFTP root's first stage comes from on this host (the root links to it). */
const servedFrom = (file: string) => (file === "shimx64.efi" ? DEBIAN_SHIM : join(IPXE_DIR, file));

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-dhcp-lab-"));
  // The master's TFTP root as main.ts assembles it (world-readable: dnsmasq drops root for TFTP).
  ({ tftpRoot } = await assembleTftpRoot(work, MASTER, "test"));
  await mkdir(join(work, "downloads"), { recursive: true });
  lab = await createLab(execaRunner, { prefix: PREFIX, bridge: "rcnbr0", bridgeAddress: `${MASTER}/24` });
  for (let n = 0; n < PEERS; n += 1) peers.push(await lab.addHost({ name: `p${n}`, mac: mac(n) }));
  foreignHost = await lab.addHost({ name: "fx", mac: "52:54:00:77:01:00", address: `${FOREIGN}/24` });
  pxeView = await lab.addHost({ name: "px", mac: "52:54:00:77:02:00" });
  // The PXE view has no address: without a route Linux refuses a send to 255.255.255.255 (ENETUNREACH).
  await runChecked(execaRunner, "ip", routeAddArgs(pxeView.ns, "default", pxeView.dev));
}, 60_000);

afterAll(async () => {
  stopAll.abort();
  await Promise.allSettled(supervisors.map((s) => s.supervisor.done));
  // Every dnsmasq this file started is gone (they wrote their PIDs), and every namespace.
  expect(await tearDownLab({ lab, prefix: PREFIX, work, pidFiles: supervisors.map((s) => s.pidFile), log: logLines })).toEqual([]);
}, 60_000);

describe("dnsmasq in a netns, authoritative", () => {
  const events: SupervisorEvent[] = [];
  let recon: Awaited<ReturnType<typeof startSupervised>>;

  it("probe hears no DHCP server, so auto decides authoritative", async () => {
    const probe = await probeFrom(lab!.ns, { mac: "52:54:00:77:ff:01", timeoutMs: 1500, interfaceAddress: MASTER });
    expect(probe.error).toBeUndefined();
    expect(probe.servers).toEqual([]);
    const decision = decideDhcpMode("auto", probe, [MASTER]);
    expect(decision.mode).toBe("authoritative");
    const { conf, pidFile } = await writeConf("recon-auth", decision.mode as "authoritative");
    recon = await startSupervised(lab!.ns, conf, pidFile, events);
    expect(events.some((e) => e.type === "started")).toBe(true);
  });

  it.each([
    ["bios", 0, "undionly.kpxe"],
    // The default UEFI first stage: Microsoft-signed shim (test/integration/uefi-chain.test.ts follows the chain).
    ["uefi", 1, "shimx64.efi"],
    ["ipxe", 2, `http://${MASTER}:8080/boot.ipxe`],
  ] as const)("%s peer gets %s", async (firmware, index, file) => {
    const outcome = await lease(peers[index]!, firmware);
    expect(outcome.lease, outcome.output).toMatchObject({ serverId: MASTER, nextServer: MASTER, bootFile: file });
    expect(outcome.lease!.ip).toMatch(/^10\.77\.0\.1\d\d$/);
  });

  it("TFTP downloads are byte-identical to the served files", async () => {
    // The peers got their addresses from the udhcpc script above.
    for (const [index, file] of [
      [0, "undionly.kpxe"],
      [1, "shimx64.efi"],
    ] as const) {
      const got = await tftpGet(peers[index]!, MASTER, file);
      expect(await sha256(got)).toBe(await sha256(servedFrom(file)));
    }
    const sent = events.filter((e) => e.type === "dnsmasq" && e.event.kind === "tftp-sent");
    expect(sent.length).toBeGreaterThanOrEqual(2);
  });

  it(`${PEERS} peers at once all get a lease and their file`, async () => {
    const since = events.length;
    const started = Date.now();
    const outcomes = await Promise.all(
      peers.map(async (peer, n) => {
        const firmware: PeerFirmware = n % 2 === 0 ? "bios" : "uefi";
        // docs/lab-facts.md: some of 20 get `DHCPNAK address in use` and recover in 3–10 s: 4 bounded attempts.
        const outcome = await lease(peer, firmware, 4);
        if (!outcome.lease) return { n, outcome, sha: undefined };
        const file = firmware === "bios" ? "undionly.kpxe" : "shimx64.efi";
        expect(outcome.lease.bootFile).toBe(file);
        const got = await tftpGet(peer, outcome.lease.nextServer, file);
        return { n, outcome, sha: await sha256(got), file };
      }),
    );
    const wallMs = Date.now() - started;
    const missing = outcomes.filter((o) => !o.outcome.lease).map((o) => `p${o.n}: ${o.outcome.output.slice(-300)}`);
    expect(missing).toEqual([]);
    const bios = await sha256(servedFrom("undionly.kpxe"));
    const efi = await sha256(servedFrom("shimx64.efi"));
    for (const o of outcomes) expect(o.sha).toBe(o.file === "undionly.kpxe" ? bios : efi);
    const ips = new Set(outcomes.map((o) => o.outcome.lease!.ip));
    expect(ips.size).toBe(PEERS);

    // The supervisor saw every lease: one DHCPACK event per MAC.
    const acked = new Set(
      events.slice(since).flatMap((e) => (e.type === "dnsmasq" && e.event.kind === "dhcp" && e.event.message === "ACK" ? [e.event.mac] : [])),
    );
    expect([...acked].sort()).toEqual(peers.map((p) => p.mac).sort());
    const naks = events.slice(since).filter((e) => e.type === "dnsmasq" && e.event.kind === "dhcp" && e.event.message === "NAK").length;
    const retried = outcomes.filter((o) => o.outcome.attempts > 1).length;
    console.log(
      JSON.stringify({ figure: "fleet-dhcp-tftp", peers: PEERS, wallMs, naks, retried, maxAttempts: Math.max(...outcomes.map((o) => o.outcome.attempts)) }),
    );
  });

  it("restarts dnsmasq when it is killed", async () => {
    const pid = Number((await readFile(recon.pidFile, "utf8")).trim());
    expect(isPidAlive(pid)).toBe(true);
    const before = recon.supervisor.starts();
    process.kill(pid, "SIGKILL"); // the dnsmasq this test started, by its PID
    const deadline = Date.now() + 10_000;
    while (recon.supervisor.starts() === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    while (events.filter((e) => e.type === "started").length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(events.find((e) => e.type === "exited")).toMatchObject({ restartInMs: 200 });
    expect(events.filter((e) => e.type === "started")).toHaveLength(2);
    const outcome = await lease(peers[0]!, "bios");
    expect(outcome.lease?.bootFile).toBe("undionly.kpxe");
  });

  it("fails fast naming the cause: unknown interface, port in use", async () => {
    const { conf, pidFile } = await writeConf("recon-bad", "authoritative");
    await writeFile(conf, (await readFile(conf, "utf8")).replace(/^interface=rcnbr0$/m, "interface=rcnnope0"));
    const error = await startSupervised(lab!.ns, conf, pidFile, []).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DnsmasqStartError);
    expect(error).toMatchObject({ kind: "unknown-interface", message: expect.stringContaining("unknown interface rcnnope0") });

    // A socket without SO_REUSEADDR on port 67: dnsmasq cannot bind. Done in the foreign host's
    // namespace before its dnsmasq runs (recon's own dnsmasq already holds 67 in the master's).
    let markHolding: () => void = () => undefined;
    const holding = new Promise<void>((resolve) => (markHolding = resolve));
    const holder = runInNetns(
      execaRunner,
      foreignHost.ns,
      [process.execPath, "-e", "const s=require('dgram').createSocket('udp4');s.bind(67,'0.0.0.0',()=>console.log('holding'));setTimeout(()=>s.close(),4000)"],
      { signal: stopAll.signal, timeoutMs: 10_000, onLine: (line) => line === "holding" && markHolding() },
    );
    await Promise.race([holding, holder]);
    const { conf: conf2, pidFile: pid2 } = await writeConf("recon-busy", "proxy");
    await writeFile(conf2, (await readFile(conf2, "utf8")).replace(/^interface=rcnbr0$/m, `interface=${foreignHost.dev}`));
    const busy = await startSupervised(foreignHost.ns, conf2, pid2, []).catch((e: unknown) => e);
    expect(busy).toMatchObject({ kind: "port-in-use", message: expect.stringContaining("Address already in use") });
    expect((await holder).stdout).toContain("holding");
  }, 20_000);

  describe("a foreign DHCP server appears", () => {
    const foreignEvents: SupervisorEvent[] = [];
    const proxyEvents: SupervisorEvent[] = [];
    let foreignLeaseFile: string;

    it("the probe sees it while recon is authoritative → fall back to proxy", async () => {
      const dir = join(work, "foreign");
      await mkdir(dir, { recursive: true });
      foreignLeaseFile = join(dir, "leases");
      const conf = join(dir, "dnsmasq.conf");
      // A plain site DHCP server: addresses only, no PXE.
      await writeFile(
        conf,
        [
          "keep-in-foreground",
          "log-facility=-",
          "port=0",
          "no-hosts",
          `interface=${foreignHost.dev}`,
          "bind-interfaces",
          "except-interface=lo",
          `pid-file=${join(dir, "pid")}`,
          `dhcp-leasefile=${foreignLeaseFile}`,
          "dhcp-range=10.77.0.50,10.77.0.90,255.255.255.0,1h",
          "dhcp-authoritative",
          "no-ping",
          "log-dhcp",
          "",
        ].join("\n"),
      );
      await startSupervised(foreignHost.ns, conf, join(dir, "pid"), foreignEvents);

      const probe = await probeFrom(lab!.ns, { mac: "52:54:00:77:ff:02", timeoutMs: 1500, interfaceAddress: MASTER });
      expect(probe.servers.map((s) => s.serverId).sort()).toEqual([MASTER, FOREIGN]);
      expect(probe.servers.find((s) => s.serverId === FOREIGN)).toMatchObject({
        proxy: false,
        offeredAddress: expect.stringMatching(/^10\.77\.0\.(5\d|[6-8]\d|90)$/),
      });
      expect(decideOnForeignServer("authoritative", probe, [MASTER])).toMatchObject({ action: "fallback-to-proxy", foreignServers: [FOREIGN] });
      const decision = decideDhcpMode("auto", probe, [MASTER]);
      expect(decision).toMatchObject({ mode: "proxy", foreignServers: [FOREIGN] });

      await stopSupervised(recon);
      const { conf: proxyConf, pidFile } = await writeConf("recon-proxy", "proxy");
      await startSupervised(lab!.ns, proxyConf, pidFile, proxyEvents);
    });

    it("a PXE client sees the address from the foreign server and the boot file from recon", async () => {
      const probe = await probeFrom(pxeView.ns, { mac: pxeView.mac, timeoutMs: 1500 });
      expect(probe.error).toBeUndefined();
      const addressOffers = probe.servers.filter((s) => s.offeredAddress !== undefined);
      expect(addressOffers.map((s) => s.serverId)).toEqual([FOREIGN]);
      expect(probe.servers.find((s) => s.serverId === MASTER)).toMatchObject({ proxy: true, pxe: true, nextServer: MASTER, bootFile: "undionly.kpxe" });
    });

    it("peers lease from the foreign server only and fetch recon's file by TFTP", async () => {
      // The lease as the booted system takes it (a plain DHCP client): recon in proxy mode must
      // stay silent. (udhcpc with the PXE vendor class is no PXE ROM: it takes the first offer,
      // recon's address-less one half the time, and its REQUEST then goes unanswered; the PXE
      // ROM's merge of the two offers is what the previous test shows.)
      const sample = peers.slice(0, 6);
      const outcomes = await Promise.all(sample.map((peer) => lease(peer, "os", 3)));
      for (const outcome of outcomes) {
        expect(outcome.lease, outcome.output).toMatchObject({ serverId: FOREIGN, ip: expect.stringMatching(/^10\.77\.0\.(5\d|[6-8]\d|90)$/) });
      }
      const leases = await readFile(foreignLeaseFile, "utf8");
      for (const peer of sample) expect(leases).toContain(peer.mac);
      // recon in proxy mode acknowledged no address; it answered the PXE view only.
      const reconAcks = proxyEvents.filter((e) => e.type === "dnsmasq" && e.event.kind === "dhcp" && e.event.message === "ACK");
      expect(reconAcks).toEqual([]);
      expect(proxyEvents.some((e) => e.type === "dnsmasq" && e.event.kind === "pxe" && e.event.detail === "proxy")).toBe(true);

      // With the foreign address, the boot file comes from recon's TFTP.
      for (const peer of sample.slice(0, 2)) {
        const got = await tftpGet(peer, MASTER, "undionly.kpxe");
        expect(await sha256(got)).toBe(await sha256(servedFrom("undionly.kpxe")));
      }
    }, 60_000);
  });
});
