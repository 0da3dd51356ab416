/**
 * Fleet simulation: N peers (default 50, `--peers N`) at once do DHCP (busybox udhcpc) → TFTP
 * (undionly.kpxe) → HTTP download of a test file, against recon's dnsmasq (authoritative, run by
 * the supervisor) and a tiny Node HTTP server, all inside network namespaces made for this run.
 * Baseline measured in the same run: one peer downloading the file alone (single-stream
 * throughput); the transfer bound is N × bytes / that throughput. Prints one JSON object.
 *
 *   npx tsx bench/fleet-sim.ts [--peers 50] [--size-mib 16]
 */
import { createHash, randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createLab, netnsWrapper, runInNetns, type Lab, type SimulatedHost } from "../src/lab/netns.js";
import { curlGetArgv, leaseWithUdhcpc } from "../src/lab/simulated-peer.js";
import { createLogger } from "../src/lib/log.js";
import { execaRunner } from "../src/lib/run.js";
import { renderDnsmasqConf } from "../src/master/dhcp/render-dnsmasq.js";
import { superviseDnsmasq, type SupervisorEvent } from "../src/master/dhcp/supervisor.js";

const here = dirname(fileURLToPath(import.meta.url));
const SCRIPT = resolve(here, "../test/integration/helpers/udhcpc-report.sh");
const MASTER = "10.78.0.1";
const HTTP_PORT = 8080;

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

const peersWanted = Math.min(arg("peers", 50), 200);
const sizeBytes = Math.round(arg("size-mib", 16) * 1024 * 1024);
const prefix = `rcn-b${process.pid}`;
const stopAll = new AbortController();
// Every child (dnsmasq, HTTP server, 2 × peers curl/udhcpc) listens on this one signal.
setMaxListeners(0, stopAll.signal);
let lab: Lab | undefined;
let work = "";

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await fn();
  return [value, performance.now() - started];
}

async function fetchInto(peer: SimulatedHost, url: string, out: string): Promise<void> {
  const result = await runInNetns(execaRunner, peer.ns, curlGetArgv(url, out, 60), { signal: stopAll.signal, timeoutMs: 70_000 });
  if (result.exitCode !== 0) throw new Error(`${peer.ns}: curl ${url}: ${result.stderr.trim()}`);
}

async function main() {
  work = await mkdtemp(join(tmpdir(), "recon-fleet-sim-"));
  await chmod(work, 0o755);
  const tftpRoot = join(work, "tftp");
  const httpRoot = join(work, "http");
  await mkdir(tftpRoot);
  await mkdir(httpRoot);
  await mkdir(join(work, "out"));
  await mkdir(join(work, "hosts"));
  await copyFile("/usr/lib/ipxe/undionly.kpxe", join(tftpRoot, "undionly.kpxe"));
  await chmod(join(tftpRoot, "undionly.kpxe"), 0o644);
  const payload = randomBytes(sizeBytes);
  await writeFile(join(httpRoot, "image.bin"), payload);
  const payloadSha = createHash("sha256").update(payload).digest("hex");

  const [, setupMs] = await timed(async () => {
    lab = await createLab(execaRunner, { prefix, bridge: "rcnbr0", bridgeAddress: `${MASTER}/24` });
  });
  const peers: SimulatedHost[] = [];
  const [, peersMs] = await timed(async () => {
    for (let n = 0; n < peersWanted; n += 1) {
      peers.push(await lab!.addHost({ name: `p${n}`, mac: `52:54:00:78:${(n >> 8).toString(16).padStart(2, "0")}:${(n & 255).toString(16).padStart(2, "0")}` }));
    }
  });

  const conf = join(work, "dnsmasq.conf");
  await writeFile(conf, renderDnsmasqConf({
    mode: "authoritative", interface: "rcnbr0", address: MASTER, network: "10.78.0.0", prefix: 24,
    pool: { start: "10.78.0.10", end: "10.78.0.250" }, leaseTime: "1h", dns: { enabled: false, domain: "recon.lan" },
    httpHost: `${MASTER}:${HTTP_PORT}`, efiFirmware: "ipxe.efi", arm64Firmware: false,
    paths: { tftpRoot, leaseFile: join(work, "leases"), pidFile: join(work, "dnsmasq.pid"), hostsDir: join(work, "hosts") },
  }));
  const events: SupervisorEvent[] = [];
  const logLines: string[] = [];
  const supervisor = await superviseDnsmasq({
    runner: execaRunner, confFile: conf, signal: stopAll.signal, wrapper: netnsWrapper(lab!.ns),
    logger: createLogger({}, { write: (line) => logLines.push(line) }), onEvent: (e) => events.push(e),
  });

  // A plain Node static server for one file, inside the master namespace on the bridge address.
  let markListening: () => void = () => undefined;
  const listening = new Promise<void>((r) => (markListening = r));
  const server = runInNetns(execaRunner, lab!.ns, [process.execPath, "-e", `
    const http = require("node:http"), fs = require("node:fs");
    const file = ${JSON.stringify(join(httpRoot, "image.bin"))}, size = fs.statSync(file).size;
    http.createServer((req, res) => {
      if (req.url !== "/image.bin") { res.statusCode = 404; return res.end(); }
      res.writeHead(200, { "content-length": size, "content-type": "application/octet-stream" });
      fs.createReadStream(file).pipe(res);
    }).listen(${HTTP_PORT}, ${JSON.stringify(MASTER)}, () => console.log("listening"));
  `], { signal: stopAll.signal, onLine: (line) => line === "listening" && markListening() });
  await Promise.race([listening, server.then((r) => Promise.reject(new Error(`http server exited: ${r.stderr}`)))]);

  // Baseline: one peer alone (its lease first; the download is timed).
  const solo = peers[0]!;
  const soloLease = await leaseWithUdhcpc(execaRunner, solo.ns, { dev: solo.dev, firmware: "bios", script: SCRIPT }, { attempts: 3, attemptTimeoutMs: 10_000, signal: stopAll.signal });
  if (!soloLease.lease) throw new Error(`baseline peer got no lease: ${soloLease.output}`);
  const [, soloMs] = await timed(() => fetchInto(solo, `http://${MASTER}:${HTTP_PORT}/image.bin`, join(work, "out", "solo.bin")));
  const singleStreamBytesPerS = sizeBytes / (soloMs / 1000);

  // The fleet, all at once.
  const [results, wallMs] = await timed(() =>
    Promise.all(
      peers.map(async (peer) => {
        const t0 = performance.now();
        const lease = await leaseWithUdhcpc(execaRunner, peer.ns, { dev: peer.dev, firmware: "bios", script: SCRIPT }, { attempts: 4, attemptTimeoutMs: 10_000, signal: stopAll.signal });
        if (!lease.lease) return { ok: false as const, error: `no lease: ${lease.output.slice(-200)}` };
        const t1 = performance.now();
        const kpxe = join(work, "out", `${peer.ns}.kpxe`);
        await fetchInto(peer, `tftp://${lease.lease.nextServer}/${lease.lease.bootFile}`, kpxe);
        const t2 = performance.now();
        const image = join(work, "out", `${peer.ns}.bin`);
        await fetchInto(peer, `http://${MASTER}:${HTTP_PORT}/image.bin`, image);
        const t3 = performance.now();
        const sha = createHash("sha256").update(await readFile(image)).digest("hex");
        await rm(image);
        return { ok: sha === payloadSha, attempts: lease.attempts, dhcpMs: t1 - t0, tftpMs: t2 - t1, httpMs: t3 - t2, ...(sha !== payloadSha && { error: "checksum mismatch" }) };
      }),
    ),
  );

  const ok = results.filter((r) => r.ok);
  const pick = (key: "dhcpMs" | "tftpMs" | "httpMs") => {
    const values = ok.map((r) => ("dhcpMs" in r ? r[key] : NaN)).sort((a, b) => a - b);
    const at = (q: number) => Math.round(values[Math.min(values.length - 1, Math.floor(q * values.length))] ?? NaN);
    return { p50: at(0.5), p95: at(0.95), max: Math.round(values.at(-1) ?? NaN) };
  };
  const transferBoundMs = (peersWanted * sizeBytes) / singleStreamBytesPerS * 1000;
  const naks = events.filter((e) => e.type === "dnsmasq" && e.event.kind === "dhcp" && e.event.message === "NAK").length;
  process.stdout.write(`${JSON.stringify({
    bench: "fleet-sim",
    peers: peersWanted,
    fileBytes: sizeBytes,
    succeeded: ok.length,
    failed: results.filter((r) => !r.ok).map((r) => r.error).slice(0, 5),
    wallMs: Math.round(wallMs),
    baseline: { singleStreamMs: Math.round(soloMs), singleStreamMBps: Math.round(singleStreamBytesPerS / 1e6) },
    transferBoundMs: Math.round(transferBoundMs),
    wallOverBound: Number((wallMs / transferBoundMs).toFixed(2)),
    phases: { dhcp: pick("dhcpMs"), tftp: pick("tftpMs"), http: pick("httpMs") },
    dhcp: { naks, retriedPeers: ok.filter((r) => "attempts" in r && r.attempts > 1).length },
    setup: { labMs: Math.round(setupMs), peersMs: Math.round(peersMs) },
    dnsmasqStarts: supervisor.starts(),
  })}\n`);
}

async function cleanup() {
  stopAll.abort();
  // Aborting ends dnsmasq, the HTTP server and any curl/udhcpc (each by its own PID, via execa).
  await new Promise((r) => setTimeout(r, 300));
  await lab?.destroy().catch((error: unknown) => process.stderr.write(`cleanup: ${(error as Error).message}\n`));
  if (work) await rm(work, { recursive: true, force: true });
}

main()
  .catch((error: unknown) => {
    process.stderr.write(`fleet-sim failed: ${(error as Error).message}\n`);
    process.exitCode = 1;
  })
  .finally(() => void cleanup());
