/**
 * Peer assist wired into the real master (issue #14 item 5, docs/peer-assist.md): a `recon master`
 * in a network namespace made for this run (DHCP off, nginx in front) with
 * `distribution.peerAssist: true` makes each image's torrent with mktorrent after it is ready, runs
 * opentracker on its boot address, and serves the torrent as /torrent/<label>.torrent through the
 * same front as the ISO (nginx proxies it to recon). Two peers, each in its own namespace, fetch the
 * torrent from the master and the image with aria2c (as the initrd will): both get the right sha256,
 * from the master's web seed and each other. The torrent route serves nothing else (the tracker's
 * chroot beside the torrents stays private). The master's stop ends the tracker.
 */
import { createHash, randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLab, killNetnsProcesses, netnsPids, runInNetns, type Lab, type SimulatedHost } from "../../src/lab/netns.js";
import { execaRunner } from "../../src/lib/run.js";
import { linkBytes, sha256File, startAria2cPeer, stopPeers, waitForSwarm, type SwarmPeer } from "../../bench/peer-swarm.js";
import { copyLabel, findTorrentCopy, startSeeding, type SeedOutcome } from "../../src/agent/seed.js";
import type { CommandRunner } from "../../src/lib/run.js";
import { repoRoot } from "../helpers/repo.js";
import { startMasterInNetns, testMasterArgs, waitForMaster, type MasterProcess } from "../helpers/master-process.js";

const PREFIX = `rcn-mpa${process.pid % 10000}`;
const BRIDGE = "rcnbrmpa";
const MASTER = "10.128.0.1";
const URL = `http://${MASTER}:8080`;
const LABEL = "test";
const SIZE = 3 * 1024 * 1024;

let work: string;
let lab: Lab | undefined;
let master: MasterProcess | undefined;
let iso: Buffer;
const peers: SimulatedHost[] = [];
const stop = new AbortController();
const running: SwarmPeer[] = [];

async function peerCurl(peer: SimulatedHost, url: string, extra: string[] = []) {
  return runInNetns(execaRunner, peer.ns, [
    "curl",
    "--silent",
    "--show-error",
    "--max-time",
    "10",
    "--write-out",
    "\n%{http_code} %{content_type}",
    ...extra,
    url,
  ]);
}

const macDir = (peer: SimulatedHost) => peer.mac.replaceAll(":", "-");
const tokens: string[] = [];

/** As a node boots: its boot script (the master learns its IP → MAC, a new boot cycle) and the token in it. */
async function bootScriptToken(peer: SimulatedHost): Promise<string> {
  const script = await peerCurl(peer, `${URL}/boot/${macDir(peer)}.ipxe`);
  const token = / recon\.token=(\S+)/.exec(script.stdout)?.[1];
  expect(token, script.stdout).toBeDefined();
  return token!;
}

/** The agent's hello, as the node's agent sends it once its root is up. */
async function hello(peer: SimulatedHost, token: string): Promise<void> {
  const said = await peerCurl(peer, `${URL}/api/v1/nodes/${macDir(peer)}/hello`, ["-X", "POST", "-H", `Authorization: Bearer ${token}`]);
  expect(said.stdout.trim()).toMatch(/^204\b/);
}

/** What the master recorded of how the node's image came (GET /api/v1/nodes/<mac> image_delivery). */
async function delivery(peer: SimulatedHost): Promise<{ via: string; from_master_bytes: number; from_peers_bytes: number | null; iso_bytes: number }> {
  const got = await peerCurl(peer, `${URL}/api/v1/nodes/${macDir(peer)}`);
  return JSON.parse(got.stdout.slice(0, got.stdout.lastIndexOf("\n"))).image_delivery;
}

/** The pids of processes named `name` in the master's namespace. */
async function processesNamed(name: string): Promise<number[]> {
  const found: number[] = [];
  for (const pid of await netnsPids(execaRunner, lab!.ns)) {
    if ((await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "")).trim() === name) found.push(pid);
  }
  return found;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-master-peer-assist-"));
  await chmod(work, 0o755);
  iso = randomBytes(SIZE);
  await mkdir(join(work, "http", "isos"), { recursive: true });
  await mkdir(join(work, "http", "install", LABEL), { recursive: true });
  await writeFile(join(work, "http", "isos", `${LABEL}.iso`), iso);
  await writeFile(join(work, "http", "install", LABEL, "linux"), Buffer.alloc(4096, 2));
  await writeFile(join(work, "http", "install", LABEL, "initrd"), Buffer.alloc(8192, 3));
  await writeFile(
    join(work, "http", "install", LABEL, "boot.json"),
    JSON.stringify({ label: LABEL, arch: "x86_64", volumeId: "RECON", imageKernelArgs: ["console=ttyS0,115200n8"] }),
  );
  await writeFile(
    join(work, "site.yaml"),
    [
      `interface: ${BRIDGE}`,
      `address: ${MASTER}/24`,
      "dhcp: { mode: off }",
      "http: { port: 8080, server: nginx }",
      "distribution: { peerAssist: true, seedTimeS: 30 }",
      "",
    ].join("\n"),
  );
  lab = await createLab(execaRunner, { prefix: PREFIX, bridge: BRIDGE });
  peers.push(await lab.addHost({ name: "p1", mac: "52:54:00:28:00:01", address: "10.128.0.11/24" }));
  peers.push(await lab.addHost({ name: "p2", mac: "52:54:00:28:00:02", address: "10.128.0.12/24" }));
  master = startMasterInNetns(lab.ns, testMasterArgs(work, { probeTimeoutMs: 1000 }));
  await waitForMaster(master, /msg="master ready"/, 30_000);
  await waitForMaster(master, /msg="peer assist serving"/, 30_000);
}, 90_000);

afterAll(async () => {
  try {
    await stopPeers(running);
    stop.abort();
    await master?.stop();
  } finally {
    if (lab) await killNetnsProcesses(execaRunner, [lab.ns, ...peers.map((peer) => peer.ns)]);
    await lab?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  }
}, 30_000);

describe("the master serves peer assist (real mktorrent, opentracker, nginx front, aria2c peers)", () => {
  it("makes the image's torrent after it is ready and runs the tracker on its boot address", () => {
    const log = master!.log();
    expect(log.indexOf('msg="master ready"')).toBeLessThan(log.indexOf('msg="torrent made"'));
    expect(log).toMatch(new RegExp(`level=info component=torrent msg="torrent made" image=${LABEL} info_hash=[0-9a-f]{40} bytes=${SIZE} `));
    expect(log).toMatch(new RegExp(`component=torrent msg="tracker serving" address=${MASTER.replaceAll(".", "\\.")} port=6969 torrents=1`));
    expect(log).toMatch(/msg="peer assist serving" torrents=\/torrent\/test\.torrent tracker=http:\/\/10\.128\.0\.1:6969\/announce nodes="root http nodes/);
    expect(log).not.toMatch(/level=error/);
  });

  it("serves /torrent/<label>.torrent through the nginx front, and nothing else under /torrent", async () => {
    const got = await peerCurl(peers[0]!, `${URL}/torrent/${LABEL}.torrent`, ["--output", join(work, "p1.torrent")]);
    expect(got.stdout.trim(), got.stderr).toBe("200 application/x-bittorrent");
    const shown = await execaRunner.run("aria2c", ["--show-files", join(work, "p1.torrent")]);
    expect(shown.stdout).toContain(`${MASTER}:6969/announce`);
    expect(shown.stdout).toMatch(new RegExp(`URL List:\\s+http://${MASTER.replaceAll(".", "\\.")}:8080/isos/${LABEL}\\.iso`));
    for (const path of ["/torrent/nope.torrent", "/torrent/tracker", "/torrent/tracker/whitelist", "/torrent/..%2Ftorrent%2Ftest.torrent"]) {
      const refused = await peerCurl(peers[0]!, `${URL}${path}`, ["--output", "/dev/null"]);
      expect(refused.stdout.trim(), path).toMatch(/^(404|400) /);
    }
  });

  it("two peers fetch the image by torrent (the master's tracker and web seed, and each other): right sha256; each node records what it got from peers", async () => {
    for (const [i, peer] of peers.entries()) {
      const dir = join(work, "peers", `p${i + 1}`);
      await mkdir(dir, { recursive: true });
      // As a node boots: its script first (the master learns its IP → MAC and hands it its token), then the torrent.
      tokens[i] = await bootScriptToken(peer);
      const got = await peerCurl(peer, `${URL}/torrent/${LABEL}.torrent`, ["--output", join(dir, `${LABEL}.torrent`)]);
      expect(got.stdout.trim()).toMatch(/^200 /);
      running.push(
        startAria2cPeer(
          peer.ns,
          { torrentPath: join(dir, `${LABEL}.torrent`), dir, seedTimeS: 5, seedRatio: 1, announceEveryS: 2, stallTimeoutS: 30 },
          stop.signal,
        ),
      );
    }
    await waitForSwarm(running, 30_000, stop.signal);
    for (const [i, swarmPeer] of running.entries()) {
      expect(swarmPeer.completedAt, swarmPeer.lines.slice(-8).join("\n")).toBeDefined();
      const copy = join(work, "peers", `p${i + 1}`, `${LABEL}.iso`);
      expect(await sha256File(copy)).toBe(createHash("sha256").update(iso).digest("hex"));
    }
    // What the master recorded (GET /api/v1/nodes/<mac> image_delivery, the UI's "from peers"): the
    // torrent served to each, the web seed's bytes from nginx's access log. Every piece came from
    // the master at least once, so the two nodes' bytes from it are at least the image once over.
    let seen: Array<{ via: string; from_master_bytes: number; from_peers_bytes: number | null; iso_bytes: number }> = [];
    for (let attempt = 0; attempt < 40; attempt += 1) {
      seen = await Promise.all(peers.map(delivery));
      if (seen.reduce((sum, d) => sum + (d?.from_master_bytes ?? 0), 0) >= SIZE) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    for (const d of seen) expect(d).toMatchObject({ via: "torrent", iso_bytes: SIZE, from_peers_bytes: null });
    expect(seen.reduce((sum, d) => sum + d.from_master_bytes, 0)).toBeGreaterThanOrEqual(SIZE);
    // Once the agent says hello (its root, the image, has arrived) the rest counts as from peers.
    for (const [i, peer] of peers.entries()) await hello(peer, tokens[i]!);
    const after = await Promise.all(peers.map(delivery));
    for (const d of after) {
      expect(d.via).toBe("torrent");
      expect(d.from_peers_bytes).toBe(Math.max(0, SIZE - d.from_master_bytes));
    }
  }, 60_000);

  it("from then on the boot decision hands a root http node the torrent and the seeding bounds", async () => {
    const script = await peerCurl(peers[0]!, `${URL}/boot/52-54-00-28-00-01.ipxe`);
    expect(script.stdout).toContain(`root=live:torrent://${MASTER}:8080/torrent/${LABEL}.torrent rd.live.ram=1 `);
    expect(script.stdout).toContain(" recon.seed=30,4 ");
  });

  // The initrd's URL handler (overlay/…/95recon-torrent/recon-torrent-lib.sh) with real aria2c and curl,
  // in a peer's namespace. Only dracut's url-lib is stood in for (not on this host): add_url_handler,
  // curl_args as url-lib sets them, and curl_fetch_url's contract (URL, output file).
  const HANDLER = join(repoRoot, "overlay/usr/lib/dracut/modules.d/95recon-torrent/recon-torrent-lib.sh");
  const URL_LIB_STANDIN = [
    "add_url_handler() { :; }",
    'curl_args="--globoff --location --retry 3 --fail --show-error"',
    'curl_fetch_url() { curl $curl_args --silent --output "$2" -- "$1"; }',
  ].join("\n");
  async function handler(peer: SimulatedHost, dir: string, console: string, outloc = "") {
    return runInNetns(
      execaRunner,
      peer.ns,
      ["sh", "-c", `${URL_LIB_STANDIN}\n. "$0"\nrecon_torrent_fetch_url "$1" "$2"`, HANDLER, `torrent://${MASTER}:8080/torrent/${LABEL}.torrent`, outloc],
      { env: { RECON_TORRENT_DIR: dir, RECON_CONSOLE: console, RECON_TORRENT_TMPFS: "0" }, timeoutMs: 60_000 },
    );
  }

  it("the initrd's torrent:// handler fetches the ISO with aria2c, prints its path and keeps it with the torrent for seeding", async () => {
    // The two peers above may still seed on the BitTorrent port the handler's aria2c takes.
    await stopPeers(running.splice(0));
    const dir = join(work, "initrd-p1");
    const console = join(work, "console-p1");
    const got = await handler(peers[0]!, dir, console);
    const said = await readFile(console, "utf8").catch(() => "");
    expect(got.exitCode, `${got.stderr}\n${said}`).toBe(0);
    expect(got.stdout).toBe(`${dir}/${LABEL}.iso\n`);
    expect(await sha256File(join(dir, `${LABEL}.iso`))).toBe(createHash("sha256").update(iso).digest("hex"));
    expect(said).toContain(
      `recon: fetching the image by BitTorrent from the other peers and the master (web seed): http://${MASTER}:8080/torrent/${LABEL}.torrent`,
    );
    expect(said).toContain(`recon: image fetched by BitTorrent and every piece checked: ${dir}/${LABEL}.iso`);
    expect(await findTorrentCopy(dir)).toEqual({ dir, torrentPath: join(dir, "image.torrent"), isoPath: join(dir, `${LABEL}.iso`) });
  }, 70_000);

  it("a second call (livenetroot's retry after a failed fetch) takes the image by HTTP from the master and says so", async () => {
    const dir = join(work, "initrd-retry");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "attempted"), "");
    const console = join(work, "console-retry");
    const out = join(work, "retry.iso");
    const got = await handler(peers[1]!, dir, console, out);
    expect(got.exitCode, got.stderr).toBe(0);
    expect(await readFile(console, "utf8")).toContain(`fetching the image by HTTP from the master: http://${MASTER}:8080/isos/${LABEL}.iso`);
    expect(await sha256File(out)).toBe(createHash("sha256").update(iso).digest("hex"));
  }, 70_000);

  it("the agent's seeder serves that RAM copy to a peer still fetching, and ends within its bound", async () => {
    const copy = (await findTorrentCopy(join(work, "initrd-p1")))!;
    const inPeer = (ns: string): CommandRunner => ({ run: (command, args, options) => runInNetns(execaRunner, ns, [command, ...args], options) });
    const lines: string[] = [];
    // The master's own sending slowed to 2 Mbit/s (its web seed: 3 MiB in 12 s): the bridge's qdisc
    // carries what the master's namespace sends, not what the bridge forwards between the peers.
    const shaped = await runInNetns(execaRunner, lab!.ns, [
      "tc",
      "qdisc",
      "replace",
      "dev",
      BRIDGE,
      "root",
      "tbf",
      "rate",
      "2mbit",
      "burst",
      "32k",
      "latency",
      "400ms",
    ]);
    expect(shaped.exitCode, shaped.stderr).toBe(0);
    const tx0 = (await linkBytes(peers[0]!.ns, peers[0]!.dev)).txBytes;
    const seeding = startSeeding(inPeer(peers[0]!.ns), copy, { timeS: 15, ratio: 100 }, (line) => lines.push(line), stop.signal);
    // A late peer: its copy from the seeder and the master's web seed. It boots again (its script,
    // then the torrent from the master, as the initrd does) so the master records this boot.
    const dir = join(work, "peers", "late");
    await mkdir(dir, { recursive: true });
    const lateToken = await bootScriptToken(peers[1]!);
    const fetched = await peerCurl(peers[1]!, `${URL}/torrent/${LABEL}.torrent`, ["--output", join(dir, `${LABEL}.torrent`)]);
    expect(fetched.stdout.trim()).toMatch(/^200 /);
    const late = startAria2cPeer(
      peers[1]!.ns,
      { torrentPath: join(dir, `${LABEL}.torrent`), dir, seedTimeS: 0, seedRatio: 0, announceEveryS: 2, stallTimeoutS: 30 },
      stop.signal,
    );
    running.push(late);
    await waitForSwarm([late], 30_000, stop.signal);
    expect(late.completedAt, late.lines.slice(-8).join("\n")).toBeDefined();
    expect(await sha256File(join(dir, `${LABEL}.iso`))).toBe(createHash("sha256").update(iso).digest("hex"));
    const outcome = await seeding;
    const sent = (await linkBytes(peers[0]!.ns, peers[0]!.dev)).txBytes - tx0;
    expect(lines[0]).toBe("seeding the image to the other peers from RAM: at most 15 s or 100 × its size sent (recon.seed)");
    expect(outcome.how, lines.join("\n")).toBe("over");
    expect(outcome.ms).toBeGreaterThan(10_000);
    expect(outcome.ms).toBeLessThan(40_000);
    // The seeder sent pieces: most of the image left peer 1's link while the late peer fetched.
    expect(sent).toBeGreaterThan(SIZE / 2);
    // And the master's record of the late peer's boot says so (the UI's "from peers"): at most what
    // the seeder's link sent (that includes BitTorrent's own bytes), more than half the image.
    await hello(peers[1]!, lateToken);
    const recorded = await delivery(peers[1]!);
    expect(recorded).toMatchObject({ via: "torrent", iso_bytes: SIZE });
    expect(recorded.from_peers_bytes, JSON.stringify(recorded)).toBeGreaterThan(SIZE / 2);
    expect(recorded.from_peers_bytes).toBeLessThanOrEqual(sent);
    expect(recorded.from_master_bytes + recorded.from_peers_bytes!).toBe(Math.max(SIZE, recorded.from_master_bytes));
    await runInNetns(execaRunner, lab!.ns, ["tc", "qdisc", "del", "dev", BRIDGE, "root"]);
  }, 70_000);

  it("a seeder asks the master whether the swarm is done: it seeds on while a node is still booting and stops once none is", async () => {
    const copy = (await findTorrentCopy(join(work, "initrd-p1")))!;
    const inPeer = (ns: string): CommandRunner => ({ run: (command, args, options) => runInNetns(execaRunner, ns, [command, ...args], options) });
    const swarm = async () => {
      const got = await peerCurl(peers[0]!, `${URL}/api/v1/swarm/${copyLabel(copy)}`);
      return JSON.parse(got.stdout.slice(0, got.stdout.lastIndexOf("\n"))) as { done: boolean; booting: number; fetching: number };
    };
    // The seeder is peer 1, whose initrd fetched the torrent above: its agent says hello before it seeds.
    await hello(peers[0]!, tokens[0]!);
    // Peer 2 boots again (its script: on its way to its image): the swarm is not done.
    const token = await bootScriptToken(peers[1]!);
    expect(await swarm()).toMatchObject({ image: LABEL, booting: 1, fetching: 0, wakePending: 0, done: false });
    const lines: string[] = [];
    let settled: SeedOutcome | undefined;
    const seeding = startSeeding(inPeer(peers[0]!.ns), copy, { timeS: 60, ratio: 100 }, (line) => lines.push(line), stop.signal, {
      // As the agent asks (askSwarmDone, unit-tested), from the seeding peer's namespace.
      isDone: async () => (await swarm()).done,
      everyMs: 1000,
      minMs: 2000,
    }).then((outcome) => (settled = outcome));
    await new Promise((resolve) => setTimeout(resolve, 5000));
    expect(settled, lines.join("\n")).toBeUndefined();
    // Its agent says hello: nobody is on the way any more, and the seeder ends long before its 60 s.
    await hello(peers[1]!, token);
    expect(await swarm()).toMatchObject({ booting: 0, done: true });
    const outcome = await seeding;
    expect(outcome.how, lines.join("\n")).toBe("swarm-done");
    expect(outcome.ms).toBeGreaterThan(5000);
    expect(outcome.ms).toBeLessThan(20_000);
    expect(lines[0]).toBe(
      "seeding the image to the other peers from RAM: at most 60 s or 100 × its size sent (recon.seed), or once the master says no node still needs it",
    );
    expect(lines.at(-1)).toMatch(/^seeding over after \d+ s: the master says no node still needs the image \(the swarm is done\)$/);
  }, 40_000);

  it("the master's stop ends the tracker", async () => {
    expect(await processesNamed("opentracker")).toHaveLength(1);
    await stopPeers(running);
    await master!.stop();
    expect(master!.log()).toMatch(/component=torrent msg="tracker stopped"/);
    expect(await processesNamed("opentracker")).toEqual([]);
  }, 30_000);
});
