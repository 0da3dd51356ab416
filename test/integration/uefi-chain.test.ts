/**
 * The UEFI boot chain of #11 against real dnsmasq, inside network namespaces this file makes (no server
 * ever binds a host interface). The master's TFTP root is assembled as main.ts does it
 * (applyTftpRoot(planTftpRoot(…))) from the host's Debian packages; dnsmasq is rendered from the default
 * site config plus one host on ipxe.efi, and a per-MAC GRUB file is written when dnsmasq answers, as
 * main.ts wires createGrubNodeFiles. Simulated firmware: busybox udhcpc sending option 60 and 93 as each
 * firmware does (docs/lab-facts.md, "Lightweight simulated peer"), then curl over TFTP and HTTP.
 *
 *   rcn-u<pid>-m    the master: bridge 10.78.0.1/24, recon's dnsmasq (supervised), a tiny HTTP server for /tftp/
 *   rcn-u<pid>-<x>  one simulated peer per case, veth to the bridge
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BootServer } from "../../src/boot/plan-boot.js";
import { planDhcpBoot } from "../../src/boot/plan-dhcp.js";
import { grubNodeFile, renderGrubChainConfig } from "../../src/boot/render-grub.js";
import { createLab, netnsWrapper, runInNetns, type Lab, type SimulatedHost } from "../../src/lab/netns.js";
import { curlGetArgv, parseUdhcpcReport, type UdhcpcLease } from "../../src/lab/simulated-peer.js";
import { createLogger } from "../../src/lib/log.js";
import { execaRunner, runChecked, type RunResult } from "../../src/lib/run.js";
import { createGrubNodeFiles } from "../../src/master/boot-files/grub-node-files.js";
import { DEBIAN_GRUB_NET, DEBIAN_SHIM, GRUB_WAIT_SECONDS, RECON_GRUB_HTTP } from "../../src/master/boot-files/tftp-root.js";
import { renderDhcpHostsFile, renderDnsmasqConf } from "../../src/master/dhcp/render-dnsmasq.js";
import { superviseDnsmasq, type DnsmasqSupervisor, type SupervisorEvent } from "../../src/master/dhcp/supervisor.js";
import { verifyToken } from "../../src/model/peer-token.js";
import { parseSiteConfig } from "../../src/model/site-config.js";
import { waitUntil } from "../helpers/wait.js";
import { tearDownLab } from "./helpers/lab-teardown.js";
import { assembleTftpRoot, IPXE_DIR } from "./helpers/tftp-root.js";

const here = dirname(fileURLToPath(import.meta.url));
const ENV_SCRIPT = join(here, "helpers/udhcpc-env.sh");

const PREFIX = `rcn-u${process.pid}`;
const MASTER = "10.78.0.1";
const HTTP_PORT = 8080;
const LABEL = "test";
const mac = (n: number) => `52:54:00:78:00:${n.toString(16).padStart(2, "0")}`;
/** The peer whose host entry names ipxe.efi. */
const IPXE_HOST = mac(5);

const server: BootServer = { address: MASTER, httpPort: HTTP_PORT, imageLabel: LABEL, imageArch: "x86_64", imageKernelArgs: [], arm64Firmware: false };
const site = parseSiteConfig(`
hosts:
  ${IPXE_HOST}: { firmwareFile: ipxe.efi }
`);
const secret = randomBytes(32);

/** What each firmware sends (vendor class, option 93 as hex): EDK2/OVMF and a BIOS PXE ROM. */
const FIRMWARE = {
  bios: { vendorClass: "PXEClient:Arch:00000:UNDI:002001", arch: "0000" },
  efi7: { vendorClass: "PXEClient:Arch:00007:UNDI:003016", arch: "0007" },
  efi9: { vendorClass: "PXEClient:Arch:00009:UNDI:003016", arch: "0009" },
  http: { vendorClass: "HTTPClient:Arch:00016:UNDI:003001", arch: "0010" },
} as const;
type Firmware = keyof typeof FIRMWARE;

let work: string;
let tftpRoot: string;
let httpRoot: string;
let lab: Lab | undefined;
const peers = new Map<string, SimulatedHost>();
const stopAll = new AbortController();
const events: SupervisorEvent[] = [];
const logLines: string[] = [];
const logger = createLogger({}, { level: "debug", write: (line) => logLines.push(line) });
let supervisor: DnsmasqSupervisor | undefined;
let httpServer: Promise<RunResult> | undefined;
let httpExited = false;
const prepared: Promise<void>[] = [];

const sha256 = async (file: string) =>
  createHash("sha256")
    .update(await readFile(file))
    .digest("hex");

interface Answer {
  lease: UdhcpcLease | undefined;
  env: Map<string, string>;
  output: string;
}

/** busybox udhcpc as `firmware` (bounded: 3 attempts of 3 DISCOVERs, 10 s each); the script dumps udhcpc's environment. */
async function ask(peer: SimulatedHost, firmware: Firmware): Promise<Answer> {
  const { vendorClass, arch } = FIRMWARE[firmware];
  // An empty environment: the script dumps all of it, and only udhcpc's variables belong in a test's output.
  const clean = ["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"];
  const udhcpc = ["busybox", "udhcpc", "-f", "-q", "-n", "-t", "3", "-T", "1", "-i", peer.dev, "-s", ENV_SCRIPT];
  const argv = [...clean, ...udhcpc, "-V", vendorClass, "-x", `0x5d:${arch}`, "-O", "60", "-O", "66", "-O", "67"];
  let output = "";
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    const result = await runInNetns(execaRunner, peer.ns, argv, { timeoutMs: 10_000, signal: stopAll.signal });
    output = `${result.stdout}\n${result.stderr}`;
    const env = new Map(
      result.stdout
        .split("\n")
        .filter((line) => line.startsWith("recon-udhcpc-env "))
        .map((line) => line.slice("recon-udhcpc-env ".length))
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)] as const),
    );
    const lease = parseUdhcpcReport(
      `recon-udhcpc event=bound ip=${env.get("ip") ?? ""} mask=${env.get("mask") ?? ""} serverid=${env.get("serverid") ?? ""} siaddr=${env.get("siaddr") ?? ""} bootfile=${env.get("bootfile") ?? ""} boot_file=${env.get("boot_file") ?? ""}`,
    );
    if (result.exitCode === 0 && lease) return { lease, env, output };
  }
  return { lease: undefined, env: new Map(), output };
}

/** curl from the peer's namespace (tftp:// or http://) into the work dir. */
async function fetchFrom(peer: SimulatedHost, url: string): Promise<string> {
  const out = join(work, "downloads", `${peer.ns}-${url.replace(/[^A-Za-z0-9.]+/g, "_")}`);
  await runChecked(execaRunner, "ip", ["netns", "exec", peer.ns, ...curlGetArgv(url, out, 20)], { signal: stopAll.signal });
  return out;
}

async function signers(file: string): Promise<string> {
  return (await runChecked(execaRunner, "sbverify", ["--list", file])).stdout;
}

/** A tiny static server for `<work>/serve` in the master's namespace: what the master's /tftp/ route answers. */
const HTTP_SERVER = `
const http = require("node:http"), fs = require("node:fs"), path = require("node:path");
const root = process.argv[1];
http.createServer((req, res) => {
  const file = path.join(root, decodeURIComponent(new URL(req.url, "http://x").pathname));
  if (!file.startsWith(root + "/")) { res.writeHead(403); res.end(); return; }
  fs.createReadStream(file).on("error", () => { res.writeHead(404); res.end(); }).pipe(res);
}).listen(Number(process.argv[2]), process.argv[3], () => console.log("listening"));
setTimeout(() => process.exit(0), 600000);
`;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-uefi-chain-"));
  ({ tftpRoot, httpRoot } = await assembleTftpRoot(work, MASTER, LABEL));
  await mkdir(join(work, "downloads"));
  lab = await createLab(execaRunner, { prefix: PREFIX, bridge: "rcnbr0", bridgeAddress: `${MASTER}/24` });
  for (const [name, n] of [
    ["bios", 1],
    ["efi7", 2],
    ["efi9", 3],
    ["http", 4],
    ["host", 5],
  ] as const) {
    peers.set(name, await lab.addHost({ name, mac: mac(n) }));
  }

  const dir = join(work, "dnsmasq");
  await mkdir(join(dir, "hosts"), { recursive: true, mode: 0o755 });
  const dhcpBoot = planDhcpBoot(site, server);
  await writeFile(join(dir, "hosts", "recon.hosts"), renderDhcpHostsFile(dhcpBoot.hosts));
  const conf = join(dir, "dnsmasq.conf");
  await writeFile(
    conf,
    renderDnsmasqConf({
      mode: "authoritative",
      interface: lab.bridge,
      address: MASTER,
      network: "10.78.0.0",
      prefix: 24,
      pool: { start: "10.78.0.100", end: "10.78.0.199" },
      leaseTime: "1h",
      dns: { enabled: false, domain: "recon.lan" },
      firstStage: dhcpBoot.firstStage,
      paths: { tftpRoot, leaseFile: join(dir, "leases"), pidFile: join(dir, "pid"), hostsDir: join(dir, "hosts") },
    }),
  );
  const grubFiles = createGrubNodeFiles({ tftpRoot, config: site, server, secret, record: () => undefined, log: logger.child({ component: "grub" }) });
  supervisor = await superviseDnsmasq({
    runner: execaRunner,
    confFile: conf,
    logger,
    signal: stopAll.signal,
    wrapper: netnsWrapper(lab.ns),
    backoff: { initialMs: 200, maxRestarts: 0 },
    onEvent: (event) => {
      events.push(event);
      // As main.ts: dnsmasq answered a machine, so its GRUB (if its first stage is shim) reads its file soon.
      if (event.type === "dnsmasq" && event.event.kind === "dhcp" && (event.event.message === "ACK" || event.event.message === "OFFER")) {
        prepared.push(grubFiles.prepare(event.event.mac));
      }
    },
  });

  let markListening: () => void = () => undefined;
  const listening = new Promise<void>((resolve) => (markListening = resolve));
  httpServer = runInNetns(execaRunner, lab.ns, [process.execPath, "-e", HTTP_SERVER, join(work, "serve"), String(HTTP_PORT), MASTER], {
    signal: stopAll.signal,
    timeoutMs: 600_000,
    onLine: (line) => line === "listening" && markListening(),
  });
  void httpServer.finally(() => (httpExited = true));
  await Promise.race([listening, httpServer.then((r) => Promise.reject(new Error(`HTTP server exited: ${r.stderr}`)))]);
}, 60_000);

afterAll(async () => {
  stopAll.abort();
  await supervisor?.done.catch(() => undefined);
  await httpServer?.catch(() => undefined);
  await Promise.allSettled(prepared);
  expect(await tearDownLab({ lab, prefix: PREFIX, work, pidFiles: [join(work, "dnsmasq", "pid")], log: logLines })).toEqual([]);
}, 60_000);

describe("the UEFI chain against real dnsmasq (default site config: shim)", () => {
  const answers = new Map<string, Answer>();
  const answerOf = async (name: string, firmware: Firmware) => {
    const answer = answers.get(name) ?? (await ask(peers.get(name)!, firmware));
    answers.set(name, answer);
    expect(answer.lease, answer.output).toBeDefined();
    return answer;
  };

  it("BIOS (arch 0) gets undionly.kpxe by TFTP", async () => {
    const { lease } = await answerOf("bios", "bios");
    expect(lease).toMatchObject({ serverId: MASTER, nextServer: MASTER, bootFile: "undionly.kpxe" });
  });

  it.each([
    ["efi7", "efi7"],
    ["efi9", "efi9"],
  ] as const)("UEFI (%s) gets shimx64.efi: Microsoft-signed shim, and beside it Debian's signed GRUB and the chain file", async (name, firmware) => {
    const { lease } = await answerOf(name, firmware);
    expect(lease).toMatchObject({ serverId: MASTER, nextServer: MASTER, bootFile: "shimx64.efi" });
    const peer = peers.get(name)!;
    const shim = await fetchFrom(peer, `tftp://${MASTER}/shimx64.efi`);
    expect(await sha256(shim)).toBe(await sha256(DEBIAN_SHIM));
    expect(await signers(shim)).toContain("CN=Microsoft Corporation UEFI CA 2011");
    const grub = await fetchFrom(peer, `tftp://${MASTER}/grubx64.efi`);
    expect(await sha256(grub)).toBe(await sha256(DEBIAN_GRUB_NET));
    expect(await signers(grub)).toContain("CN=Debian Secure Boot CA");
    const chain = await fetchFrom(peer, `tftp://${MASTER}/grub/grub.cfg`);
    expect(await readFile(chain, "utf8")).toBe(renderGrubChainConfig({ tftpServer: MASTER, waitSeconds: GRUB_WAIT_SECONDS }));
  });

  it("writes the shim peer's own GRUB file when dnsmasq answers it; over TFTP it carries a token for that MAC and names kernel and initrd, which TFTP serves", async () => {
    const peer = peers.get("efi7")!;
    await answerOf("efi7", "efi7");
    await waitUntil({ what: `grub/nodes/${peer.mac}.cfg`, timeoutMs: 5_000, everyMs: 50 }, () =>
      readFile(join(tftpRoot, grubNodeFile(peer.mac)), "utf8").catch(() => undefined),
    );
    const text = await readFile(await fetchFrom(peer, `tftp://${MASTER}/${grubNodeFile(peer.mac)}`), "utf8");
    const token = /'recon\.token=([^']+)'/.exec(text)?.[1];
    expect(token, text).toBeDefined();
    expect(verifyToken(secret, peer.mac, token!)).toBe(true);
    expect(text).toContain(`linux (tftp,${MASTER})/install/${LABEL}/linux `);
    expect(text).toContain(`initrd (tftp,${MASTER})/install/${LABEL}/initrd;`);
    expect(text).not.toContain("initrd=");
    for (const file of ["linux", "initrd"]) {
      const got = await fetchFrom(peer, `tftp://${MASTER}/install/${LABEL}/${file}`);
      expect(await sha256(got)).toBe(await sha256(join(httpRoot, "install", LABEL, file)));
    }
  });

  it("UEFI HTTP boot (arch 16, HTTPClient) gets an http:// URL with option 60 HTTPClient; the URL serves Microsoft-signed shim, and beside it the Debian-signed GRUB with http", async () => {
    const { lease, env } = await answerOf("http", "http");
    const dir = `http://${MASTER}:${HTTP_PORT}/tftp/uefi-http`;
    expect(lease).toMatchObject({ serverId: MASTER, bootFile: `${dir}/shimx64.efi` });
    // busybox names option 60 `vendor` (as text; options it has no name for would be optNN in hex).
    expect(env.get("vendor"), [...env].join("\n")).toBe("HTTPClient");
    const peer = peers.get("http")!;
    const shim = await fetchFrom(peer, `${dir}/shimx64.efi`);
    expect(await sha256(shim)).toBe(await sha256(DEBIAN_SHIM));
    expect(await signers(shim)).toContain("CN=Microsoft Corporation UEFI CA 2011");
    // shim asks for `<dir>//grubx64.efi` (docs/lab-facts.md); the server joins the slashes as nginx does.
    const grub = await fetchFrom(peer, `${dir}//grubx64.efi`);
    expect(await sha256(grub)).toBe(await sha256(RECON_GRUB_HTTP));
    expect(await sha256(grub)).not.toBe(await sha256(DEBIAN_GRUB_NET));
    expect(await signers(grub)).toContain("CN=Debian Secure Boot CA");
    // Its http module: the request line GRUB's http.c writes (none of Debian 12's signed images holds it).
    expect((await readFile(grub)).includes("HTTP/1.1")).toBe(true);
    expect((await readFile(DEBIAN_GRUB_NET)).includes("HTTP/1.1")).toBe(false);
    // No GRUB reads a file for it by TFTP, but one is written (HTTP boot cannot be told from PXE by MAC): harmless.
  });

  it("a PXE client gets no option 60 HTTPClient", async () => {
    const { env } = await answerOf("efi7", "efi7");
    // Authoritative dnsmasq without pxe-service lines sends a PXE client no option 60 at all.
    expect(env.get("vendor"), [...env].join("\n")).toBeUndefined();
  });

  it("a host entry with firmwareFile: ipxe.efi makes its UEFI PXE (arch 7) get ipxe.efi (unsigned), and no GRUB file", async () => {
    const peer = peers.get("host")!;
    const { lease } = await answerOf("host", "efi7");
    expect(lease).toMatchObject({ serverId: MASTER, nextServer: MASTER, bootFile: "ipxe.efi" });
    const got = await fetchFrom(peer, `tftp://${MASTER}/ipxe.efi`);
    expect(await sha256(got)).toBe(await sha256(join(IPXE_DIR, "ipxe.efi")));
    expect(await signers(got)).not.toContain("CN=");
    await Promise.all(prepared);
    await expect(readFile(join(tftpRoot, grubNodeFile(peer.mac)))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("dnsmasq and the HTTP server ran throughout", () => {
    expect(events.filter((event) => event.type === "exited" || event.type === "gave-up")).toEqual([]);
    expect(events.filter((event) => event.type === "started")).toHaveLength(1);
    expect(httpExited).toBe(false);
    const sent = events.flatMap((event) => (event.type === "dnsmasq" && event.event.kind === "tftp-sent" ? [event.event.file] : []));
    expect(sent.some((file) => file.endsWith("shimx64.efi"))).toBe(true);
  });
});
