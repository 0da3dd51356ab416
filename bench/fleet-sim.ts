/**
 * Fleet simulation against the real master: N peers (default 50, `--peers N`, at most 200) at
 * once do DHCP (busybox udhcpc) → TFTP (undionly.kpxe) → their per-MAC iPXE script (token) →
 * the image over HTTP (`--size-mib`, default 16) → an inventory upload with that token, against
 * one `recon master` process (its own dnsmasq, authoritative; its nginx front; its store with
 * fsync), all inside network namespaces made for this run.
 *
 * Each peer verifies the image as it streams, in its own netns: curl's stdout is a pipe into
 * `openssl dgst -sha256` (bench/stream-fetch.ts), so nothing is written to disk, read back or
 * hashed in this process: the figure measures the master, not the harness.
 *
 * Baselines measured in the same run:
 * - single stream: one peer downloading (and hashing) the image alone, median of 3; the
 *   transfer bound is N × bytes / that throughput;
 * - parallel plain nginx: after the fleet, the same N peers download the same file at once from
 *   a plain nginx (sendfile, no recon) in the master's netns: what N streams cost on this
 *   machine without the master.
 * Memory: the peak resident set (VmHWM) of the master's node process, its nginx and its dnsmasq,
 * each separately (bench/proc-memory.ts), against the target of 150 MB for the node process.
 * Prints one JSON object.
 *
 * The master runs as the appliance runs it: the bundle (scripts/bundle.mjs) under plain node
 * (bench/bundled-master.ts); `--master tsx` runs bin/recon instead (≈47 MB more resident set).
 *
 *   flock /tmp/recon-heavy.lock npx tsx bench/fleet-sim.ts [--peers 50] [--size-mib 16] [--master bundle|tsx] [--cpu-prof DIR] [--node-arg FLAG]…
 */
import { createHash, randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import { readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execa, type ResultPromise } from "execa";
import { createLab, netnsExecArgv, runInNetns, type Lab, type SimulatedHost } from "../src/lab/netns.js";
import { curlGetArgv, leaseWithUdhcpc } from "../src/lab/simulated-peer.js";
import { execaRunner } from "../src/lib/run.js";
import { recordedPid, startMasterInNetns, testMasterArgs, waitForMaster, type MasterProcess } from "../test/helpers/master-process.js";
import { stopChild } from "../test/helpers/stop-child.js";
import { packFiles } from "../test/helpers/tarballs.js";
import { bundleRecon, startBundledMasterInNetns } from "./bundled-master.js";
import { sampleMemory, withChildren, type MemoryGroups } from "./proc-memory.js";
import { fetchAndVerify } from "./stream-fetch.js";

const here = dirname(fileURLToPath(import.meta.url));
const SCRIPT = resolve(here, "../test/integration/helpers/udhcpc-report.sh");
const MASTER = "10.78.0.1";
const HTTP_PORT = 8080;
/** The plain nginx of the parallel baseline, on the master's address in the master's netns. */
const PLAIN_PORT = 8090;
const MASTER_RSS_TARGET_MB = 150;

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

/** `--master bundle` (default: the bundle under plain node, as the appliance runs it) or `tsx` (bin/recon). */
const masterKind = process.argv.includes("--master") ? process.argv[process.argv.indexOf("--master") + 1] : "bundle";
if (masterKind !== "bundle" && masterKind !== "tsx") throw new Error("--master must be bundle or tsx");
/** `--cpu-prof DIR`: the bundled master's node writes a V8 CPU profile there when it stops. */
const cpuProfDir = process.argv.includes("--cpu-prof") ? resolve(process.argv[process.argv.indexOf("--cpu-prof") + 1] ?? ".") : undefined;
/** `--node-arg X` (repeatable): more flags for the bundled master's node, e.g. `--max-semi-space-size=4`. */
const nodeArgs = process.argv.flatMap((value, at) => (process.argv[at - 1] === "--node-arg" ? [value] : []));
const peersWanted = Math.min(arg("peers", 50), 200);
const sizeBytes = Math.round(arg("size-mib", 16) * 1024 * 1024);
const prefix = `rcn-b${process.pid % 100000}`;
const stopAll = new AbortController();
// Every peer's curl/udhcpc/openssl listens on this one signal.
setMaxListeners(0, stopAll.signal);
let lab: Lab | undefined;
let master: MasterProcess | undefined;
let plainNginx: ResultPromise | undefined;
let work = "";

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await fn();
  return [value, performance.now() - started];
}

async function inNetns(peer: SimulatedHost, argv: string[]) {
  const result = await runInNetns(execaRunner, peer.ns, argv, { signal: stopAll.signal, timeoutMs: 70_000 });
  if (result.exitCode !== 0) throw new Error(`${peer.ns}: ${argv.at(-1)}: ${result.stderr.trim()}`);
  return result;
}

function quantiles(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN);
  return { p50: at(0.5), p95: at(0.95), max: Math.round(sorted.at(-1) ?? NaN) };
}

/** The master's processes by their pid files: its node process, its nginx, its dnsmasq (each with children). */
function masterGroups(): MemoryGroups {
  const pidIn = (file: string) => {
    try {
      return recordedPid(readFileSync(file, "utf8"));
    } catch {
      return undefined;
    }
  };
  const node = pidIn(join(work, "data", "master.lock"));
  const nginx = pidIn(join(work, "run", "nginx.pid"));
  const dnsmasq = pidIn(join(work, "run", "dnsmasq.pid"));
  return {
    masterNode: node === undefined ? [] : [node],
    nginx: nginx === undefined ? [] : withChildren(nginx),
    dnsmasq: dnsmasq === undefined ? [] : withChildren(dnsmasq),
  };
}

/** A plain nginx (sendfile, no recon) serving `root` on MASTER:PLAIN_PORT inside `ns`; resolves once it answers. */
async function startPlainNginx(ns: string, root: string, probeFrom: SimulatedHost): Promise<void> {
  const dir = join(work, "plain-nginx");
  await mkdir(dir);
  await writeFile(
    join(dir, "nginx.conf"),
    [
      "daemon off;",
      "worker_processes auto;",
      `pid ${dir}/nginx.pid;`,
      "error_log stderr warn;",
      "events { worker_connections 4096; }",
      "http {",
      "  access_log off; sendfile on; tcp_nopush on; keepalive_timeout 30s;",
      `  client_body_temp_path ${dir}/b; proxy_temp_path ${dir}/p; fastcgi_temp_path ${dir}/f; uwsgi_temp_path ${dir}/u; scgi_temp_path ${dir}/s;`,
      `  server { listen ${MASTER}:${PLAIN_PORT}; root ${root}; }`,
      "}",
      "",
    ].join("\n"),
  );
  const [command, ...args] = netnsExecArgv(ns, ["nginx", "-c", join(dir, "nginx.conf"), "-p", dir]);
  plainNginx = execa(command!, args, { reject: false, all: true, cancelSignal: stopAll.signal });
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const probe = await runInNetns(execaRunner, probeFrom.ns, [
      "curl",
      "--silent",
      "--head",
      "--fail",
      "--max-time",
      "1",
      `http://${MASTER}:${PLAIN_PORT}/isos/test.iso`,
    ]);
    if (probe.exitCode === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the plain nginx of the parallel baseline did not answer within 5 s");
}

async function main() {
  work = await mkdtemp(join(tmpdir(), "recon-fleet-sim-"));
  await chmod(work, 0o755);
  const httpRoot = join(work, "http");
  await mkdir(join(httpRoot, "isos"), { recursive: true });
  await mkdir(join(httpRoot, "install", "test"), { recursive: true });
  await mkdir(join(work, "out"));
  const payload = randomBytes(sizeBytes);
  await writeFile(join(httpRoot, "isos", "test.iso"), payload);
  await writeFile(join(httpRoot, "install", "test", "boot.json"), JSON.stringify({ imageKernelArgs: [] }));
  const expected = { bytes: sizeBytes, sha256: createHash("sha256").update(payload).digest("hex") };
  // What each peer uploads: a real agent upload captured from a VM (test/fixtures/inventory).
  const fixture = resolve(here, "../test/fixtures/inventory/vm-bios-dell");
  const files: Record<string, Buffer> = {};
  for (const path of await readdir(fixture, { recursive: true })) {
    const content = await readFile(join(fixture, path)).catch(() => undefined);
    if (content !== undefined && path !== "qemu-argv.txt") files[path] = content;
  }
  const inventory = join(work, "inventory.tar.gz");
  await writeFile(inventory, await packFiles(join(work, "pack"), files));
  await writeFile(
    join(work, "site.yaml"),
    [
      "interface: rcnbr0",
      `address: ${MASTER}/24`,
      "dhcp:",
      "  mode: authoritative",
      "  pool: { start: 10.78.0.10, end: 10.78.0.250 }",
      "http:",
      `  port: ${HTTP_PORT}`,
      "",
    ].join("\n"),
  );

  const [, setupMs] = await timed(async () => {
    lab = await createLab(execaRunner, { prefix, bridge: "rcnbr0" });
  });
  const peers: SimulatedHost[] = [];
  const [, peersMs] = await timed(async () => {
    for (let n = 0; n < peersWanted; n += 1) {
      peers.push(
        await lab!.addHost({ name: `p${n}`, mac: `52:54:00:78:${(n >> 8).toString(16).padStart(2, "0")}:${(n & 255).toString(16).padStart(2, "0")}` }),
      );
    }
  });
  const masterArgs = testMasterArgs(work, { httpRoot: httpRoot });
  master =
    masterKind === "bundle"
      ? startBundledMasterInNetns(lab!.ns, await bundleRecon(join(work, "recon.mjs")), masterArgs, { dataDir: join(work, "data"), runDir: join(work, "run") }, [
          ...nodeArgs,
          ...(cpuProfDir === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", cpuProfDir]),
        ])
      : startMasterInNetns(lab!.ns, masterArgs);
  await waitForMaster(master, /msg="master ready"/, 60_000);
  const front = /msg="http service listening".* server=(\w+)/.exec(master.log())?.[1] ?? "unknown";
  const url = `http://${MASTER}:${HTTP_PORT}`;

  // Baseline: one peer alone (its lease first; three downloads, each hashed as it streams; the median).
  const solo = peers[0]!;
  const soloLease = await leaseWithUdhcpc(
    execaRunner,
    solo.ns,
    { dev: solo.dev, firmware: "bios", script: SCRIPT },
    { attempts: 3, attemptTimeoutMs: 10_000, signal: stopAll.signal },
  );
  if (!soloLease.lease) throw new Error(`baseline peer got no lease: ${soloLease.output}`);
  const soloRuns: number[] = [];
  for (let run = 0; run < 3; run += 1) {
    const [soloResult, ms] = await timed(() => fetchAndVerify(solo.ns, `${url}/isos/test.iso`, expected, { maxTimeS: 120, signal: stopAll.signal }));
    if (!soloResult.ok) throw new Error(`baseline download failed: ${soloResult.error}`);
    soloRuns.push(ms);
  }
  const soloMs = [...soloRuns].sort((a, b) => a - b)[1]!;
  const singleStreamBytesPerS = sizeBytes / (soloMs / 1000);
  const transferBoundMs = ((peersWanted * sizeBytes) / singleStreamBytesPerS) * 1000;
  // Each peer's curl may take its fair share of the bound and then some; still bounded.
  const imageMaxTimeS = Math.ceil(60 + (3 * transferBoundMs) / 1000);

  // The fleet, all at once, with the master's memory sampled every 500 ms (its RSS timeline in 5 s slices).
  const memory = sampleMemory(masterGroups, { everyMs: 500, maxMs: 60_000 + 10 * transferBoundMs, timelineEveryMs: 5000 });
  const [results, wallMs] = await timed(() =>
    Promise.all(
      peers.map(async (peer) => {
        try {
          const t0 = performance.now();
          const lease = await leaseWithUdhcpc(
            execaRunner,
            peer.ns,
            { dev: peer.dev, firmware: "bios", script: SCRIPT },
            { attempts: 4, attemptTimeoutMs: 10_000, signal: stopAll.signal },
          );
          if (!lease.lease) return { ok: false as const, error: `no lease: ${lease.output.slice(-200)}` };
          const t1 = performance.now();
          await inNetns(peer, curlGetArgv(`tftp://${lease.lease.nextServer}/${lease.lease.bootFile}`, join(work, "out", `${peer.ns}.kpxe`), 60));
          const t2 = performance.now();
          const hexhyp = peer.mac.replace(/:/g, "-");
          const script = await inNetns(peer, ["curl", "--silent", "--fail", "--max-time", "20", `${url}/boot/${hexhyp}.ipxe`]);
          const token = /recon\.token=(\S+)/.exec(script.stdout)?.[1];
          if (token === undefined) return { ok: false as const, error: "no token in the iPXE script" };
          const image = await fetchAndVerify(peer.ns, `${url}/isos/test.iso`, expected, { maxTimeS: imageMaxTimeS, signal: stopAll.signal });
          const t3 = performance.now();
          if (!image.ok) return { ok: false as const, error: `image: ${image.error}` };
          const upload = await inNetns(peer, [
            "curl",
            "--silent",
            "--max-time",
            "60",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            "-H",
            `Authorization: Bearer ${token}`,
            "-H",
            "Content-Type: application/gzip",
            "--data-binary",
            `@${inventory}`,
            `${url}/api/v1/nodes/${hexhyp}/inventory`,
          ]);
          const t4 = performance.now();
          if (upload.stdout !== "201") return { ok: false as const, error: `upload HTTP ${upload.stdout}` };
          return { ok: true as const, attempts: lease.attempts, dhcpMs: t1 - t0, tftpMs: t2 - t1, httpMs: t3 - t2, uploadMs: t4 - t3 };
        } catch (error) {
          return { ok: false as const, error: (error as Error).message.slice(0, 300) };
        }
      }),
    ),
  );
  const { groups: masterMemory, machine: machineCpu } = await memory.report();

  const ok = results.filter((r) => r.ok);
  const pick = (key: "dhcpMs" | "tftpMs" | "httpMs" | "uploadMs") => quantiles(ok.map((r) => r[key]));
  const log = master.log();
  // What the master recorded: one stored upload per peer, every node uploaded.
  const nodes = JSON.parse((await inNetns(solo, ["curl", "--silent", "--max-time", "10", `${url}/api/v1/nodes`])).stdout) as {
    nodes: { phase: string; uploads: number }[];
  };

  // Baseline 2: the same N peers (leased by now) download the same file at once from a plain nginx.
  await startPlainNginx(lab!.ns, httpRoot, solo);
  const [plainResults, plainWallMs] = await timed(() =>
    Promise.all(
      peers.map(async (peer) => {
        const [result, ms] = await timed(() =>
          fetchAndVerify(peer.ns, `http://${MASTER}:${PLAIN_PORT}/isos/test.iso`, expected, { maxTimeS: imageMaxTimeS, signal: stopAll.signal }),
        );
        return { ...result, ms };
      }),
    ),
  );
  await stopChild(plainNginx!, 10_000);
  const plainOk = plainResults.filter((r) => r.ok);

  process.stdout.write(
    `${JSON.stringify({
      bench: "fleet-sim",
      master: {
        process: masterKind === "bundle" ? "recon master (bundle, node)" : "recon master (bin/recon, tsx)",
        nodeArgs: [...nodeArgs, ...(cpuProfDir === undefined ? [] : ["--cpu-prof"])],
        httpFront: front,
      },
      peers: peersWanted,
      fileBytes: sizeBytes,
      verification: "sha256 and size of every download, hashed as it streams in the peer's netns (curl | openssl dgst)",
      succeeded: ok.length,
      failed: results
        .filter((r) => !r.ok)
        .map((r) => r.error)
        .slice(0, 5),
      masterStoredUploads: nodes.nodes.reduce((sum, node) => sum + node.uploads, 0),
      wallMs: Math.round(wallMs),
      baseline: {
        singleStreamMs: Math.round(soloMs),
        singleStreamRunsMs: soloRuns.map(Math.round),
        singleStreamMBps: Math.round(singleStreamBytesPerS / 1e6),
      },
      transferBoundMs: Math.round(transferBoundMs),
      wallOverBound: Number((wallMs / transferBoundMs).toFixed(2)),
      phases: { dhcp: pick("dhcpMs"), tftp: pick("tftpMs"), image: pick("httpMs"), upload: pick("uploadMs") },
      dhcp: { naks: (log.match(/DHCPNAK|message=NAK/g) ?? []).length, retriedPeers: ok.filter((r) => r.attempts > 1).length },
      parallelPlainNginx: {
        wallMs: Math.round(plainWallMs),
        overBound: Number((plainWallMs / transferBoundMs).toFixed(2)),
        succeeded: plainOk.length,
        perPeer: quantiles(plainOk.map((r) => r.ms)),
        failed: plainResults
          .filter((r) => !r.ok)
          .map((r) => r.error)
          .slice(0, 5),
      },
      fleetWallOverPlainNginx: Number((wallMs / plainWallMs).toFixed(2)),
      masterMemory: {
        targetMB: MASTER_RSS_TARGET_MB,
        unit: "MB = 10^6 bytes; peakMB = VmHWM (nginx: summed over its processes, shared pages counted in each)",
        ...masterMemory,
      },
      masterNodeWithinTarget: (masterMemory.masterNode?.peakMB ?? Infinity) <= MASTER_RSS_TARGET_MB,
      // CPU during the fleet: the master's processes (cpuS above) against the whole machine's.
      fleetCpu: {
        ...machineCpu,
        masterCpuS: Math.round(Object.values(masterMemory).reduce((sum, g) => sum + g.cpuS, 0) * 10) / 10,
        utilisation: Number((machineCpu.busyCpuS / (machineCpu.wallS * machineCpu.cores)).toFixed(2)),
      },
      setup: { labMs: Math.round(setupMs), peersMs: Math.round(peersMs) },
    })}\n`,
  );
}

async function cleanup() {
  stopAll.abort();
  // Aborting ends any curl/udhcpc/openssl and the plain nginx (each by its own PID, via execa);
  // the master stops with its dnsmasq and nginx (MasterProcess.stop, by PID and pid files).
  if (plainNginx) await stopChild(plainNginx, 10_000);
  await master?.stop();
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
