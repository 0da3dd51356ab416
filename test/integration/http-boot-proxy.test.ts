/**
 * recon's HTTP-boot responder (src/master/dhcp/http-boot-proxy.ts) beside a site DHCP server and
 * beside recon's own dnsmasq in proxy mode, all inside network namespaces made here (HARD SAFETY
 * RULE: no server binds a host interface). Layout (src/lab/netns.ts):
 *
 *   rcn-h<pid>-m     the master: bridge rcnbr8 10.82.0.1/24, the responder, later dnsmasq (proxy, bind-interfaces)
 *   rcn-h<pid>-site  the site's DHCP server: plain dnsmasq, addresses only (10.82.0.2)
 *   rcn-h<pid>-http  an HTTP-boot client (the probe with HTTPClient:Arch:00016, and one unicast sender), 10.82.0.250
 *   rcn-h<pid>-pxe   a PXE ROM's view (the probe, PXEClient arch 0), 10.82.0.251
 *   rcn-h<pid>-udh   busybox udhcpc sending EDK2's HTTP-boot options, no address
 *
 * Every child is started through execa and stopped by its PID in afterAll, then the namespaces go,
 * even when a test failed. Every wait is bounded.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLab, netnsExecArgv, runInNetns, type Lab, type SimulatedHost } from "../../src/lab/netns.js";
import { execaRunner } from "../../src/lib/run.js";
import { OPTION, parseDhcpPacket, type DhcpPacket } from "../../src/master/dhcp/dhcp-packet.js";
import type { ProbeResult } from "../../src/master/dhcp/probe.js";
import { repoRoot } from "../helpers/repo.js";
import { stopChild } from "../helpers/stop-child.js";
import { waitUntil, type WaitSubject } from "../helpers/wait.js";

const PREFIX = `rcn-h${process.pid % 100000}`;
const BRIDGE = "rcnbr8";
const MASTER = "10.82.0.1";
const SITE = "10.82.0.2";
const URL = `http://${MASTER}:8080/boot/efi/shimx64.efi`;
const HTTP_CLASS = "HTTPClient:Arch:00016:UNDI:003001";
const helper = (name: string) => join(repoRoot, "test/integration/helpers", name);
const mac = (n: number) => `52:54:00:82:00:${n.toString(16).padStart(2, "0")}`;

let work: string;
let lab: Lab | undefined;
let site: SimulatedHost;
let httpClient: SimulatedHost;
let pxeClient: SimulatedHost;
let udhcpcClient: SimulatedHost;
const children: ResultPromise[] = [];
const stopAll = new AbortController();

interface Watched {
  child: ResultPromise;
  lines: string[];
  subject: WaitSubject;
}

/** Starts argv inside ns, keeps its stdout and stderr lines, and remembers it for afterAll. */
function watch(name: string, ns: string, argv: string[]): Watched {
  const [command, ...args] = netnsExecArgv(ns, argv);
  const child = execa(command!, args, { reject: false, cwd: repoRoot, cancelSignal: stopAll.signal, all: true });
  children.push(child);
  const lines: string[] = [];
  let rest = "";
  child.all?.on("data", (chunk: Buffer) => {
    rest += chunk.toString("utf8");
    const parts = rest.split("\n");
    rest = parts.pop() ?? "";
    lines.push(...parts);
  });
  let exited = false;
  void child.then(() => (exited = true));
  return { child, lines, subject: { name, exited: () => exited, tail: () => lines.slice(-30).join("\n") } };
}

const waitForLine = (watched: Watched, pattern: RegExp, what: string, timeoutMs = 15_000) =>
  waitUntil({ what, timeoutMs, everyMs: 100, subjects: [watched.subject] }, () => watched.lines.find((line) => pattern.test(line)));

let responder: Watched;

async function probe(host: SimulatedHost, address: string, extra: Record<string, unknown>): Promise<{ result: ProbeResult; offers: DhcpPacket[] }> {
  const options = { mac: host.mac, timeoutMs: 3000, attempts: 1, interfaceAddress: address, raw: true, ...extra };
  const run = await runInNetns(execaRunner, host.ns, [process.execPath, "--import", "tsx", helper("probe-child.ts"), JSON.stringify(options)], {
    cwd: repoRoot,
    timeoutMs: 20_000,
    signal: stopAll.signal,
  });
  const parsed = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}") as ProbeResult & { error?: string; raw?: { hex: string }[] };
  if (parsed.error !== undefined || parsed.raw === undefined) throw new Error(`probe failed: ${run.stdout}${run.stderr}`);
  const offers = parsed.raw
    .map(({ hex }) => parseDhcpPacket(Buffer.from(hex, "hex")))
    .flatMap((result) => (result.ok && result.packet.xid === parsed.xid ? [result.packet] : []));
  return { result: parsed, offers };
}

async function send(host: SimulatedHost, spec: Record<string, unknown>): Promise<void> {
  const run = await runInNetns(execaRunner, host.ns, [process.execPath, "--import", "tsx", helper("dhcp-send-child.ts"), JSON.stringify(spec)], {
    cwd: repoRoot,
    timeoutMs: 20_000,
    signal: stopAll.signal,
  });
  if (run.exitCode !== 0) throw new Error(`dhcp-send-child exited ${run.exitCode}: ${run.stderr}`);
}

const vendor = (packet: DhcpPacket) => packet.options.get(OPTION.vendorClass)?.toString("latin1");
const serverId = (packet: DhcpPacket) => [...(packet.options.get(OPTION.serverId) ?? [])].join(".");

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-http-boot-proxy-"));
  lab = await createLab(execaRunner, { prefix: PREFIX, bridge: BRIDGE, bridgeAddress: `${MASTER}/24` });
  site = await lab.addHost({ name: "site", mac: mac(0xfe), address: `${SITE}/24` });
  httpClient = await lab.addHost({ name: "http", mac: mac(0x10), address: "10.82.0.250/24" });
  pxeClient = await lab.addHost({ name: "pxe", mac: mac(0x11), address: "10.82.0.251/24" });
  udhcpcClient = await lab.addHost({ name: "udh", mac: mac(0x12) });
  // The site's own DHCP server: addresses only, no boot options.
  await writeFile(
    join(work, "site.conf"),
    ["port=0", "interface=eth0", "bind-interfaces", "no-ping", "dhcp-authoritative", "dhcp-range=10.82.0.100,10.82.0.150,255.255.255.0,1h"]
      .concat([`dhcp-leasefile=${join(work, "site.leases")}`, "log-dhcp", ""])
      .join("\n"),
  );
  const siteServer = watch("site dnsmasq", site.ns, ["dnsmasq", "--keep-in-foreground", "--log-facility=-", `--conf-file=${join(work, "site.conf")}`]);
  await waitForLine(siteServer, /DHCP, IP range 10\.82\.0\.100/, "site dnsmasq ready");
  responder = watch("responder", lab.ns, [
    process.execPath,
    "--import",
    "tsx",
    helper("http-boot-proxy-child.ts"),
    JSON.stringify({ address: MASTER, url: URL }),
  ]);
  await waitForLine(responder, /msg="http boot responder listening" address=10\.82\.0\.1 port=67/, "responder listening");
}, 60_000);

afterAll(async () => {
  try {
    for (const child of children.reverse()) await stopChild(child);
    stopAll.abort();
  } finally {
    await lab?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  }
});

describe("the HTTP-boot responder beside a site DHCP server", () => {
  it("gets a unicast to the master's address on its receiver: the sender socket, bound there, takes none", async () => {
    await send(httpClient, { from: "10.82.0.250", to: MASTER, mac: httpClient.mac, xid: 0x0a0a0001, vendorClass: HTTP_CLASS, clientArch: 16 });
    await waitForLine(responder, /msg="http boot proxy offer sent" mac=52:54:00:82:00:10 arch=16 xid=0x0a0a0001 /, "offer for the unicast DISCOVER");
  });

  it("shares UDP port 67 with a real dnsmasq in proxy mode with bind-interfaces (both set SO_REUSEADDR)", async () => {
    await writeFile(
      join(work, "proxy.conf"),
      [
        "port=0",
        `interface=${BRIDGE}`,
        "bind-interfaces",
        `dhcp-range=${MASTER.replace(/\.1$/, ".0")},proxy,255.255.255.0`,
        'pxe-service=x86PC,"recon",undionly',
      ]
        .concat([`dhcp-leasefile=${join(work, "proxy.leases")}`, "log-dhcp", ""])
        .join("\n"),
    );
    const proxy = watch("proxy dnsmasq", lab!.ns, ["dnsmasq", "--keep-in-foreground", "--log-facility=-", `--conf-file=${join(work, "proxy.conf")}`]);
    await waitForLine(proxy, /DHCP, proxy on subnet 10\.82\.0\.0/, "proxy dnsmasq ready");
    const sockets = await runInNetns(execaRunner, lab!.ns, ["ss", "-Huanp", "sport = :67"]);
    expect(sockets.stdout).toMatch(/dnsmasq/);
    expect(sockets.stdout.match(/"node"/g)?.length, sockets.stdout).toBe(2); // the receiver and the sender
    expect(proxy.subject.exited()).toBe(false);
    expect(responder.subject.exited()).toBe(false);
  });

  it("an HTTP-boot client hears the site's address offer and recon's proxy offer with the URL; dnsmasq's proxy stays silent", async () => {
    const { offers } = await probe(httpClient, "10.82.0.250", { vendorClass: HTTP_CLASS, clientArch: 16 });
    const fromSite = offers.filter((offer) => serverId(offer) === SITE);
    const fromMaster = offers.filter((offer) => serverId(offer) === MASTER);
    expect(fromSite).toHaveLength(1);
    expect(fromSite[0]!.yiaddr).toMatch(/^10\.82\.0\.1[0-5]\d$/);
    expect(vendor(fromSite[0]!)).toBeUndefined();
    expect(fromMaster).toHaveLength(1); // ours only: dnsmasq's proxy mode answers no HTTPClient
    expect(fromMaster[0]).toMatchObject({ op: 2, messageType: 2, yiaddr: "0.0.0.0", siaddr: MASTER, file: URL, chaddr: httpClient.mac });
    expect(fromMaster[0]!.flags & 0x8000).toBe(0x8000);
    expect(vendor(fromMaster[0]!)).toBe("HTTPClient");
  });

  it("a PXE ROM gets dnsmasq's proxy offer and the site's address, and nothing from the responder", async () => {
    const { offers } = await probe(pxeClient, "10.82.0.251", {});
    expect(offers.filter((offer) => serverId(offer) === SITE)).toHaveLength(1);
    const fromMaster = offers.filter((offer) => serverId(offer) === MASTER);
    expect(fromMaster).toHaveLength(1);
    expect(vendor(fromMaster[0]!)).toBe("PXEClient");
    expect(offers.some((offer) => vendor(offer) === "HTTPClient")).toBe(false);
    expect(responder.lines.filter((line) => line.includes(pxeClient.mac))).toEqual([]);
  });

  it("answers busybox udhcpc sending EDK2's options with no address of its own, and logs an architecture it has no URL for", async () => {
    const udhcpc = (arch: string) =>
      runInNetns(
        execaRunner,
        udhcpcClient.ns,
        [
          "busybox",
          "udhcpc",
          "-i",
          udhcpcClient.dev,
          "-f",
          "-q",
          "-n",
          "-t",
          "1",
          "-T",
          "2",
          "-s",
          "/bin/true",
          "-V",
          HTTP_CLASS.replace("00016", arch),
        ].concat(["-x", `0x5d:${Number(arch).toString(16).padStart(4, "0")}`, "-x", "0x5e:010301"]),
        { timeoutMs: 15_000, signal: stopAll.signal },
      );
    await udhcpc("00016");
    await waitForLine(responder, /msg="http boot proxy offer sent" mac=52:54:00:82:00:12 arch=16 .*url=http:\/\/10\.82\.0\.1:8080\//, "offer to udhcpc");
    // udhcpc then REQUESTs from the offer it took first: the site server's (10.82.0.2) or, when ours
    // came first, ours (10.82.0.1; udhcpc is no EDK2 and takes a proxy offer for a lease). Which one
    // comes first is the network's timing, not recon's (a loaded CI run saw both). Either way the
    // REQUEST is broadcast, and the responder sees it and leaves it: it only ever answers DISCOVERs.
    await waitForLine(
      responder,
      /msg="http boot client ignored" mac=52:54:00:82:00:12 arch=16 .*reason="REQUEST to 10\.82\.0\.[12], not a DISCOVER/,
      "udhcpc's REQUEST",
    );
    await udhcpc("00019");
    await waitForLine(responder, /msg="http boot client ignored" mac=52:54:00:82:00:12 arch=19 .*reason="no boot URL for this machine"/, "arm64 ignored");
  });

  it("logs a malformed packet and goes on answering", async () => {
    await send(httpClient, { from: "10.82.0.250", to: "255.255.255.255", hex: "0101060000" });
    await waitForLine(responder, /level=warn .*msg="malformed DHCP packet ignored" from=10\.82\.0\.250:68 bytes=5 /, "malformed packet logged");
    const { offers } = await probe(httpClient, "10.82.0.250", { vendorClass: HTTP_CLASS, clientArch: 16 });
    expect(offers.filter((offer) => vendor(offer) === "HTTPClient")).toHaveLength(1);
  });

  it("stops on SIGTERM and says how many it answered and ignored: its counters agree with what it logged", async () => {
    process.kill(responder.child.pid!, "SIGTERM");
    const result = await responder.child;
    expect(result.exitCode).toBe(0);
    const count = (pattern: RegExp) => responder.lines.filter((line) => pattern.test(line)).length;
    const answered = count(/msg="http boot proxy offer sent"/);
    // The REQUESTs seen (one per client, more when udhcpc retransmits one to us), the arm64 client, the malformed packet.
    const ignored = count(/msg="http boot client ignored"/) + count(/msg="malformed DHCP packet ignored"/);
    expect(answered).toBeGreaterThanOrEqual(4);
    expect(ignored).toBeGreaterThanOrEqual(4);
    expect(responder.lines.find((line) => line.includes('msg="http boot responder stopped"'))).toMatch(
      new RegExp(`answered=${answered} ignored=${ignored}(\\s|$)`),
    );
  });
});
