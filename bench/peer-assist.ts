/**
 * bench/peer-assist.ts --peers N [--size-mib 16] [--rate-mbit 50] [--timeout-s 600] [--fifo]
 * (issue #14 item 5, docs/peer-assist.md): N simulated peers, each in its own network namespace
 * (src/lab/netns.ts), and a master namespace; every link — each peer's and the master's, both
 * directions — shaped with tc to the same rate (tbf; the master's upload htb with the tracker's
 * answers and ARP in a class served first, or tbf too with --fifo: bench/peer-swarm.ts). One run
 * measures, on the same file:
 *
 * - master_only: every peer fetches the file by HTTP from a real nginx in the master's namespace,
 *   all at once, verified as it streams (bench/stream-fetch.ts); time until the last has it.
 * - assisted: the master makes the torrent and runs opentracker as recon's master does
 *   (src/master/torrent: planMasterTorrent + startMasterTorrent, web seed = the same nginx URL);
 *   each peer runs aria2c with it (src/lib/aria2c.ts), all at once, seeding bounded;
 *   time until the last says "Download complete" (each file's sha256 checked after).
 *
 * The host's neighbour-table limits are raised for the run and put back after (peer-swarm.ts
 * raiseNeighbourLimits: all namespaces share one table; the default 1024 entries isolated half of
 * a 64-peer swarm). Bytes from the master per peer come from nginx's access log ($bytes_sent per client); bytes
 * from peers are the peer's received bytes on its link minus those. Prints one JSON object.
 * Heavy: run it under `flock /tmp/recon-heavy.lock`.
 */
import { createHash, randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setMaxListeners } from "node:events";
import { createLab, type Lab, type SimulatedHost } from "../src/lab/netns.js";
import { createLogger } from "../src/lib/log.js";
import { execaRunner } from "../src/lib/run.js";
import { parseSiteConfig } from "../src/model/site-config.js";
import { planMasterTorrent, startMasterTorrent } from "../src/master/torrent/master-torrent.js";
import { pieceExponentFor } from "../src/master/torrent/mktorrent.js";
import { fetchAndVerify } from "./stream-fetch.js";
import {
  linkBytes,
  raiseNeighbourLimits,
  readNginxBytes,
  sha256File,
  shape,
  startAria2cPeer,
  startPlainNginx,
  stopPeers,
  waitForSwarm,
  type NeighbourLimits,
  type SwarmPeer,
} from "./peer-swarm.js";

const MASTER = "10.81.0.1";
const HTTP_PORT = 8080;
const LABEL = "test";

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

const peersWanted = Math.min(Math.round(arg("peers", 16)), 200);
const sizeBytes = Math.round(arg("size-mib", 16) * 1024 * 1024);
const rateMbit = arg("rate-mbit", 50);
const timeoutS = Math.min(arg("timeout-s", 600), 1800);
/** `--fifo`: the master's link a plain tbf FIFO like every peer's (the first N = 64 run), not htb with the tracker first. */
const fifo = process.argv.includes("--fifo");
/** `--webseed-conns N`: nginx serves at most N web-seed connections at once (503 beyond), `--retry-wait S`: aria2c asks a 503'd web seed again after S s. */
const webSeedConns = process.argv.includes("--webseed-conns") ? Math.round(arg("webseed-conns", 8)) : undefined;
const retryWaitS = process.argv.includes("--retry-wait") ? Math.round(arg("retry-wait", 5)) : undefined;
/** `--peer-logs DIR`: each assisted peer's aria2c log at info level in DIR/p<i>.log, kept after the run (for finding why a peer is slow). */
const peerLogDir = process.argv.includes("--peer-logs") ? process.argv[process.argv.indexOf("--peer-logs") + 1] : undefined;
const TRACKER_PORT = 6969;
const prefix = `rcn-pa${process.pid % 100000}`;
const stopAll = new AbortController();
setMaxListeners(0, stopAll.signal);
let lab: Lab | undefined;
let neighbours: NeighbourLimits | undefined;
let work = "";
let swarmDir = "";
const swarm: SwarmPeer[] = [];

function quantiles(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN);
  return { p50: at(0.5), p95: at(0.95), max: Math.round(sorted.at(-1) ?? NaN), min: Math.round(sorted[0] ?? NaN) };
}

/** CPU busy fraction of the machine between two /proc/stat reads. */
async function cpuTicks(): Promise<{ busy: number; total: number }> {
  const { readFile } = await import("node:fs/promises");
  const fields = (await readFile("/proc/stat", "utf8")).split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

async function main() {
  // One neighbour table for all namespaces: room for every peer to know every other (peer-swarm.ts).
  neighbours = await raiseNeighbourLimits(peersWanted + 1);
  work = await mkdtemp(join(tmpdir(), "recon-peer-assist-"));
  await chmod(work, 0o755);
  // The peers' copies live in RAM, as a node's image does.
  swarmDir = await mkdtemp(join("/dev/shm", "recon-peer-assist-"));
  const httpRoot = join(work, "http");
  await mkdir(join(httpRoot, "isos"), { recursive: true });
  const payload = randomBytes(sizeBytes);
  const sha256 = createHash("sha256").update(payload).digest("hex");
  await writeFile(join(httpRoot, "isos", `${LABEL}.iso`), payload);

  lab = await createLab(execaRunner, { prefix, bridge: "br0" });
  // Hosts are added in this order, so host k's bridge-side veth is rcnv<k> (src/lab/netns.ts).
  const master = await lab.addHost({ name: "mst", mac: "52:54:00:81:00:01", address: `${MASTER}/16` });
  const peers: SimulatedHost[] = [];
  for (let i = 0; i < peersWanted; i++) {
    const mac = `52:54:00:81:${(0x10 + (i >> 8)).toString(16)}:${(i & 0xff).toString(16).padStart(2, "0")}`;
    peers.push(await lab.addHost({ name: `p${i}`, mac, address: `10.81.${1 + (i >> 8)}.${(i & 0xff) + 1}/16` }));
  }
  for (const [k, host] of [master, ...peers].entries()) {
    // Its upload; the master's with the tracker's answers first unless --fifo.
    await shape(host.ns, host.dev, rateMbit, k === 0 && !fifo ? TRACKER_PORT : undefined);
    await shape(lab.ns, `rcnv${k}`, rateMbit); // its download (the bridge side sends to it)
  }

  const nginx = await startPlainNginx({
    ns: master.ns,
    dir: join(work, "nginx"),
    root: httpRoot,
    address: MASTER,
    port: HTTP_PORT,
    probeNs: peers[0]!.ns,
    probePath: `/isos/${LABEL}.iso`,
    signal: stopAll.signal,
    webSeedConnections: webSeedConns,
  });
  const url = `http://${MASTER}:${HTTP_PORT}/isos/${LABEL}.iso`;
  const cpu0 = await cpuTicks();

  // 1. Master only: every peer at once over HTTP.
  const httpStarted = performance.now();
  const fetched = await Promise.all(
    peers.map(async (peer) => {
      const result = await fetchAndVerify(peer.ns, url, { bytes: sizeBytes, sha256 }, { maxTimeS: timeoutS, signal: stopAll.signal });
      return { ...result, ms: performance.now() - httpStarted };
    }),
  );
  const masterOnlyS = (performance.now() - httpStarted) / 1000;
  const httpFailures = fetched.filter((r) => !r.ok).map((r) => r.error);
  const cpu1 = await cpuTicks();
  const afterHttp = await readNginxBytes(nginx);

  // 2. Peer-assisted: recon's master side makes the torrent and runs the tracker.
  const config = parseSiteConfig(`distribution: { peerAssist: true, trackerPort: ${TRACKER_PORT} }\n`);
  const plan = planMasterTorrent({ config, images: [{ label: LABEL, root: httpRoot }], address: MASTER, httpPort: HTTP_PORT, runDir: join(work, "run") })!;
  const logLines: string[] = [];
  const log = createLogger({}, { write: (line) => logLines.push(line) });
  const tracker = await startMasterTorrent({
    runner: execaRunner,
    plan,
    log,
    signal: stopAll.signal,
    trackerBinary: "ip",
    trackerWrap: ["netns", "exec", master.ns, "opentracker"],
    probe: async () =>
      (await execaRunner.run("ip", ["netns", "exec", master.ns, "curl", "-s", "-o", "/dev/null", "--max-time", "1", `http://${MASTER}:${plan.tracker.port}/`]))
        .exitCode === 0,
  });
  const rx0 = await Promise.all(peers.map((peer) => linkBytes(peer.ns, peer.dev)));
  const btStarted = performance.now();
  for (const [i, peer] of peers.entries()) {
    const dir = join(swarmDir, `p${i}`);
    await mkdir(dir);
    swarm.push(
      startAria2cPeer(
        peer.ns,
        // Seeding bounded as a node's is; long enough here that early finishers serve the late ones.
        {
          torrentPath: plan.torrents[0]!.torrentPath,
          dir,
          seedTimeS: timeoutS,
          seedRatio: 100,
          stallTimeoutS: 120,
          ...(retryWaitS !== undefined && { retryWaitS }),
          ...(peerLogDir !== undefined && { logFile: join(peerLogDir, `p${i}.log`) }),
        },
        stopAll.signal,
      ),
    );
  }
  await waitForSwarm(swarm, timeoutS * 1000, stopAll.signal);
  const assistedS = (performance.now() - btStarted) / 1000;
  const rx1 = await Promise.all(peers.map((peer) => linkBytes(peer.ns, peer.dev)));
  const cpu2 = await cpuTicks();
  await stopPeers(swarm);
  const afterBt = await readNginxBytes(nginx, afterHttp.offset);
  const hashes = await Promise.all(peers.map((_, i) => sha256File(join(swarmDir, `p${i}`, `${LABEL}.iso`))));

  const perPeer = peers.map((_, i) => {
    const address = `10.81.${1 + (i >> 8)}.${(i & 0xff) + 1}`;
    const fromMaster = afterBt.perClient.get(address) ?? 0;
    const received = rx1[i]!.rxBytes - rx0[i]!.rxBytes;
    return { fromMaster, fromPeers: Math.max(0, received - fromMaster), received, done: swarm[i]!.completedAt, ok: hashes[i] === sha256 };
  });
  const masterBytesAssisted = [...afterBt.perClient.values()].reduce((a, b) => a + b, 0);
  const incomplete = perPeer.filter((p) => p.done === undefined).length;
  const busy = (a: { busy: number; total: number }, b: { busy: number; total: number }) =>
    Number(((b.busy - a.busy) / Math.max(1, b.total - a.total)).toFixed(2));
  const result = {
    bench: "peer-assist",
    peers: peersWanted,
    file_bytes: sizeBytes,
    piece_bytes: 2 ** pieceExponentFor(sizeBytes),
    web_seed_connections: webSeedConns ?? "unlimited",
    retry_wait_s: retryWaitS,
    rate: `${rateMbit} Mbit/s per link, both directions, master and every peer (tc tbf; the master's upload ${fifo ? "tbf too (FIFO)" : "htb, the tracker's answers and ARP first"})`,
    transfer_bound_s: Number(((sizeBytes * 8) / (rateMbit * 1e6)).toFixed(2)),
    master_only_bound_s: Number(((peersWanted * sizeBytes * 8) / (rateMbit * 1e6)).toFixed(2)),
    master_only_s: Number(masterOnlyS.toFixed(2)),
    master_only_failures: httpFailures.length,
    master_only_first_error: httpFailures[0],
    master_only_peer_s: quantiles(fetched.map((r) => r.ms / 1000)),
    assisted_s: Number(assistedS.toFixed(2)),
    assisted_incomplete: incomplete,
    assisted_wrong_sha256: perPeer.filter((p) => p.done !== undefined && !p.ok).length,
    assisted_peer_s: quantiles(perPeer.filter((p) => p.done !== undefined).map((p) => (p.done! - btStarted) / 1000)),
    ratio: Number((masterOnlyS / assistedS).toFixed(2)),
    ideal_ratio_n_over_log2n: Number((peersWanted / Math.log2(Math.max(2, peersWanted))).toFixed(2)),
    master_bytes_master_only: [...afterHttp.perClient.values()].reduce((a, b) => a + b, 0),
    master_bytes_assisted: masterBytesAssisted,
    master_bytes_assisted_per_file: Number((masterBytesAssisted / sizeBytes).toFixed(2)),
    from_master_total_bytes: perPeer.reduce((a, p) => a + p.fromMaster, 0),
    from_peers_total_bytes: perPeer.reduce((a, p) => a + p.fromPeers, 0),
    per_peer_from_master_bytes: quantiles(perPeer.map((p) => p.fromMaster)),
    per_peer_from_peers_bytes: quantiles(perPeer.map((p) => p.fromPeers)),
    cpu_busy_master_only: busy(cpu0, cpu1),
    cpu_busy_assisted: busy(cpu1, cpu2),
    host_neighbour_limits: { before: neighbours.before, during: neighbours.during },
    first_peer_lines: process.env.PA_DEBUG ? swarm[0]?.lines.slice(-15) : undefined,
    incomplete_peers: swarm
      .filter((peer) => peer.completedAt === undefined)
      .slice(0, 3)
      .map((peer) => ({ ns: peer.ns, exited: peer.exited, last_lines: peer.lines.slice(-8) })),
    first_peer_errors: swarm.find((p) => p.errors.length > 0)?.errors.slice(0, 3),
    tracker_log: logLines.filter((l) => /tracker|torrent/.test(l)).slice(0, 4),
    unit: "s = seconds; bytes from peers = the peer link's received bytes minus nginx's bytes sent to it (includes protocol overhead)",
  };
  stopAll.abort();
  await tracker.done;
  await nginx.child;
  console.log(JSON.stringify(result, null, 2));
}

async function cleanup() {
  stopAll.abort();
  await Promise.all(swarm.map((peer) => peer.child)).catch(() => undefined);
  await lab?.destroy().catch((error: unknown) => console.error(`lab cleanup: ${String(error)}`));
  if (work) await rm(work, { recursive: true, force: true });
  if (swarmDir) await rm(swarmDir, { recursive: true, force: true });
  await neighbours?.restore();
}

process.once("SIGINT", () => stopAll.abort());
process.once("SIGTERM", () => stopAll.abort());
main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(cleanup);
