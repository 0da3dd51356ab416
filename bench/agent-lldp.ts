/**
 * Recon's own time and the LLDP wait (#14 item 2): the agent from start to the master's
 * acknowledged upload, in a peer namespace on a lab bridge with a real `recon master` in the
 * wire namespace, twice per run: without anything transmitting LLDP on the segment (the listen
 * runs to its bound) and with the test switch (lldpd -I <bridge>, 1 s tx-interval, as in
 * test/integration/agent-lldp-wait.test.ts) transmitting. Heavy:
 *   flock /tmp/recon-heavy.lock node --import tsx bench/agent-lldp.ts [--runs 2] [--lldp-wait-s 35]
 * own_s = start → ack minus the LLDP listen (the listen runs beside the other collectors, so
 * own_s is what the "≤ 10 s plus the LLDP wait" bounds). Baseline, same run, same
 * namespace: the plan's commands one after another (agent-baseline.ts). Per-collector times of
 * the slowest say where own time goes. Prints one JSON object. Removes every namespace and
 * process it made, whatever happened.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { DEFAULT_COLLECTOR_TIMEOUT_MS } from "../src/agent/collectors.js";
import { createLab, listNetns, runInNetns, type Lab, type SimulatedHost } from "../src/lab/netns.js";
import { execaRunner } from "../src/lib/run.js";
import { startMasterInNetns, testMasterArgs, waitForMaster, type MasterProcess } from "../test/helpers/master-process.js";
import { repoRoot } from "../test/helpers/repo.js";
import { stopChild } from "../test/helpers/stop-child.js";

function flag(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && process.argv[index + 1] !== undefined ? process.argv[index + 1]! : fallback;
}
const RUNS = Math.max(1, Math.min(10, Number(flag("runs", "2"))));
const LLDP_WAIT_MS = Number(flag("lldp-wait-s", "35")) * 1000;
/** The bound on recon's own time, start to acknowledged upload, besides the LLDP wait. */
const OWN_BOUND_S = 10;

const PREFIX = `rcn-bl${process.pid % 100000}`;
const MASTER = "10.76.0.1";
const URL = `http://${MASTER}:8080`;
const CHILD = join(repoRoot, "bench/agent-lldp-child.ts");
const MAC = "52:54:00:76:00:01";

interface AgentRunResult {
  importedMs: number;
  ack: { id: string; entries: number };
  uploadBytes: number;
  stagesMs: { hello: number; workload: number; collect: number; upload: number; total: number };
  collectors: { id: string; ms: number; error?: string; listen?: { ended: string; listened_ms: number; bound_ms: number } }[];
}

const seconds = (ms: number) => Math.round(ms / 10) / 100;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

let work = "";
let lab: Lab | undefined;
let master: MasterProcess | undefined;
let lldpSwitch: ResultPromise | undefined;

/** Kills, by PID, what is still running in this bench's peer namespaces (an lldpd a killed child left). */
async function killLeftInPeers(): Promise<void> {
  for (const ns of (await listNetns(execaRunner)).filter((name) => name.startsWith(PREFIX) && name !== lab?.ns)) {
    const pids = (await execaRunner.run("ip", ["netns", "pids", ns])).stdout.split(/\s+/).map(Number);
    for (const pid of pids.filter((n) => n > 0)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
  }
}

/** The kernel arguments of the master's iPXE script for the peer (a fresh token each time), in a file. */
async function peerCmdline(peer: SimulatedHost, name: string): Promise<string> {
  const hexhyp = peer.mac.replace(/:/g, "-");
  const script = await runInNetns(execaRunner, peer.ns, ["curl", "--silent", "--show-error", "--max-time", "10", `${URL}/boot/${hexhyp}.ipxe`]);
  const kernel = script.stdout.split("\n").find((line) => line.startsWith("kernel "));
  if (script.exitCode !== 0 || kernel === undefined) throw new Error(`no kernel line from the master's iPXE script: ${script.stderr}${script.stdout}`);
  const file = join(work, `${name}.cmdline`);
  await writeFile(
    file,
    `${kernel
      .split(/\s+/)
      .slice(4)
      .join(" ")
      .replace(/\$\{mac:hexhyp\}/g, hexhyp)}\n`,
    { mode: 0o600 },
  );
  return file;
}

/** The child in the peer's namespace, bounded; its RESULT line. */
async function runChild<T>(peer: SimulatedHost, args: string[], timeoutMs: number): Promise<{ result: T; wallMs: number }> {
  const started = performance.now();
  const run = await execa("ip", ["netns", "exec", peer.ns, process.execPath, "--import", "tsx", CHILD, ...args], {
    reject: false,
    all: true,
    cwd: repoRoot,
    timeout: timeoutMs,
  });
  const wallMs = performance.now() - started;
  const line = run.stdout.split("\n").find((l) => l.startsWith("RESULT "));
  if (run.exitCode !== 0 || line === undefined) throw new Error(`bench child ${args[0]} failed (exit ${run.exitCode}):\n${(run.all ?? "").slice(-3000)}`);
  return { result: JSON.parse(line.slice("RESULT ".length)) as T, wallMs };
}

async function startSwitch(): Promise<void> {
  const socket = join(work, "switch.lldpd.socket");
  await rm(socket, { force: true });
  lldpSwitch = execa("ip", ["netns", "exec", lab!.ns, "lldpd", "-d", "-u", socket, "-I", "rcnbr1"], { reject: false, all: true });
  for (
    let i = 0;
    i < 50 &&
    !(await readFile(socket).then(
      () => true,
      (e: NodeJS.ErrnoException) => e.code !== "ENOENT",
    ));
    i++
  ) {
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const args of [
    ["configure", "system", "hostname", "recon-bench-switch"],
    ["configure", "lldp", "tx-interval", "1"],
  ]) {
    const result = await runInNetns(execaRunner, lab!.ns, ["lldpcli", "-u", socket, ...args]);
    if (result.exitCode !== 0) throw new Error(`lldpcli ${args.join(" ")}: ${result.stderr}`);
  }
}

async function stopSwitch(): Promise<void> {
  if (lldpSwitch !== undefined) await stopChild(lldpSwitch);
  lldpSwitch = undefined;
}

/** One condition's figures from a run. */
function figures(run: AgentRunResult, wallMs: number) {
  const lldp = run.collectors.find((c) => c.listen !== undefined);
  const waitMs = lldp?.listen?.listened_ms ?? 0;
  const others = run.collectors.filter((c) => c.listen === undefined);
  return {
    own_s: seconds(run.stagesMs.total - waitMs),
    lldp_wait_s: seconds(waitMs),
    lldp_ended: lldp?.listen?.ended ?? "no LLDP collector",
    bound_s: seconds(lldp?.listen?.bound_ms ?? 0),
    start_to_ack_s: seconds(run.stagesMs.total),
    stages_s: Object.fromEntries(Object.entries(run.stagesMs).map(([k, v]) => [k, seconds(v)])),
    /** The slowest collector besides the listen: the collection's floor once the listen ends early. */
    slowest_collectors_s: others
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 5)
      .map((c) => ({ id: c.id, s: seconds(c.ms) })),
    collector_errors: others.filter((c) => c.error !== undefined).map((c) => `${c.id}: ${c.error}`),
    upload_bytes: run.uploadBytes,
    /** node + tsx loading the modules before the agent's first line (the image runs a bundle instead); not in own_s. */
    process_start_s: seconds(run.importedMs),
    own_with_process_start_s: seconds(run.stagesMs.total - waitMs + run.importedMs),
    child_wall_s: seconds(wallMs),
  };
}

type Figures = ReturnType<typeof figures>;

function summary(runs: Figures[]) {
  return {
    own_s: { median: median(runs.map((r) => r.own_s)), all: runs.map((r) => r.own_s) },
    lldp_wait_s: { median: median(runs.map((r) => r.lldp_wait_s)), all: runs.map((r) => r.lldp_wait_s) },
    lldp_ended: runs.map((r) => r.lldp_ended),
    bound_s: runs[0]!.bound_s,
    start_to_ack_s: { median: median(runs.map((r) => r.start_to_ack_s)) },
    own_within_bound: runs.every((r) => r.own_s <= OWN_BOUND_S),
    runs,
  };
}

try {
  work = await mkdtemp(join(tmpdir(), "recon-bench-agent-lldp-"));
  await chmod(work, 0o755); // lldpd drops privileges; its control sockets live here
  const httpRoot = join(work, "http");
  await mkdir(join(httpRoot, "isos"), { recursive: true });
  await mkdir(join(httpRoot, "install", "test"), { recursive: true });
  await writeFile(join(httpRoot, "isos", "test.iso"), Buffer.alloc(64 * 1024, 7));
  await writeFile(join(httpRoot, "install", "test", "linux"), Buffer.alloc(4096, 1));
  await writeFile(join(httpRoot, "install", "test", "initrd"), Buffer.alloc(4096, 2));
  await writeFile(join(httpRoot, "install", "test", "boot.json"), JSON.stringify({ imageKernelArgs: [] }));
  await writeFile(
    join(work, "site.yaml"),
    ["interface: rcnbr1", `address: ${MASTER}/24`, "dhcp:", "  mode: off", "http:", "  port: 8080", "defaults:", "  reinventory: true", ""].join("\n"),
  );
  lab = await createLab(execaRunner, { prefix: PREFIX, bridge: "rcnbr1" });
  const peer = await lab.addHost({ name: "peer", mac: MAC, address: "10.76.0.10/24" });
  master = startMasterInNetns(lab.ns, testMasterArgs(work, { httpRoot, probeTimeoutMs: 1000 }));
  await waitForMaster(master, /msg="master ready"/, 30_000);

  const options = (name: string) =>
    JSON.stringify({
      lldpWaitMs: LLDP_WAIT_MS,
      collectorTimeoutMs: DEFAULT_COLLECTOR_TIMEOUT_MS,
      lldpSocket: join(work, `${name}.lldpd.socket`),
      workDir: work,
    });
  const bound = LLDP_WAIT_MS + DEFAULT_COLLECTOR_TIMEOUT_MS + 60_000;
  const without: Figures[] = [];
  const withSwitch: Figures[] = [];
  const baselineMs: number[] = [];
  // Warm-up (page cache, tsx's compile cache): the baseline once, not counted.
  await runChild(peer, ["sequential", options("warm")], 300_000);
  for (let run = 0; run < RUNS; run += 1) {
    await stopSwitch();
    const alone = await runChild<AgentRunResult>(peer, ["agent", await peerCmdline(peer, `alone-${run}`), options(`alone-${run}`)], bound);
    without.push(figures(alone.result, alone.wallMs));
    await startSwitch();
    const heard = await runChild<AgentRunResult>(peer, ["agent", await peerCmdline(peer, `heard-${run}`), options(`heard-${run}`)], bound);
    withSwitch.push(figures(heard.result, heard.wallMs));
    await stopSwitch();
    baselineMs.push((await runChild<{ sequentialMs: number }>(peer, ["sequential", options(`seq-${run}`)], 300_000)).result.sequentialMs);
  }
  const withSummary = summary(withSwitch);
  const withoutSummary = summary(without);
  console.log(
    JSON.stringify({
      bench: "agent-lldp",
      runs: RUNS,
      loadAverage1m: loadavg()[0],
      own_bound_s: OWN_BOUND_S,
      with_switch: withSummary,
      without_switch: withoutSummary,
      baseline_sequential_collect_s: { median: seconds(median(baselineMs)), all: baselineMs.map(seconds) },
      own_within_bound: withSummary.own_within_bound && withoutSummary.own_within_bound,
    }),
  );
} finally {
  await stopSwitch().catch(() => undefined);
  await killLeftInPeers().catch(() => undefined);
  await master?.stop().catch(() => undefined);
  await lab?.destroy();
  const left = (await listNetns(execaRunner)).filter((ns) => ns.startsWith(PREFIX));
  if (work) await rm(work, { recursive: true, force: true });
  if (left.length > 0) {
    console.error(`namespaces left behind: ${left.join(" ")}`);
    process.exitCode = 1;
  }
}
