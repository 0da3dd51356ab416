/**
 * The master survives power cuts and reboots (issue #9), modelled as the real events:
 *  - a boot is a fresh PID namespace (`unshare --pid --fork --mount-proc`): PIDs start at 1 again,
 *    so a PID written to disk in the earlier "boot" names some other live process in this one;
 *  - a power cut is SIGKILL to every process of the master's network namespace at once (recon,
 *    its nginx master and workers, dnsmasq) — nothing gets to clean up; the run dir keeps its
 *    stale pid files, the data dir its lock file naming a PID of the dead namespace.
 * Three boots on one data dir with two power cuts between them: every boot reaches `master ready`
 * through its nginx front, and every upload acknowledged (201) in any earlier boot is still
 * served byte-identical. While a master runs, a second one on the same data dir — in another PID
 * namespace — is refused with exit 3 and says who holds the store. Then nginx's master alone is
 * killed with SIGKILL and recon too: the workers are left holding the port (docs/lab-facts.md), and the
 * next start ends them and is ready only when the answer comes from its own run.
 */
import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLab, runInNetns, type Lab, type SimulatedHost } from "../../src/lab/netns.js";
import { execaRunner } from "../../src/lib/run.js";
import { testMasterArgs } from "../helpers/master-process.js";
import { reconBin, repoRoot } from "../helpers/repo.js";
import { packFiles } from "../helpers/tarballs.js";

const PREFIX = `rcn-pc${process.pid % 10000}`;
const MASTER = "10.79.0.1";
const URL = `http://${MASTER}:8080`;
const MAC = "52:54:00:79:00:05";
const READY_MS = 60_000;

let work: string;
let lab: Lab | undefined;
let peer: SimulatedHost;
let peerToken = "";
const tarballs: Buffer[] = [];
/** Acknowledged uploads: id → sha256 of the bytes sent. */
const acknowledged = new Map<string, string>();

interface Boot {
  child: ResultPromise;
  log(): string;
  exited(): boolean;
}

function masterArgs(): string[] {
  return ["master", ...testMasterArgs(work, { probeTimeoutMs: 1000 })];
}

/**
 * A boot: recon master as PID 1 of a fresh PID namespace inside the lab's network namespace.
 * `sameNamespace`: a restart within one boot instead (recon killed, machine still up).
 */
function boot(options: { sameNamespace?: boolean } = {}): Boot {
  let log = "";
  let exited = false;
  const pidns = options.sameNamespace ? [] : ["unshare", "--pid", "--fork", "--mount-proc"];
  const child = execa("ip", ["netns", "exec", lab!.ns, ...pidns, reconBin, ...masterArgs()], { reject: false, all: true, cwd: repoRoot });
  child.all?.on("data", (chunk: Buffer) => (log += chunk.toString("utf8")));
  void child.then(() => (exited = true));
  return { child, log: () => log, exited: () => exited };
}

/** Bounded; fails at once when the master exited (a dead subject never passes). */
async function waitFor(master: Boot, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(master.log())) {
    if (master.exited()) throw new Error(`the master exited before ${pattern}; its log:\n${master.log().slice(-4000)}`);
    if (Date.now() > deadline) throw new Error(`${pattern} did not appear within ${timeoutMs} ms; master log:\n${master.log().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function nsPids(ns: string): Promise<number[]> {
  const result = await execa("ip", ["netns", "pids", ns], { reject: false });
  return result.stdout.split(/\s+/).filter(Boolean).map(Number);
}

/** A power cut: SIGKILL to every process of the namespace at once, then wait (bounded) until none is left. */
async function powerCut(ns: string): Promise<number> {
  const pids = await nsPids(ns);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
  const deadline = Date.now() + 10_000;
  while ((await nsPids(ns)).length > 0) {
    if (Date.now() > deadline) throw new Error(`processes left in ${ns} after SIGKILL: ${(await nsPids(ns)).join(" ")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return pids.length;
}

async function peerCurl(args: string[]) {
  return runInNetns(execaRunner, peer.ns, ["curl", "--silent", "--show-error", "--max-time", "20", ...args]);
}

async function upload(tarball: Buffer, index: number): Promise<void> {
  const file = join(work, `upload-${index}.tar.gz`);
  await writeFile(file, tarball);
  const result = await peerCurl([
    "-w",
    "\n%{http_code}",
    "-X",
    "POST",
    "-H",
    `Authorization: Bearer ${peerToken}`,
    "-H",
    "Content-Type: application/gzip",
    "--data-binary",
    `@${file}`,
    `${URL}/api/v1/nodes/${MAC}/inventory`,
  ]);
  const lines = result.stdout.trim().split("\n");
  expect(lines.at(-1), result.stdout + result.stderr).toBe("201");
  const body = JSON.parse(lines.slice(0, -1).join("\n")) as { id: string };
  acknowledged.set(body.id, createHash("sha256").update(tarball).digest("hex"));
}

/** Every acknowledged upload, fetched through the front: listed for the node and byte-identical. */
async function expectEveryAcknowledgedUpload(): Promise<void> {
  const admin = (await readFile(join(work, "data", "admin-token"), "utf8")).trim();
  const node = JSON.parse((await peerCurl(["-H", `Authorization: Bearer ${admin}`, `${URL}/api/v1/nodes/${MAC}`])).stdout) as {
    uploads: Array<{ id: string }>;
  };
  const listed = new Set(node.uploads.map((u) => u.id));
  for (const [id, sha] of acknowledged) {
    expect(listed.has(id), `upload ${id} is not listed: ${[...listed].join(",")}`).toBe(true);
    const out = join(work, `got-${id}.tar.gz`);
    const got = await peerCurl(["--fail", "-H", `Authorization: Bearer ${admin}`, "--output", out, `${URL}/nodes/${MAC.replace(/:/g, "-")}/${id}/raw.tar.gz`]);
    expect(got.exitCode, got.stderr).toBe(0);
    expect(
      createHash("sha256")
        .update(await readFile(out))
        .digest("hex"),
    ).toBe(sha);
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-power-cut-"));
  await chmod(work, 0o755);
  const httpRoot = join(work, "http");
  await mkdir(join(httpRoot, "isos"), { recursive: true });
  await mkdir(join(httpRoot, "install", "test"), { recursive: true });
  await writeFile(join(httpRoot, "isos", "test.iso"), Buffer.alloc(1024 * 1024, 7));
  await writeFile(join(httpRoot, "install", "test", "linux"), Buffer.alloc(4096, 1));
  await writeFile(join(httpRoot, "install", "test", "initrd"), Buffer.alloc(8192, 2));
  await writeFile(
    join(work, "site.yaml"),
    [
      "interface: rcnbr9",
      `address: ${MASTER}/24`,
      "dhcp:",
      "  mode: auto",
      "http:",
      "  port: 8080",
      "  server: nginx",
      "defaults:",
      "  reinventory: true",
      "",
    ].join("\n"),
  );
  lab = await createLab(execaRunner, { prefix: PREFIX, bridge: "rcnbr9" });
  peer = await lab.addHost({ name: "peer", mac: MAC, address: "10.79.0.50/24" });
  // Real agent uploads (captured from VMs; test/fixtures/inventory), one per upload, each distinct.
  const fixtures = join(repoRoot, "test/fixtures/inventory");
  const names = (await readdir(fixtures, { withFileTypes: true }))
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  expect(names.length).toBeGreaterThanOrEqual(1);
  for (let i = 0; i < 4; i++) {
    const dir = join(fixtures, names[i % names.length]!);
    const files: Record<string, Buffer> = {};
    for (const path of await readdir(dir, { recursive: true })) {
      const content = await readFile(join(dir, path)).catch(() => undefined);
      if (content !== undefined) files[path] = content;
    }
    files["agent/upload-note.txt"] = Buffer.from(`upload ${i}\n`);
    tarballs.push(await packFiles(join(work, `pack-${i}`), files));
  }
}, 60_000);

afterAll(async () => {
  try {
    if (lab) for (const ns of [lab.ns, peer?.ns].filter((ns): ns is string => Boolean(ns))) await powerCut(ns).catch(() => undefined);
  } finally {
    await lab?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  }
});

describe("power cuts and reboots on one data dir", () => {
  it("boot 1: ready through nginx; uploads acknowledged; then the power is cut", async () => {
    const master = boot();
    await waitFor(master, /msg="master ready"/, READY_MS);
    expect(master.log()).toMatch(/msg="http service listening".* server=nginx/);
    const script = await peerCurl([`${URL}/boot/${MAC.replace(/:/g, "-")}.ipxe`]);
    peerToken = /recon\.token=(\S+)/.exec(script.stdout)?.[1] ?? "";
    expect(peerToken, script.stdout).not.toBe("");
    await upload(tarballs[0]!, 0);
    await upload(tarballs[1]!, 1);
    expect(acknowledged.size).toBe(2);
    expect(await powerCut(lab!.ns)).toBeGreaterThanOrEqual(3); // recon, nginx, dnsmasq at least
    // What the next boot finds: a lock file naming a PID of a namespace that is gone.
    expect(await readFile(join(work, "data", "master.lock"), "utf8")).toMatch(/"pid":\d+/);
  });

  it("boot 2, in a fresh PID namespace: ready; the earlier uploads are there; another upload; power cut again", async () => {
    const master = boot();
    await waitFor(master, /msg="master ready"/, READY_MS);
    expect(master.log()).not.toMatch(/another recon master is using the store/);
    await expectEveryAcknowledgedUpload();
    await upload(tarballs[2]!, 2);
    expect(acknowledged.size).toBe(3);
    await powerCut(lab!.ns);
  });

  it("boot 3: ready with all three uploads; a second master on the same data dir is refused while it runs", async () => {
    const master = boot();
    await waitFor(master, /msg="master ready"/, READY_MS);
    await expectEveryAcknowledgedUpload();
    // A second master, in its own PID namespace (it cannot see the first one's PIDs): the kernel lock still refuses it.
    const second = await execa("ip", ["netns", "exec", lab!.ns, "unshare", "--pid", "--fork", "--mount-proc", reconBin, ...masterArgs()], {
      reject: false,
      all: true,
      cwd: repoRoot,
      timeout: 60_000,
    });
    expect(second.exitCode, second.all).toBe(3);
    expect(second.all).toMatch(/another recon master is using the store .*locked by process \d+/);
    expect(master.exited()).toBe(false);
    await upload(tarballs[3]!, 3);
    await expectEveryAcknowledgedUpload();
    await powerCut(lab!.ns);
  });

  it("nginx workers left by a killed nginx master and a killed recon are ended at the next start, which is ready only from its own run", async () => {
    // Within one boot (no PID namespace: its PID 1 dying would take the workers with it).
    const first = boot({ sameNamespace: true });
    await waitFor(first, /msg="master ready"/, READY_MS);
    const comm0 = async (pid: number) => (await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "")).trim();
    const nginxMasterOf = async () => {
      for (const pid of await nsPids(lab!.ns)) {
        if ((await comm0(pid)) === "nginx" && (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).includes("master process")) return pid;
      }
      return undefined;
    };
    // First, nginx's master alone dies by SIGKILL while recon runs: recon ends the orphaned
    // workers and restarts nginx, which then answers from this run again (not 502).
    const firstRun = /msg="http service listening".* run=([0-9a-f-]{36})/.exec(first.log())?.[1];
    expect(firstRun).toBeDefined();
    const killed = await nginxMasterOf();
    expect(killed).toBeDefined();
    process.kill(killed!, "SIGKILL");
    await waitFor(first, /msg="stopping nginx processes left over from an earlier run"/, 30_000);
    await waitFor(first, /msg="nginx's master process is gone; its workers still hold the port"[\s\S]*msg="nginx exited; restarting"/, 30_000);
    const deadlineAnswer = Date.now() + 20_000;
    let answer = "";
    while (!answer.toLowerCase().includes(`x-recon-run: ${firstRun}`) && Date.now() < deadlineAnswer) {
      answer = (await peerCurl(["-D", "-", "-o", "/dev/null", `${URL}/api/v1/access`])).stdout;
      if (first.exited()) throw new Error(`the master exited after nginx was killed:\n${first.log().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer.toLowerCase()).toContain(`x-recon-run: ${firstRun}`);
    const pids = await nsPids(lab!.ns);
    const comm = async (pid: number) => (await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "")).trim();
    const cmdline = async (pid: number) => (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).replace(/\0/g, " ");
    const nginxMaster: number[] = [];
    const workers: number[] = [];
    const others: number[] = [];
    for (const pid of pids) {
      if ((await comm(pid)) !== "nginx") others.push(pid);
      else if ((await cmdline(pid)).includes("master process")) nginxMaster.push(pid);
      else workers.push(pid);
    }
    expect(nginxMaster).toHaveLength(1);
    expect(workers.length).toBeGreaterThanOrEqual(1);
    // Kill recon (and everything but the nginx workers) first, so nobody restarts nginx, then nginx's master.
    for (const pid of [...others, ...nginxMaster]) process.kill(pid, "SIGKILL");
    const deadline = Date.now() + 10_000;
    while ((await Promise.all([...others, ...nginxMaster].map(comm))).some((c) => c !== "") && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const left = (await nsPids(lab!.ns)).filter((pid) => workers.includes(pid));
    expect(left.length, "nginx workers survive their master's SIGKILL").toBeGreaterThanOrEqual(1);
    // The leftover workers still hold the port and answer, but not from a live recon.
    const stale = await peerCurl(["-o", "/dev/null", "-w", "%{http_code}", `${URL}/api/v1/access`]);
    expect(stale.stdout).toBe("502");

    const master = boot({ sameNamespace: true });
    await waitFor(master, /msg="master ready"/, READY_MS);
    expect(master.log()).toMatch(/msg="stopping nginx processes left over from an earlier run"/);
    const run = /msg="http service listening".* run=([0-9a-f-]{36})/.exec(master.log())?.[1];
    expect(run).toBeDefined();
    const headers = await peerCurl(["-D", "-", "-o", "/dev/null", `${URL}/api/v1/access`]);
    expect(headers.stdout).toMatch(/^HTTP\/1\.1 200/);
    expect(headers.stdout.toLowerCase()).toContain(`x-recon-run: ${run}`);
    for (const pid of left) expect(await comm(pid)).toBe("");
    await expectEveryAcknowledgedUpload();
    await powerCut(lab!.ns);
  });
});
