/**
 * The collection runner with real processes: fake tools (scripts first on PATH, the execa way)
 * that fail, are missing, answer only on some channels or hang; the real `recon agent collect`
 * on this host; and the packed tar.gz checked entry by entry with the master's own upload check.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { list } from "tar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packUpload, runCollectors, type Manifest } from "../../src/agent/collect.js";
import type { CollectorSpec } from "../../src/agent/collectors.js";
import { checkUploadEntry, EMPTY_TALLY, type UploadTally } from "../../src/lib/archive/tar-entry-check.js";
import { buildUpload } from "../../src/agent/build-upload.js";
import { normalizeRaw } from "../../src/inventory/normalize.js";
import { readRawUpload } from "../../src/inventory/read-upload.js";
import { execaRunner } from "../../src/lib/run.js";
import { lockdownCommand, lockdownSection } from "../fixtures/inventory/lockdown/sections.js";
import { reconBin, repoRoot } from "../helpers/repo.js";

let work: string;
let fakes: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-agent-collect-"));
  fakes = join(work, "bin");
  await mkdir(fakes);
  const tool = (name: string, body: string) => writeFile(join(fakes, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  await tool("fake-ok", 'echo "{\\"ok\\": true}"');
  await tool("fake-fails", 'echo "partial"; echo "fake-fails: no such device /dev/sdz" >&2; exit 2');
  // Like ipmitool lan print: only channel 3 is a LAN channel here.
  await tool("fake-ipmitool", '[ "$3" = 3 ] && { echo "IP Address : 10.1.2.3"; exit 0; }; echo "Channel $3 is not a LAN channel" >&2; exit 1');
  await tool("fake-hang", "sleep 300");
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const env = () => ({ PATH: `${fakes}:${process.env.PATH}` });
const command = (id: string, argv: string[], timeoutMs = 10_000): CollectorSpec => ({
  kind: "command",
  id,
  argv,
  stdout: `raw/${id}.txt`,
  files: [`raw/${id}.txt`],
  timeoutMs,
});

/** Every entry of a tar.gz through the master's check, as the ingest does. */
async function masterVerdicts(file: string): Promise<{ paths: string[]; rejected: string[] }> {
  const paths: string[] = [];
  const rejected: string[] = [];
  let tally: UploadTally = EMPTY_TALLY;
  await list({
    file,
    onReadEntry: (entry) => {
      paths.push(entry.path);
      const verdict = checkUploadEntry({ path: entry.path, type: entry.type, size: entry.size ?? 0, mode: entry.mode }, tally);
      tally = verdict.tally;
      if (!verdict.accept) rejected.push(verdict.reason);
      entry.resume();
    },
  });
  return { paths, rejected };
}

describe("runCollectors with real processes", () => {
  it("records a missing tool, a failing tool's stderr and exit code, and still runs the rest", async () => {
    const staging = join(work, "mixed");
    const plan: CollectorSpec[] = [
      command("missing", ["recon-no-such-tool", "-x"]),
      command("fails", ["fake-fails"]),
      command("ok", ["fake-ok"]),
      {
        kind: "first-answer",
        id: "lan",
        candidates: [1, 2, 3, 4].map((c) => ({ argv: ["fake-ipmitool", "lan", "print", String(c)], stdout: `raw/lan.${c}.txt` })),
        files: [],
        timeoutMs: 10_000,
      },
      { kind: "builtin", id: "meminfo", reader: "meminfo", stdout: "raw/meminfo.txt", files: ["raw/meminfo.txt"], timeoutMs: 10_000 },
    ];
    await mkdir(staging);
    const records = await runCollectors(plan, { stagingDir: staging, env: env() });
    expect(records.map((r) => r.id)).toEqual(["missing", "fails", "ok", "lan", "meminfo"]);
    expect(records[0]).toMatchObject({ files: [], exit_code: null, timed_out: false });
    expect(records[0]!.error).toMatch(/recon-no-such-tool.*ENOENT/);
    expect(records[1]).toMatchObject({ files: ["raw/fails.txt"], exit_code: 2, timed_out: false, error: "exit 2: fake-fails: no such device /dev/sdz" });
    expect(await readFile(join(staging, "raw/fails.txt"), "utf8")).toBe("partial\n");
    expect(records[2]).toMatchObject({ files: ["raw/ok.txt"], exit_code: 0, timed_out: false, argv: ["fake-ok"] });
    expect(records[2]!.error).toBeUndefined();
    expect(await readFile(join(staging, "raw/ok.txt"), "utf8")).toBe('{"ok": true}\n');
    expect(records[3]).toMatchObject({ files: ["raw/lan.3.txt"], exit_code: 0, argv: ["fake-ipmitool", "lan", "print", "3"] });
    expect(records[4]).toMatchObject({ files: ["raw/meminfo.txt"], exit_code: null, argv: [] });
    expect(await readFile(join(staging, "raw/meminfo.txt"), "utf8")).toMatch(/^MemTotal:/);
  });

  it("runs collectors in parallel: five 300 s hangs with 1 s limits end together, not one after another", async () => {
    const staging = join(work, "hangs");
    await mkdir(staging);
    const plan = Array.from({ length: 5 }, (_, i) => command(`hang${i}`, ["fake-hang"], 1000));
    const started = Date.now();
    const records = await runCollectors(plan, { stagingDir: staging, env: env(), concurrency: 8 });
    expect(records.every((r) => r.timed_out && r.exit_code === null && /^timed out after 1000 ms/.test(r.error ?? ""))).toBe(true);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it("packs a tar.gz the master accepts entry by entry: manifest, log, then the raw files the manifest names", async () => {
    const staging = join(work, "pack");
    await mkdir(staging);
    const records = await runCollectors([command("ok", ["fake-ok"]), command("missing", ["recon-no-such-tool"])], { stagingDir: staging, env: env() });
    const manifest: Manifest = {
      format: "recon-raw/1",
      agent_version: "test",
      collected_at: "2026-11-22T00:00:00.000Z",
      boot_mac: null,
      hostname: "h",
      kernel: "k",
      collectors: records,
    };
    const out = join(work, "pack.tar.gz");
    const bytes = await packUpload(staging, manifest, "log\n", out);
    expect(bytes).toBeGreaterThan(0);
    const { paths, rejected } = await masterVerdicts(out);
    expect(rejected).toEqual([]);
    expect(paths).toEqual(["manifest.json", "collector.log", "raw/ok.txt"]);
  });
});

describe("recon agent collect on this host", () => {
  it("writes an upload with every always-on collector of the contract, accepted by the master's check", async () => {
    const out = join(work, "host.tar.gz");
    const cmdline = join(work, "cmdline");
    await writeFile(cmdline, "BOOTIF=01-52-54-00-12-34-56 quiet\n");
    const run = await execa(
      reconBin,
      [
        "agent",
        "collect",
        "--out",
        out,
        "--cmdline",
        cmdline,
        "--lldp-wait-s",
        "1",
        "--collector-timeout-s",
        "60",
        "--lldp-socket",
        join(work, "lldpd.socket"),
      ],
      { reject: false, all: true, cwd: repoRoot },
    );
    expect(run.exitCode, run.all).toBe(0);
    expect(run.all).toMatch(/recon-agent: collected: \d+ collectors \(\d+ with errors\), \d+ bytes packed/);
    const { paths, rejected } = await masterVerdicts(out);
    expect(rejected).toEqual([]);
    expect(paths.slice(0, 2)).toEqual(["manifest.json", "collector.log"]);
    const extract = join(work, "host");
    await mkdir(extract);
    await execa("tar", ["-xzf", out, "-C", extract]);
    const manifest = JSON.parse(await readFile(join(extract, "manifest.json"), "utf8")) as Manifest;
    expect(manifest).toMatchObject({ format: "recon-raw/1", boot_mac: "52:54:00:12:34:56" });
    const ids = manifest.collectors.map((c) => c.id);
    expect(ids.slice(0, 8)).toEqual(["lshw", "dmidecode", "dmidecode-bin", "lscpu", "lsblk", "lspci", "ip-link", "ip-addr"]);
    for (const id of ["nvme-list", "lldpctl", "efi", "meminfo", "edac"]) expect(ids).toContain(id);
    // Every file the manifest names is in the archive, and nothing else under raw/.
    expect(paths.slice(2).sort()).toEqual(manifest.collectors.flatMap((c) => c.files).sort());
    // The tools the host tier installs ran and produced JSON (lshw, lscpu, lsblk, ip).
    for (const file of ["raw/lshw.json", "raw/lscpu.json", "raw/lsblk.json", "raw/ip-link.json"]) {
      const text = await readFile(join(extract, file), "utf8");
      expect(() => JSON.parse(text), file).not.toThrow();
    }
    expect(await readFile(join(extract, "collector.log"), "utf8")).toMatch(/^recon agent 0\.1\.0 collection on /);
    // This host: no securityfs at /sys/kernel/security (no lockdown file) and no Secure Boot (no EFI).
    const lockdown = manifest.collectors.find((c) => c.id === "lockdown");
    const hostHasLockdown = await readFile("/sys/kernel/security/lockdown", "utf8").then(
      (text) => text,
      () => undefined,
    );
    const inventory = normalizeRaw(await readRawUpload(out));
    if (hostHasLockdown === undefined) {
      expect(lockdown?.files).toEqual([]);
      expect(lockdown?.error).toMatch(/sys\/kernel\/security\/lockdown is absent \(ENOENT\): securityfs is not mounted/);
      expect(inventory.boot.lockdown).toBeNull();
      expect(inventory.errors).toContainEqual({ source: "collector:lockdown", message: lockdown?.error, kind: "error" });
    } else {
      expect(await readFile(join(extract, "raw/lockdown.txt"), "utf8")).toBe(hostHasLockdown);
      expect(inventory.boot.lockdown).toBe(/\[(\w+)\]/.exec(hostHasLockdown)?.[1]);
    }
    expect(manifest.collectors.filter((c) => c.status === "blocked")).toEqual([]);
  });
});

describe("a collector refused by kernel lockdown", () => {
  it("is marked blocked in the manifest, with the kernel's line, and normalizes to null plus a blocked note", async () => {
    // The kernel side as Debian 12's kernel wrote it under lockdown=integrity (test/fixtures/inventory/lockdown):
    // the lockdown file and /dev/kmsg's records laid out under a sysRoot; dmidecode answers with its
    // captured stdout, stderr and exit status (dmidecode 3.4 made to read /dev/mem).
    const root = join(work, "locked-root");
    await mkdir(join(root, "sys/kernel/security"), { recursive: true });
    await mkdir(join(root, "dev"), { recursive: true });
    await writeFile(join(root, "sys/kernel/security/lockdown"), lockdownCommand("integrity", "cat /sys/kernel/security/lockdown").output);
    await writeFile(join(root, "dev/kmsg"), lockdownSection("integrity", "cat /dev/kmsg (2 s)"));
    const captured = join(work, "captured");
    await mkdir(captured, { recursive: true });
    await writeFile(join(captured, "stdout"), lockdownSection("integrity", "dmidecode --no-sysfs -t 0,1 (stdout)"));
    const stderr = lockdownCommand("integrity", "dmidecode --no-sysfs -t 0,1 (stderr)");
    await writeFile(join(captured, "stderr"), stderr.output);
    const bin = join(work, "locked-bin");
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, "dmidecode"), `#!/bin/sh\ncat '${captured}/stdout'; cat '${captured}/stderr' >&2; exit ${stderr.exit}\n`, { mode: 0o755 });
    const plan: CollectorSpec[] = [
      {
        kind: "command",
        id: "dmidecode",
        argv: ["dmidecode", "-t", "0,1,2,3,4,17,38"],
        stdout: "raw/dmidecode.txt",
        files: ["raw/dmidecode.txt"],
        timeoutMs: 10_000,
      },
      { kind: "builtin", id: "lockdown", reader: "lockdown", stdout: "raw/lockdown.txt", files: ["raw/lockdown.txt"], timeoutMs: 10_000 },
    ];
    const out = join(work, "locked.tar.gz");
    const lines: string[] = [];
    const built = await buildUpload(execaRunner, {
      outPath: out,
      agentVersion: "test",
      bootMac: null,
      lldpWaitMs: 0,
      collectorTimeoutMs: 10_000,
      plan,
      sysRoot: root,
      env: { PATH: `${bin}:${process.env.PATH}` },
      tmpDir: work,
      status: (line) => lines.push(line),
    });
    const dmidecode = built.manifest.collectors.find((c) => c.id === "dmidecode");
    expect(dmidecode).toMatchObject({
      exit_code: 1,
      error: "exit 1: /dev/mem: Operation not permitted",
      status: "blocked",
      reason: "kernel lockdown (integrity)",
      evidence: "Lockdown: dmidecode: /dev/mem,kmem,port is restricted; see man kernel_lockdown.7",
    });
    expect(lines).toContain(
      "collector dmidecode: blocked by kernel lockdown (integrity): Lockdown: dmidecode: /dev/mem,kmem,port is restricted; see man kernel_lockdown.7",
    );
    const inventory = normalizeRaw(await readRawUpload(out));
    expect(inventory.boot.lockdown).toBe("integrity");
    expect(inventory.system_vendor.manufacturer).toBeNull();
    expect(inventory.errors).toContainEqual({
      source: "collector:dmidecode",
      message: "blocked by kernel lockdown (integrity): Lockdown: dmidecode: /dev/mem,kmem,port is restricted; see man kernel_lockdown.7",
      kind: "blocked",
    });
  });
});
