/**
 * The LLDP listen ends as soon as every linked interface has a neighbour (#14 item 2): the agent's
 * collection (helpers/lldp-collect-child.ts: buildUpload with the plan's LLDP collector) runs in a
 * peer's network namespace whose eth0 sits on a lab bridge. Without a neighbour it listens to the
 * bound; with a transmitting lldpd on the bridge (the "switch", 1 s interval) it stops within a
 * few seconds of a 30 s bound. A third run lays out an i40e port in a sysfs tree and puts a fake
 * ethtool first on PATH that prints a real i40e `--show-priv-flags` output: the firmware agent is
 * stopped before lldpd starts, put back after, and raw/fw-lldp.json is in the upload.
 *
 * Every daemon runs inside the namespaces this file makes; afterAll kills what is left in them by
 * PID (`ip netns pids`) and deletes them, whatever happened.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CollectorRecord, Manifest } from "../../src/agent/collect.js";
import { describeFwLldp, type FwLldpEntry } from "../../src/agent/fw-lldp.js";
import { normalizeRaw } from "../../src/inventory/normalize.js";
import { readRawUpload } from "../../src/inventory/read-upload.js";
import { createLab, listNetns, runInNetns, type Lab, type SimulatedHost } from "../../src/lab/netns.js";
import { execaRunner } from "../../src/lib/run.js";
import { repoRoot } from "../helpers/repo.js";
import { stopChild } from "../helpers/stop-child.js";

const PREFIX = `rcn-w${process.pid % 100000}`;
const CHILD = join(repoRoot, "test/integration/helpers/lldp-collect-child.ts");
const I40E_FLAGS = join(repoRoot, "test/fixtures/ethtool/priv-flags/i40e-eno1.txt");

let work: string;
let lab: Lab | undefined;
let peer: SimulatedHost;
let lldpSwitch: ResultPromise | undefined;

/** Kills, by PID, every process still running in a namespace this file made (lldpd left by a killed child). */
async function killLeftInNamespaces(): Promise<void> {
  for (const ns of (await listNetns(execaRunner)).filter((name) => name.startsWith(PREFIX))) {
    const pids = await execaRunner.run("ip", ["netns", "pids", ns]);
    for (const pid of pids.stdout
      .split(/\s+/)
      .map(Number)
      .filter((n) => n > 0)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
  }
}

interface Collected {
  manifest: Manifest;
  lldp: CollectorRecord;
  output: string;
  wallMs: number;
  out: string;
}

/** One collection in the peer's namespace, bounded by the wait plus a minute. */
async function collect(name: string, lldpWaitMs: number, extra: { sysRoot?: string; pathPrefix?: string } = {}): Promise<Collected> {
  const out = join(work, `${name}.tar.gz`);
  const options = { outPath: out, lldpWaitMs, lldpSocket: join(work, `${name}.lldpd.socket`), tmpDir: work, ...extra };
  const started = Date.now();
  const run = await execa("ip", ["netns", "exec", peer.ns, process.execPath, "--import", "tsx", CHILD, JSON.stringify(options)], {
    reject: false,
    all: true,
    cwd: repoRoot,
    timeout: lldpWaitMs + 60_000,
  });
  const wallMs = Date.now() - started;
  expect(run.exitCode, run.all).toBe(0);
  const line = run.stdout.split("\n").find((l) => l.startsWith("MANIFEST "));
  expect(line, run.all).toBeDefined();
  const manifest = JSON.parse(line!.slice("MANIFEST ".length)) as Manifest;
  const lldp = manifest.collectors.find((c) => c.id === "lldpctl");
  expect(lldp, run.all).toBeDefined();
  return { manifest, lldp: lldp!, output: run.all ?? "", wallMs, out };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-lldp-wait-"));
  await chmod(work, 0o755); // lldpd drops privileges; its control socket lives here
  lab = await createLab(execaRunner, { prefix: PREFIX, bridge: "rcnbr1" });
  peer = await lab.addHost({ name: "peer", mac: "52:54:00:7a:00:01", address: "10.78.0.10/24" });
}, 60_000);

afterAll(async () => {
  try {
    if (lldpSwitch !== undefined) await stopChild(lldpSwitch);
    await killLeftInNamespaces();
  } finally {
    await lab?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  }
  expect((await listNetns(execaRunner)).filter((ns) => ns.startsWith(PREFIX))).toEqual([]);
});

describe("the LLDP listen of the agent's collection", () => {
  it("with no neighbour on the segment, listens to the bound and says so", async () => {
    const { lldp, output, wallMs } = await collect("alone", 4000);
    expect(lldp.error, JSON.stringify(lldp)).toBeUndefined();
    expect(lldp.listen).toMatchObject({ ended: "bound", bound_ms: 4000, waited_for: ["eth0"], lacking: ["eth0"] });
    expect(lldp.listen!.listened_ms).toBeGreaterThanOrEqual(4000);
    expect(lldp.listen!.listened_ms).toBeLessThan(6000);
    expect(wallMs).toBeGreaterThanOrEqual(4000);
    expect(output).toContain("collecting: 1 collectors, listening for LLDP/CDP until every linked interface has a neighbour, at most 4 s");
    expect(output).toContain("recon-agent: lldp: listened the full 4.0 s; no neighbour on eth0");
  });

  it("stops an i40e port's firmware LLDP agent for the listen, puts it back after, and records it in the upload", async () => {
    // A sysfs tree with one linked i40e port; ethtool first on PATH answers as that port's driver did.
    const root = join(work, "i40e-root");
    const device = join(root, "sys/devices/pci0000:00/0000:3b:00.0");
    await mkdir(join(root, "sys/class/net/eno1"), { recursive: true });
    await mkdir(join(root, "sys/bus/pci/drivers/i40e"), { recursive: true });
    await mkdir(device, { recursive: true });
    await symlink(join(root, "sys/bus/pci/drivers/i40e"), join(device, "driver"));
    await symlink(device, join(root, "sys/class/net/eno1/device"));
    await writeFile(join(root, "sys/class/net/eno1/type"), "1\n");
    await writeFile(join(root, "sys/class/net/eno1/carrier"), "1\n");
    const bin = join(work, "fake-bin");
    const calls = join(work, "ethtool-calls.txt");
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, "ethtool"), `#!/bin/sh\necho "$*" >> '${calls}'\n[ "$1" = --show-priv-flags ] && exec cat '${I40E_FLAGS}'\nexit 0\n`, {
      mode: 0o755,
    });
    const { manifest, lldp, output, out } = await collect("i40e", 2000, { sysRoot: root, pathPrefix: bin });
    expect((await readFile(calls, "utf8")).split("\n")).toEqual([
      "--show-priv-flags eno1",
      "--set-priv-flags eno1 disable-fw-lldp on",
      "--set-priv-flags eno1 disable-fw-lldp off",
      "",
    ]);
    // The port whose firmware agent was stopped is waited for (here it has no neighbour: the bound).
    expect(lldp.listen).toMatchObject({ ended: "bound", waited_for: ["eno1"], lacking: ["eno1"] });
    const lines = output.split("\n");
    const stopped = lines.indexOf("recon-agent: fw-lldp eno1 (i40e): firmware LLDP agent stopped for the listen (disable-fw-lldp on), to be put back after it");
    const back = lines.indexOf("recon-agent: fw-lldp eno1 (i40e): firmware LLDP agent was stopped for the listen (disable-fw-lldp on), put back");
    const listened = lines.findIndex((line) => line.startsWith("recon-agent: lldp: listened the full 2.0 s"));
    expect(
      [stopped, listened, back].every((i) => i >= 0),
      output,
    ).toBe(true);
    expect(stopped).toBeLessThan(listened);
    expect(listened).toBeLessThan(back);
    expect(manifest.collectors.find((c) => c.id === "fw-lldp")).toMatchObject({ files: ["raw/fw-lldp.json"], argv: [], exit_code: null });
    const files = await readRawUpload(out);
    const record = JSON.parse(files.get("raw/fw-lldp.json")!.toString("utf8")) as { interfaces: FwLldpEntry[] };
    expect(record.interfaces.map((entry) => describeFwLldp(entry, true))).toEqual([back === -1 ? "" : lines[back]!.slice("recon-agent: ".length)]);
    expect(record.interfaces[0]).toMatchObject({ set_to: "on", restored: true, show_priv_flags: await readFile(I40E_FLAGS, "utf8") });
    // The master's normalizer knows the file: not reported as one recon does not read.
    expect(normalizeRaw(files).errors.filter((e) => e.source.includes("fw-lldp"))).toEqual([]);
  });

  it("with a transmitting switch on the segment, ends as soon as eth0 has its neighbour, long before the bound", async () => {
    const switchSocket = join(work, "switch.lldpd.socket");
    lldpSwitch = execa("ip", ["netns", "exec", lab!.ns, "lldpd", "-d", "-u", switchSocket, "-I", "rcnbr1"], { reject: false, all: true });
    for (
      let i = 0;
      i < 50 &&
      !(await readFile(switchSocket).then(
        () => true,
        (e: NodeJS.ErrnoException) => e.code !== "ENOENT",
      ));
      i++
    ) {
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const args of [
      ["configure", "system", "hostname", "recon-test-switch"],
      ["configure", "lldp", "tx-interval", "1"],
    ]) {
      const result = await runInNetns(execaRunner, lab!.ns, ["lldpcli", "-u", switchSocket, ...args]);
      expect(result.exitCode, result.stderr).toBe(0);
    }
    const { lldp, output, wallMs, out } = await collect("heard", 30_000);
    expect(lldp.error, JSON.stringify(lldp)).toBeUndefined();
    expect(lldp.listen).toMatchObject({ ended: "all-neighbours", bound_ms: 30_000, waited_for: ["eth0"], lacking: [] });
    // A frame a second and a poll a second: a few seconds, nowhere near the 30 s bound.
    expect(lldp.listen!.listened_ms).toBeLessThan(8000);
    expect(wallMs).toBeLessThan(20_000);
    expect(output).toMatch(/recon-agent: lldp: every linked interface has a neighbour \(eth0\) after \d+\.\d s of at most 30\.0 s/);
    const neighbours = JSON.parse((await readRawUpload(out)).get("raw/lldpctl.json")!.toString("utf8"));
    expect(Object.keys(neighbours.lldp.interface.eth0.chassis)).toEqual(["recon-test-switch"]);
    expect((await readRawUpload(out)).get("collector.log")!.toString("utf8")).toMatch(/\n {4}listen: every linked interface has a neighbour \(eth0\) after /);
  });
});
