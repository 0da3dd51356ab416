/**
 * The agent against a real `recon master`, both inside network namespaces this test makes (the
 * master in the lab's wire namespace, the agent in a peer namespace joined to the bridge). The
 * agent's kernel command line is the one the master's iPXE script gives that MAC (token included),
 * so the test also holds planBoot and the agent to the same contract.
 *
 * The agent runs as a host process (helpers/agent-child.ts) whose post-action runner is a
 * recorder: it records each step with what the master listed for the node at that moment. One
 * test runs the real CLI with fake systemctl/ipmitool first on PATH to show the host guard.
 */
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { list } from "tar";
import { createLab, runInNetns, type Lab, type SimulatedHost } from "../../src/lab/netns.js";
import { execaRunner } from "../../src/lib/run.js";
import { startMasterInNetns, testMasterArgs, waitForMaster, type MasterProcess } from "../helpers/master-process.js";
import { reconBin, repoRoot } from "../helpers/repo.js";

const PREFIX = `rcn-a${process.pid % 100000}`;
const MASTER = "10.79.0.1";
const URL = `http://${MASTER}:8080`;
const CHILD = join(repoRoot, "test/integration/helpers/agent-child.ts");
const mac = (n: number) => `52:54:00:79:00:${n.toString(16).padStart(2, "0")}`;

let work: string;
let lab: Lab | undefined;
let master: MasterProcess | undefined;
let masterArgs: string[];
let peer: SimulatedHost;
/** A transmitting lldpd on the lab bridge: the "switch" the peer's agent should hear. */
let lldpSwitch: ResultPromise | undefined;

async function startMaster(): Promise<void> {
  master = startMasterInNetns(lab!.ns, masterArgs);
  await waitForMaster(master, /msg="master ready"/, 30_000);
}

/**
 * Stops the master by PID with SIGTERM — it then stops its nginx front too (a SIGKILL would leave
 * that nginx behind, answering 502 and holding the port) — and SIGKILL if it has not exited in
 * 15 s.
 */
async function stopMaster(): Promise<void> {
  const child = master?.child;
  if (child?.pid === undefined || master!.exited()) return;
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(child.pid!, name);
    } catch {
      // already gone
    }
  };
  signal("SIGTERM");
  const timer = setTimeout(() => signal("SIGKILL"), 15_000);
  await child;
  clearTimeout(timer);
}

/** Gone, or a zombie waiting for a parent that is not ours to reap it. */
async function processGone(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  return stat === undefined || / Z /.test(stat.slice(stat.lastIndexOf(")")));
}

/** The kernel arguments of the master's iPXE script for `host`, as iPXE would expand them. */
async function peerCmdline(host: SimulatedHost, name: string): Promise<string> {
  const hexhyp = host.mac.replace(/:/g, "-");
  const script = await runInNetns(execaRunner, host.ns, ["curl", "--silent", "--show-error", "--max-time", "10", `${URL}/boot/${hexhyp}.ipxe`]);
  expect(script.exitCode, script.stderr).toBe(0);
  const kernel = script.stdout.split("\n").find((line) => line.startsWith("kernel "));
  expect(kernel, script.stdout).toBeDefined();
  // `kernel --name linux <url> <args…>`; iPXE expands ${mac:hexhyp} itself.
  const args = kernel!
    .split(/\s+/)
    .slice(4)
    .join(" ")
    .replace(/\$\{mac:hexhyp\}/g, hexhyp);
  const file = join(work, `${name}.cmdline`);
  await writeFile(file, `${args}\n`, { mode: 0o600 });
  return file;
}

interface AgentRun {
  child: ResultPromise;
  output(): string;
  exited(): boolean;
}

function startAgent(cmdlineFile: string, name: string, overrides: Record<string, unknown> = {}): AgentRun {
  const options = {
    lldpWaitMs: 1000,
    collectorTimeoutMs: 60_000,
    lldpSocket: join(work, `${name}.lldpd.socket`),
    workDir: work,
    maxAttempts: 20,
    totalBudgetMs: 90_000,
    initialDelayMs: 500,
    maxDelayMs: 2000,
    ...overrides,
  };
  let output = "";
  let exited = false;
  const child = execa(
    "ip",
    ["netns", "exec", peer.ns, process.execPath, "--import", "tsx", CHILD, cmdlineFile, join(work, `${name}.actions.jsonl`), JSON.stringify(options)],
    {
      reject: false,
      all: true,
      cwd: repoRoot,
    },
  );
  child.all?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  void child.then(() => {
    exited = true;
  });
  return { child, output: () => output, exited: () => exited };
}

async function waitForOutput(run: AgentRun, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(run.output())) {
    if (run.exited() || Date.now() > deadline) throw new Error(`${pattern} did not appear within ${timeoutMs} ms; agent output:\n${run.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function actions(name: string): Promise<{ at: string; argv: string[]; masterSaw: string }[]> {
  // No catch: the child creates the file at start, so a missing one means the agent never ran.
  const text = await readFile(join(work, `${name}.actions.jsonl`), "utf8");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

interface StoredManifest {
  boot_mac: string;
  collectors: { id: string; files: string[]; exit_code: number | null; timed_out: boolean; error?: string; duration_ms: number }[];
}

/** The files of a stored upload, read out of the raw.tar.gz the master keeps. */
async function storedFiles(hostMac: string, id: string): Promise<Map<string, string>> {
  const file = join(work, "data", "nodes", hostMac.replace(/:/g, "-"), "uploads", id, "raw.tar.gz");
  const files = new Map<string, string>();
  const entries: string[] = [];
  await list({
    file,
    onReadEntry: (entry) => {
      entries.push(`${entry.type} ${entry.path}`);
      let text = "";
      entry.on("data", (chunk: Buffer) => (text += chunk.toString()));
      entry.on("end", () => files.set(entry.path, text));
    },
  });
  // The contract: regular files only, manifest and log first.
  expect(entries.slice(0, 2)).toEqual(["File manifest.json", "File collector.log"]);
  expect(entries.every((e) => e.startsWith("File "))).toBe(true);
  return files;
}

async function storedManifest(hostMac: string, id: string): Promise<StoredManifest> {
  return JSON.parse((await storedFiles(hostMac, id)).get("manifest.json")!);
}

function resultOf(run: AgentRun): { ack: { id: string; entries: number; bytes: number }; attempts: number; postAction: string[] | null } {
  const line = run
    .output()
    .split("\n")
    .find((l) => l.includes(" RESULT "));
  expect(line, run.output()).toBeDefined();
  return JSON.parse(line!.slice(line!.indexOf(" RESULT ") + 8));
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-agent-netns-"));
  await chmod(work, 0o755);
  const httpRoot = join(work, "http");
  await mkdir(join(httpRoot, "isos"), { recursive: true });
  await mkdir(join(httpRoot, "install", "test"), { recursive: true });
  await writeFile(join(httpRoot, "isos", "test.iso"), Buffer.alloc(64 * 1024, 7));
  await writeFile(join(httpRoot, "install", "test", "linux"), Buffer.alloc(4096, 1));
  await writeFile(join(httpRoot, "install", "test", "initrd"), Buffer.alloc(4096, 2));
  await writeFile(join(httpRoot, "install", "test", "boot.json"), JSON.stringify({ imageKernelArgs: ["console=ttyS0,115200n8"] }));
  // DHCP off: the peer has its address already; this test is about HTTP between agent and master.
  // reinventory: the same peer is booted (and uploads) once per test.
  await writeFile(
    join(work, "site.yaml"),
    ["interface: rcnbr1", `address: ${MASTER}/24`, "dhcp:", "  mode: off", "http:", "  port: 8080", "defaults:", "  reinventory: true", ""].join("\n"),
  );
  masterArgs = testMasterArgs(work, { httpRoot: httpRoot, probeTimeoutMs: 1000 });
  lab = await createLab(execaRunner, { prefix: PREFIX, bridge: "rcnbr1" });
  peer = await lab.addHost({ name: "peer", mac: mac(1), address: "10.79.0.10/24" });
  const switchSocket = join(work, "switch.lldpd.socket");
  lldpSwitch = execa("ip", ["netns", "exec", lab.ns, "lldpd", "-d", "-u", switchSocket, "-I", "rcnbr1"], { reject: false, all: true });
  // Bounded wait for its control socket, then a name to recognise and a 1 s transmit interval.
  for (
    let i = 0;
    i < 50 &&
    !(await readFile(switchSocket).then(
      () => true,
      (e) => e.code !== "ENOENT",
    ));
    i++
  )
    await new Promise((r) => setTimeout(r, 100));
  for (const args of [
    ["configure", "system", "hostname", "recon-test-switch"],
    ["configure", "lldp", "tx-interval", "1"],
  ]) {
    const result = await runInNetns(execaRunner, lab.ns, ["lldpcli", "-u", switchSocket, ...args]);
    expect(result.exitCode, result.stderr).toBe(0);
  }
  await startMaster();
}, 60_000);

afterAll(async () => {
  try {
    if (lldpSwitch?.pid !== undefined) {
      try {
        process.kill(lldpSwitch.pid, "SIGTERM");
      } catch {
        // already gone
      }
      await lldpSwitch;
    }
    await stopMaster();
  } finally {
    await lab?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  }
});

describe("recon agent against a real recon master in a netns", () => {
  it("uploads; the master lists the upload; the post-action comes only after the 201", async () => {
    const cmdline = await peerCmdline(peer, "first");
    expect(await readFile(cmdline, "utf8")).toMatch(
      new RegExp(`BOOTIF=01-${peer.mac.replace(/:/g, "-")} .*recon\\.master=${MASTER}:8080 recon\\.token=\\S+ recon\\.post=poweroff`),
    );
    // 2.5 s: the test switch sends every second.
    const run = startAgent(cmdline, "first", { lldpWaitMs: 2500 });
    const done = await run.child;
    expect(done.exitCode, run.output()).toBe(0);
    const result = resultOf(run);
    expect(result.attempts).toBe(1);
    expect(result.postAction).toEqual(["systemctl", "poweroff"]);

    const node = JSON.parse((await runInNetns(execaRunner, peer.ns, ["curl", "--silent", "--max-time", "10", `${URL}/api/v1/nodes/${peer.mac}`])).stdout);
    expect(node.uploads.map((u: { id: string }) => u.id)).toContain(result.ack.id);
    expect(JSON.stringify(node.node)).toContain('"phase":"uploaded"');

    const recorded = await actions("first");
    expect(recorded.map((a) => a.argv)).toEqual([["systemctl", "poweroff"]]);
    // At the moment of the action the master already listed the upload.
    expect(recorded[0]!.masterSaw).toMatch(/^200 /);
    expect(recorded[0]!.masterSaw).toContain(result.ack.id);
    expect(run.output().indexOf("uploaded: the master stored")).toBeLessThan(run.output().indexOf("powering off"));

    const files = await storedFiles(peer.mac, result.ack.id);
    const manifest = JSON.parse(files.get("manifest.json")!) as StoredManifest;
    expect(manifest.boot_mac).toBe(peer.mac);
    const ids = manifest.collectors.map((c) => c.id);
    for (const id of ["lshw", "lscpu", "lsblk", "ip-link", "ip-addr", "ethtool.eth0", "lldpctl", "efi", "meminfo", "edac"]) expect(ids).toContain(id);
    // The agent's receive-only lldpd heard the test switch on the peer's eth0.
    const lldp = manifest.collectors.find((c) => c.id === "lldpctl")!;
    expect(lldp.error, JSON.stringify(lldp)).toBeUndefined();
    expect(lldp.files).toEqual(["raw/lldpctl.json"]);
    const neighbours = JSON.parse(files.get("raw/lldpctl.json")!);
    expect(Object.keys(neighbours.lldp.interface.eth0.chassis)).toEqual(["recon-test-switch"]);
    // The token reached neither the agent's output nor the master's log.
    const token = /recon\.token=(\S+)/.exec(await readFile(cmdline, "utf8"))![1]!;
    expect(run.output()).not.toContain(token);
    expect(master!.log()).not.toContain(token);
  });

  it("cuts a collector that hangs at its time limit, kills its helpers, records it, and still uploads the rest", async () => {
    const fakes = join(work, "hang-bin");
    await mkdir(fakes, { recursive: true });
    // A tool that hangs and has started a helper of its own, as a wedged lshw might.
    await writeFile(join(fakes, "lshw"), `#!/bin/sh\necho $$ > ${work}/hang.pid\nsleep 300 &\necho $! > ${work}/hang-helper.pid\necho '{"partial":'\nwait\n`, {
      mode: 0o755,
    });
    const cmdline = await peerCmdline(peer, "hang");
    const run = startAgent(cmdline, "hang", { collectorTimeoutMs: 3000, pathPrefix: fakes });
    const done = await run.child;
    expect(done.exitCode, run.output()).toBe(0);
    expect(run.output()).toMatch(/collector lshw: timed out: timed out after 3000 ms and was killed/);
    const manifest = await storedManifest(peer.mac, resultOf(run).ack.id);
    const lshw = manifest.collectors.find((c) => c.id === "lshw")!;
    expect(lshw).toMatchObject({ timed_out: true, exit_code: null, files: ["raw/lshw.json"] });
    expect(lshw.error).toMatch(/^timed out after 3000 ms and was killed/);
    expect(lshw.duration_ms).toBeGreaterThanOrEqual(3000);
    expect(lshw.duration_ms).toBeLessThan(3000 + 2000 + 3000);
    // The rest ran and were not held up.
    expect(manifest.collectors.find((c) => c.id === "lscpu")).toMatchObject({ exit_code: 0, timed_out: false });
    for (const pidFile of ["hang.pid", "hang-helper.pid"]) {
      const pid = Number(await readFile(join(work, pidFile), "utf8"));
      expect(await processGone(pid), `${pidFile} ${pid} still runs`).toBe(true);
    }
  });

  it("stops after a refusal it cannot fix (a token for another MAC): no retries, the reason on the console, exit 3, no post-action", async () => {
    const cmdline = await peerCmdline(peer, "wrong");
    const other = await readFile(cmdline, "utf8");
    // A token minted for this MAC, presented as another node.
    await writeFile(cmdline, other.replace(/BOOTIF=01-\S+/, `BOOTIF=01-${mac(2).replace(/:/g, "-")}`));
    const run = startAgent(cmdline, "wrong");
    const done = await run.child;
    // 3: recon.service's RestartPreventExitStatus, so systemd does not run it into the same refusal.
    expect(done.exitCode, run.output()).toBe(3);
    expect(run.output()).toMatch(
      /\*\*\* UPLOAD REFUSED: the master at http:\/\/10\.79\.0\.1:8080 refused the upload: HTTP 401 UNAUTHORIZED: the token is not valid for 52:54:00:79:00:02\. Not retrying\. This machine stays on \(no poweroff\)/,
    );
    expect(run.output()).not.toMatch(/upload attempt \d+ failed/);
    expect(await actions("wrong")).toEqual([]);
  });

  it("the real CLI exits 3 on a refusal (recon.service's RestartPreventExitStatus) with the reason on stdout and stderr", async () => {
    const cmdline = await peerCmdline(peer, "wrong-cli");
    await writeFile(cmdline, (await readFile(cmdline, "utf8")).replace(/BOOTIF=01-\S+/, `BOOTIF=01-${mac(2).replace(/:/g, "-")}`));
    const run = await execa(
      "ip",
      [
        "netns",
        "exec",
        peer.ns,
        reconBin,
        "agent",
        "--cmdline",
        cmdline,
        "--post",
        "stay",
        "--lldp-wait-s",
        "1",
        "--lldp-socket",
        join(work, "wrong-cli.lldpd.socket"),
      ],
      { reject: false, all: true, cwd: repoRoot },
    );
    expect(run.exitCode, run.all).toBe(3);
    expect(run.stdout).toMatch(/recon-agent: \*\*\* UPLOAD REFUSED: .*HTTP 401 UNAUTHORIZED: the token is not valid for 52:54:00:79:00:02\. Not retrying\./);
    expect(run.stderr).toMatch(/recon: error: the master at http:\/\/10\.79\.0\.1:8080 refused the upload: HTTP 401 UNAUTHORIZED/);
    expect(run.stderr).toMatch(/recon: hint: tokens are per boot and per master/);
  });

  it("the real CLI on a host (no /etc/recon/build.json) never runs poweroff, even after a 201", async () => {
    const fakes = join(work, "guard-bin");
    await mkdir(fakes, { recursive: true });
    for (const tool of ["systemctl", "ipmitool"]) {
      await writeFile(join(fakes, tool), `#!/bin/sh\necho "${tool} $*" >> ${work}/guard-called.txt\n`, { mode: 0o755 });
    }
    const cmdline = await peerCmdline(peer, "guard");
    const run = await execa(
      "ip",
      [
        "netns",
        "exec",
        peer.ns,
        "env",
        `PATH=${fakes}:${process.env.PATH}`,
        reconBin,
        "agent",
        "--cmdline",
        cmdline,
        "--lldp-wait-s",
        "1",
        "--lldp-socket",
        join(work, "guard.lldpd.socket"),
      ],
      { reject: false, all: true, cwd: repoRoot },
    );
    expect(run.exitCode, run.all).toBe(0);
    expect(run.all).toMatch(/recon-agent: uploaded: the master stored \d+ files as upload/);
    expect(run.all).toContain("not inside the recon image (no /etc/recon/build.json): would run 'systemctl poweroff', skipped");
    await expect(readFile(join(work, "guard-called.txt"), "utf8")).rejects.toThrow(/ENOENT/);
  });

  it("recon boot on a network-booted peer detects role=peer and runs the agent", async () => {
    const cmdline = await peerCmdline(peer, "boot");
    expect(await readFile(cmdline, "utf8")).toMatch(/root=live:http:\/\//);
    const run = await execa(
      "ip",
      [
        "netns",
        "exec",
        peer.ns,
        reconBin,
        "boot",
        "--cmdline",
        cmdline,
        "--post",
        "stay",
        "--lldp-wait-s",
        "1",
        "--lldp-socket",
        join(work, "boot.lldpd.socket"),
      ],
      { reject: false, all: true, cwd: repoRoot },
    );
    expect(run.exitCode, run.all).toBe(0);
    expect(run.all).toMatch(/msg="role detected" role=peer/);
    expect(run.all).toMatch(/recon-agent: uploaded: the master stored \d+ files as upload/);
    expect(run.all).toContain("recon-agent: done; staying up (recon.post=stay)");
  });

  it("retries while the master is down (stopped mid-run) and succeeds once it is back on the same store", async () => {
    const cmdline = await peerCmdline(peer, "restart");
    const run = startAgent(cmdline, "restart", { lldpWaitMs: 3000 });
    await waitForOutput(run, /hello: the master knows/, 30_000);
    await stopMaster();
    await waitForOutput(run, /upload attempt 2 failed: /, 60_000);
    expect(run.output()).toMatch(/upload attempt 1 failed: 10\.79\.0\.1:8080: ECONNREFUSED/);
    // Nothing happened while the master could not acknowledge.
    expect(await actions("restart")).toEqual([]);
    await startMaster();
    const done = await run.child;
    expect(done.exitCode, run.output()).toBe(0);
    const result = resultOf(run);
    expect(result.attempts).toBeGreaterThanOrEqual(3);
    const uploads = await readdir(join(work, "data", "nodes", peer.mac.replace(/:/g, "-"), "uploads"));
    expect(uploads).toContain(result.ack.id);
    const recorded = await actions("restart");
    expect(recorded.map((a) => a.argv)).toEqual([["systemctl", "poweroff"]]);
    expect(recorded[0]!.masterSaw).toContain(result.ack.id);
  });

  it("never runs the post-action when the master never acknowledges within the retry budget", async () => {
    const cmdline = await peerCmdline(peer, "never");
    await stopMaster();
    const started = Date.now();
    const run = startAgent(cmdline, "never", { maxAttempts: 4, totalBudgetMs: 8000, initialDelayMs: 500, maxDelayMs: 1000 });
    const done = await run.child;
    expect(done.exitCode).toBe(1);
    expect(run.output()).toMatch(/\*\*\* UPLOAD FAILING: the master at http:\/\/10\.79\.0\.1:8080 has not taken the inventory/);
    expect(run.output()).toMatch(/\*\*\* UPLOAD FAILED: the upload to http:\/\/10\.79\.0\.1:8080 failed after 4 attempt\(s\)/);
    expect(run.output()).toMatch(/The inventory stays at \S+\.tar\.gz/);
    expect(await actions("never")).toEqual([]);
    // Bounded: hello budget (3 s) + collection + upload budget (8 s), with slack for a loaded host.
    expect(Date.now() - started).toBeLessThan(60_000);
  });
});
