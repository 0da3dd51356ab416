/**
 * Fleet simulation against the real master: N peers (default 50, `--peers N`) at once do DHCP
 * (busybox udhcpc) → TFTP (undionly.kpxe) → their per-MAC iPXE script (token) → the image over
 * HTTP (`--size-mib`, default 16) → an inventory upload with that token, against one `recon
 * master` process (its own dnsmasq, authoritative; its nginx front; its store with fsync), all
 * inside network namespaces made for this run. Baseline measured in the same run: one peer
 * downloading the image alone (single-stream throughput); the transfer bound is
 * N × bytes / that throughput. Prints one JSON object.
 *
 *   npx tsx bench/fleet-sim.ts [--peers 50] [--size-mib 16]
 */
import { createHash, randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createLab, runInNetns, type Lab, type SimulatedHost } from "../src/lab/netns.js";
import { curlGetArgv, leaseWithUdhcpc } from "../src/lab/simulated-peer.js";
import { execaRunner } from "../src/lib/run.js";
import { startMasterInNetns, testMasterArgs, waitForMaster, type MasterProcess } from "../test/helpers/master-process.js";
import { packFiles } from "../test/helpers/tarballs.js";

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
const prefix = `rcn-b${process.pid % 100000}`;
const stopAll = new AbortController();
// Every peer's curl/udhcpc listens on this one signal.
setMaxListeners(0, stopAll.signal);
let lab: Lab | undefined;
let master: MasterProcess | undefined;
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

async function fetchInto(peer: SimulatedHost, url: string, out: string): Promise<void> {
  await inNetns(peer, curlGetArgv(url, out, 60));
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
  const payloadSha = createHash("sha256").update(payload).digest("hex");
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
  master = startMasterInNetns(lab!.ns, testMasterArgs(work, { httpRoot: httpRoot }));
  await waitForMaster(master, /msg="master ready"/, 60_000);
  const front = /msg="http service listening".* server=(\w+)/.exec(master.log())?.[1] ?? "unknown";
  const url = `http://${MASTER}:${HTTP_PORT}`;

  // Baseline: one peer alone (its lease first; the download is timed).
  const solo = peers[0]!;
  const soloLease = await leaseWithUdhcpc(
    execaRunner,
    solo.ns,
    { dev: solo.dev, firmware: "bios", script: SCRIPT },
    { attempts: 3, attemptTimeoutMs: 10_000, signal: stopAll.signal },
  );
  if (!soloLease.lease) throw new Error(`baseline peer got no lease: ${soloLease.output}`);
  const [, soloMs] = await timed(() => fetchInto(solo, `${url}/isos/test.iso`, join(work, "out", "solo.bin")));
  await rm(join(work, "out", "solo.bin"));
  const singleStreamBytesPerS = sizeBytes / (soloMs / 1000);

  // The fleet, all at once.
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
          await fetchInto(peer, `tftp://${lease.lease.nextServer}/${lease.lease.bootFile}`, join(work, "out", `${peer.ns}.kpxe`));
          const t2 = performance.now();
          const hexhyp = peer.mac.replace(/:/g, "-");
          const script = await inNetns(peer, ["curl", "--silent", "--fail", "--max-time", "20", `${url}/boot/${hexhyp}.ipxe`]);
          const token = /recon\.token=(\S+)/.exec(script.stdout)?.[1];
          if (token === undefined) return { ok: false as const, error: "no token in the iPXE script" };
          const image = join(work, "out", `${peer.ns}.bin`);
          await fetchInto(peer, `${url}/isos/test.iso`, image);
          const t3 = performance.now();
          const sha = createHash("sha256")
            .update(await readFile(image))
            .digest("hex");
          await rm(image);
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
          const ok = sha === payloadSha && upload.stdout === "201";
          return {
            ok,
            attempts: lease.attempts,
            dhcpMs: t1 - t0,
            tftpMs: t2 - t1,
            httpMs: t3 - t2,
            uploadMs: t4 - t3,
            ...(!ok && { error: sha !== payloadSha ? "checksum mismatch" : `upload HTTP ${upload.stdout}` }),
          };
        } catch (error) {
          return { ok: false as const, error: (error as Error).message.slice(0, 300) };
        }
      }),
    ),
  );

  const ok = results.filter((r) => r.ok);
  const pick = (key: "dhcpMs" | "tftpMs" | "httpMs" | "uploadMs") => {
    const values = ok.map((r) => ("dhcpMs" in r ? r[key] : NaN)).sort((a, b) => a - b);
    const at = (q: number) => Math.round(values[Math.min(values.length - 1, Math.floor(q * values.length))] ?? NaN);
    return { p50: at(0.5), p95: at(0.95), max: Math.round(values.at(-1) ?? NaN) };
  };
  const transferBoundMs = ((peersWanted * sizeBytes) / singleStreamBytesPerS) * 1000;
  const log = master.log();
  // What the master recorded: one stored upload per peer, every node uploaded.
  const nodes = JSON.parse((await inNetns(solo, ["curl", "--silent", "--max-time", "10", `${url}/api/v1/nodes`])).stdout) as {
    nodes: { phase: string; uploads: number }[];
  };
  process.stdout.write(
    `${JSON.stringify({
      bench: "fleet-sim",
      master: { process: "recon master", httpFront: front },
      peers: peersWanted,
      fileBytes: sizeBytes,
      succeeded: ok.length,
      failed: results
        .filter((r) => !r.ok)
        .map((r) => r.error)
        .slice(0, 5),
      masterStoredUploads: nodes.nodes.reduce((sum, node) => sum + node.uploads, 0),
      wallMs: Math.round(wallMs),
      baseline: { singleStreamMs: Math.round(soloMs), singleStreamMBps: Math.round(singleStreamBytesPerS / 1e6) },
      transferBoundMs: Math.round(transferBoundMs),
      wallOverBound: Number((wallMs / transferBoundMs).toFixed(2)),
      phases: { dhcp: pick("dhcpMs"), tftp: pick("tftpMs"), image: pick("httpMs"), upload: pick("uploadMs") },
      dhcp: { naks: (log.match(/DHCPNAK|message=NAK/g) ?? []).length, retriedPeers: ok.filter((r) => "attempts" in r && r.attempts > 1).length },
      setup: { labMs: Math.round(setupMs), peersMs: Math.round(peersMs) },
    })}\n`,
  );
}

async function cleanup() {
  stopAll.abort();
  // Aborting ends any curl/udhcpc (each by its own PID, via execa); the master stops with its
  // dnsmasq and nginx (MasterProcess.stop, by PID and pid files).
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
