/**
 * `recon lab` as a user runs it, without booting the real image (the e2e does that): `lab up`
 * with a stand-in ISO (an MBR disk image, so the stick and its data partition are made the real
 * way), a BIOS peer, a Secure Boot peer and a Secure Boot master, brings up the namespace, two
 * BMCs and the master VM (each UEFI VM with its own Microsoft-keyed variable store in the lab
 * dir); `lab status` shows them; `recon power on` through a BMC starts the Secure Boot peer's VM
 * (so qemu accepts its SMM and secure-pflash argv); then the `lab up` process is killed with
 * SIGKILL (a crash: its BMCs and VMs are orphaned) and `lab down` still removes every recorded
 * process, the namespace and the lab directory.
 */
import { access, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processIs, readPid } from "../../src/lab/bmc.js";
import type { LabState, LabStatus } from "../../src/lab/lab.js";
import { listNetns } from "../../src/lab/netns.js";
import { execaRunner } from "../../src/lib/run.js";
import { reconBin, repoRoot } from "../helpers/repo.js";

let work: string;
let labDir: string;
let up: ResultPromise | undefined;
let upLog = "";

const recon = (args: string[]) => execa(reconBin, args, { cwd: repoRoot, reject: false, all: true });

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-lab-it-"));
  labDir = join(work, "lab");
  // A stand-in for the ISO: 64 MiB with the hybrid ISO's kind of MBR (an iso9660-type partition).
  const iso = join(work, "stand-in.iso");
  await execa("truncate", ["-s", "64M", iso]);
  await execa("sfdisk", ["--no-tell-kernel", iso], { input: "label: dos\nstart=64, size=100000, type=cd\n" });
  up = execa(reconBin, ["lab", "up", "--firmware", "bios,uefi-sb", "--master-firmware", "uefi-sb", "--iso", iso, "--dir", labDir], {
    cwd: repoRoot,
    reject: false,
    all: true,
  });
  up.all?.on("data", (chunk: Buffer) => (upLog += chunk.toString("utf8")));
  const deadline = Date.now() + 90_000;
  while (!/msg="lab ready"/.test(upLog)) {
    if (Date.now() > deadline || up.exitCode !== null) throw new Error(`lab up did not get ready:\n${upLog.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}, 120_000);

afterAll(async () => {
  // Whatever happened above: the lab's own clean-up from its state file, then the work dir.
  try {
    if (up?.pid) process.kill(up.pid, "SIGKILL");
  } catch {
    // already gone (the crash test killed it)
  }
  await recon(["lab", "down", "--dir", labDir]);
  await rm(work, { recursive: true, force: true });
}, 120_000);

describe("recon lab up / status / power / crash / down", () => {
  let state: LabState;

  it("status shows the namespace, the running master VM and both BMCs with their peers off", async () => {
    state = JSON.parse(await readFile(join(labDir, "lab.json"), "utf8")) as LabState;
    expect(state.peers.map((p) => [p.name, p.firmware, p.mac, p.bmc.address])).toEqual([
      ["peer1", "bios", "52:54:00:77:00:11", "10.77.0.201"],
      ["peer2", "uefi-sb", "52:54:00:77:00:12", "10.77.0.202"],
    ]);
    // Private copies of the Microsoft-keyed variable store for the master and the Secure Boot peer, none for the BIOS peer.
    const msVars = await readFile("/usr/share/OVMF/OVMF_VARS_4M.ms.fd");
    for (const vm of ["master", "peer2"]) expect((await readFile(join(labDir, `${vm}.OVMF_VARS.fd`))).equals(msVars), vm).toBe(true);
    await expect(access(join(labDir, "peer1.OVMF_VARS.fd"))).rejects.toThrow();
    const masterArgv = (await readFile(`/proc/${state.master.pid!}/cmdline`, "utf8")).split("\0");
    expect(masterArgv).toEqual(expect.arrayContaining(["q35,smm=on", "driver=cfi.pflash01,property=secure,value=on"]));
    expect(masterArgv.join(" ")).toContain("file=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd");
    const result = await recon(["lab", "status", "--dir", labDir, "--json"]);
    expect(result.exitCode, result.all).toBe(0);
    const status = JSON.parse(result.stdout) as LabStatus;
    expect(status.namespacePresent).toBe(true);
    expect(status.master.alive).toBe(true);
    expect(status.peers.map((p) => [p.bmc.alive, p.bmc.power, p.vmAlive])).toEqual([
      [true, "off", false],
      [true, "off", false],
    ]);
    // The stick carries a RECON_DATA partition after the image (the master's site config in it).
    const stick = join(labDir, "master-stick.img");
    const table = JSON.parse((await execa("sfdisk", ["--json", stick])).stdout) as { partitiontable: { partitions: Array<{ start: number; type: string }> } };
    const data = table.partitiontable.partitions.at(-1)!;
    expect(data.type).toBe("83");
    const probe = await execa("blkid", ["-p", "-O", String(data.start * 512), stick]);
    expect(probe.stdout).toMatch(/LABEL="RECON_DATA".* TYPE="ext4"/);
  });

  it("recon power on through a peer's BMC (from inside the lab network) starts that peer's Secure Boot VM", async () => {
    const config = join(work, "site.yaml");
    await writeFile(
      config,
      `bmcs:\n${state.peers.map((p) => `  - { name: ${p.name}, mac: "${p.mac}", address: ${p.bmc.address}, username: admin, passwordFile: ${p.bmc.passwordFile} }`).join("\n")}\n`,
    );
    const on = await execa("ip", ["netns", "exec", state.namespaces[0]!, reconBin, "power", "on", "52:54:00:77:00:12", "--config", config], {
      cwd: repoRoot,
      reject: false,
      all: true,
    });
    expect(on.exitCode, on.all).toBe(0);
    expect(on.stdout).toBe("peer2 (10.77.0.202): Up/On");
    const status = JSON.parse((await recon(["lab", "status", "--dir", labDir, "--json"])).stdout) as LabStatus;
    expect(status.peers[1]!.bmc.power).toBe("on");
    expect(status.peers[1]!.vmAlive).toBe(true);
    const peerArgv = (await readFile(`/proc/${status.peers[1]!.vmPid!}/cmdline`, "utf8")).split("\0");
    expect(peerArgv).toEqual(expect.arrayContaining(["q35,smm=on", "driver=cfi.pflash01,property=secure,value=on", `file:${state.peers[1]!.serialLog}`]));
    const all = await execa("ip", ["netns", "exec", state.namespaces[0]!, reconBin, "power", "status", "--config", config], {
      cwd: repoRoot,
      reject: false,
      all: true,
    });
    expect(all.stdout.split("\n")).toEqual(["peer1 (10.77.0.201): off", "peer2 (10.77.0.202): on"]);
    expect(all.all).not.toMatch(/password/i);
  });

  it("after `lab up` is killed, `lab down` removes every process, the namespace and the files", async () => {
    up!.kill("SIGKILL");
    await up;
    const recorded = [state.master.pid!, ...state.peers.map((p) => p.bmc.pid!)];
    const peerVm = await readPid(state.peers[1]!.bmc.vmPidFile);
    expect(peerVm).toBeDefined();
    // Orphaned, not gone: this is what `down` has to clean up.
    expect(await processIs(state.master.pid!, /qemu-system/)).toBe(true);
    expect(await processIs(peerVm!, /qemu-system/)).toBe(true);

    const down = await recon(["lab", "down", "--dir", labDir]);
    expect(down.exitCode, down.all).toBe(0);
    expect(down.stdout).toMatch(/killed 4 process\(es\), deleted rcnlab-[0-9a-f]{6}-m namespace/);
    for (const pid of [...recorded, peerVm!]) expect(await processIs(pid, /qemu-system|ipmi_sim/)).toBe(false);
    expect(await listNetns(execaRunner)).not.toContain(state.namespaces[0]);
    await expect(access(labDir)).rejects.toThrow();
    // Twice is fine.
    expect((await recon(["lab", "down", "--dir", labDir])).exitCode).toBe(0);
  });
});
