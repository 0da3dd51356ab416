/**
 * The peer workload end to end on real processes: a `recon master` (in a lab netns) with
 * `<data dir>/workload/` packs and serves /post.tgz; the agent (in a peer netns) fetches it,
 * runs its collectors (a script from the workload and a program from PATH) instead of its own
 * (builtin_collectors: false keeps this test fast), and the upload the master stores carries
 * their output. A broken workload is not served and says why in the master's log.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLab, runInNetns, type Lab, type SimulatedHost } from "../../src/lab/netns.js";
import { execaRunner } from "../../src/lib/run.js";
import { readUploadFiles } from "../../src/lib/archive/tar-gz.js";
import { startMasterInNetns, testMasterArgs, waitForMaster, type MasterProcess } from "../helpers/master-process.js";
import { repoRoot } from "../helpers/repo.js";

const PREFIX = `rcn-w${process.pid % 100000}`;
const MASTER = "10.82.0.1";
const URL = `http://${MASTER}:8080`;
const CHILD = join(repoRoot, "test/integration/helpers/agent-child.ts");
const PEER_MAC = "52:54:00:82:00:01";

let work: string;
let lab: Lab | undefined;
let peer: SimulatedHost;
let master: MasterProcess | undefined;

function masterArgs(dataDir: string): string[] {
  return testMasterArgs(work, { dataDir: dataDir, runDir: join(work, `run-${dataDir.split("/").at(-1)}`), probeTimeoutMs: 1000 });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-agent-workload-"));
  await chmod(work, 0o755);
  await mkdir(join(work, "http", "install", "test"), { recursive: true });
  await writeFile(join(work, "site.yaml"), ["interface: rcnbr6", `address: ${MASTER}/24`, "dhcp:", "  mode: off", "http:", "  port: 8080", ""].join("\n"));
  const workload = join(work, "data", "workload");
  await mkdir(join(workload, "scripts"), { recursive: true });
  await writeFile(join(workload, "scripts", "hello.sh"), '#!/bin/sh\necho "hello from the workload, args: $*"\n', { mode: 0o755 });
  await writeFile(
    join(workload, "manifest.json"),
    JSON.stringify({
      format: "recon-workload/1",
      builtin_collectors: false,
      collectors: [
        { id: "hello", argv: ["./scripts/hello.sh", "one", "two"], timeout_s: 10 },
        { id: "kernel", argv: ["uname", "-r"] },
      ],
    }),
  );
  lab = await createLab(execaRunner, { prefix: PREFIX, bridge: "rcnbr6" });
  peer = await lab.addHost({ name: "peer", mac: PEER_MAC, address: "10.82.0.10/24" });
  master = startMasterInNetns(lab.ns, masterArgs(join(work, "data")));
  await waitForMaster(master, /msg="master ready"/, 30_000);
}, 60_000);

afterAll(async () => {
  try {
    await master?.stop();
  } finally {
    await lab?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  }
});

describe("the peer workload (post.tgz)", () => {
  it("the master validates and packs <data dir>/workload at start", () => {
    expect(master!.log()).toMatch(/msg="peer workload ready" collectors=hello,kernel builtin=false/);
  });

  it("the agent runs the workload's collectors and the stored upload carries their output", async () => {
    const hexhyp = PEER_MAC.replace(/:/g, "-");
    const script = await runInNetns(execaRunner, peer.ns, ["curl", "--silent", "--fail", "--max-time", "10", `${URL}/boot/${hexhyp}.ipxe`]);
    expect(script.exitCode, script.stderr).toBe(0);
    const kernel = script.stdout.split("\n").find((line) => line.startsWith("kernel "))!;
    const cmdline = join(work, "peer.cmdline");
    await writeFile(
      cmdline,
      `${kernel
        .split(/\s+/)
        .slice(4)
        .join(" ")
        .replace(/\$\{mac:hexhyp\}/g, hexhyp)}\n`,
      { mode: 0o600 },
    );
    const options = {
      lldpWaitMs: 1000,
      collectorTimeoutMs: 30_000,
      lldpSocket: join(work, "lldpd.socket"),
      workDir: work,
      maxAttempts: 5,
      totalBudgetMs: 30_000,
      initialDelayMs: 500,
      maxDelayMs: 2000,
    };
    const agent = await execa(
      "ip",
      ["netns", "exec", peer.ns, process.execPath, "--import", "tsx", CHILD, cmdline, join(work, "actions.jsonl"), JSON.stringify(options)],
      {
        reject: false,
        all: true,
        cwd: repoRoot,
        timeout: 120_000,
      },
    );
    const output = agent.all ?? "";
    expect(agent.exitCode, output).toBe(0);
    expect(output).toContain("workload from the master: 2 collector(s) only (builtin_collectors: false)");
    const result = JSON.parse(output.slice(output.indexOf(" RESULT ") + 8).split("\n")[0]!) as { ack: { id: string } };
    const files = await readUploadFiles(join(work, "data", "nodes", hexhyp, "uploads", result.ack.id, "raw.tar.gz"));
    expect(files.get("raw/workload/hello.out")?.toString()).toBe("hello from the workload, args: one two\n");
    expect(files.get("raw/workload/kernel.out")?.toString().trim()).toBe((await execa("uname", ["-r"])).stdout.trim());
    const manifest = JSON.parse(files.get("manifest.json")!.toString()) as { collectors: { id: string; exit_code: number | null }[] };
    expect(manifest.collectors.map((c) => [c.id, c.exit_code])).toEqual([
      ["workload.hello", 0],
      ["workload.kernel", 0],
    ]);
    // Nothing of recon's own collectors ran (the workload turned them off).
    expect([...files.keys()].filter((path) => path.startsWith("raw/") && !path.startsWith("raw/workload/"))).toEqual([]);
  }, 150_000);

  it("a broken workload is not served, and the log says what to fix", async () => {
    const broken = join(work, "broken");
    await mkdir(join(broken, "workload"), { recursive: true });
    await writeFile(
      join(broken, "workload", "manifest.json"),
      JSON.stringify({ format: "recon-workload/1", collectors: [{ id: "x", argv: ["./missing.sh"] }] }),
    );
    await master!.stop();
    master = startMasterInNetns(lab!.ns, masterArgs(broken));
    await waitForMaster(master, /msg="master ready"/, 30_000);
    expect(master.log()).toMatch(/PEER WORKLOAD NOT SERVED.*collectors\.x runs \.\/missing\.sh, which is not in/);
    const got = await runInNetns(execaRunner, peer.ns, ["curl", "--silent", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}", `${URL}/post.tgz`]);
    expect(got.stdout).toBe("404");
  }, 60_000);
});
