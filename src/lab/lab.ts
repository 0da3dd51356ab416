/**
 * `recon lab up|status|down`: applies a LabPlan (lab-plan.ts). Up creates the lab namespace and
 * bridge, the taps, the peers' empty disks and BMCs (ipmi_sim, which starts a peer's qemu on
 * power on), the master's stick with its site config, and boots the master VM. Every PID and
 * namespace goes into <dir>/lab.json as soon as it exists, so `down` can remove everything
 * even after the process that brought the lab up crashed: it kills only the PIDs recorded there
 * (after checking each is still the program recorded) and deletes only the recorded namespace.
 */
import { randomBytes } from "node:crypto";
import { access, copyFile, mkdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { applyHttpTree } from "../build/http-tree.js";
import { createIpmiClient } from "../ipmi/ipmitool.js";
import { type PowerState } from "../inventory/parse/ipmitool-text.js";
import { writeFileAtomic } from "../lib/atomic-write.js";
import { ReconError } from "../lib/errors.js";
import type { Logger } from "../lib/log.js";
import { runChecked, type CommandRunner } from "../lib/run.js";
import { killPid, processIs, readPid, startLabBmc, writeLabBmc, type RunningBmc } from "./bmc.js";
import { labImageTree, labVarStores, masterPasswordFile, planLab, renderLabSiteConfig, type LabOptions, type LabPlan } from "./lab-plan.js";
import { addressAddArgs, createLab, listNetns, netnsDeleteArgs, netnsWrapper, type Lab } from "./netns.js";
import { qemuArgs } from "./qemu.js";
import { prepareLabStick } from "./stick.js";
import { startVm, type RunningVm } from "./vm.js";

/** What lab.json records: enough to show and to remove the lab without its plan's inputs. */
export interface LabState {
  format: "recon-lab/1";
  id: string;
  createdAt: string;
  /** The `recon lab up` (or test) process holding the lab; down sends it SIGTERM first. */
  supervisorPid: number;
  namespaces: string[];
  masterAddress: string;
  labAddress: string;
  master: { name: string; pid: number | undefined; serialLog: string; mac: string };
  peers: Array<{
    name: string;
    firmware: string;
    mac: string;
    serialLog: string;
    diskBytes: number;
    smbios: { manufacturer: string; product: string; serial: string };
    bmc: { address: string; username: string; passwordFile: string; pid: number | undefined; vmPidFile: string };
  }>;
}

const QEMU = /qemu-system/;
const IPMI_SIM = /ipmi_sim$/;

export async function readLabState(dir: string): Promise<LabState | undefined> {
  const text = await readFile(join(dir, "lab.json"), "utf8").catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as LabState);
}

async function saveState(plan: LabPlan, state: LabState): Promise<void> {
  await writeFileAtomic(plan.stateFile, `${JSON.stringify(state, null, 2)}\n`);
}

export interface RunningLab {
  plan: LabPlan;
  state: LabState;
  master: RunningVm | undefined;
  bmcs: RunningBmc[];
  /** Boots the master VM (again) from the same stick. */
  startMaster(): Promise<RunningVm>;
  /** Pulls the master's power (qemu ends), as a hard power-off would. */
  stopMaster(): Promise<void>;
  /** Curl the master's HTTP API from the lab namespace (the lab's own bridge address). */
  masterApi(path: string): Promise<unknown>;
  powerStatus(peer: string): Promise<PowerState>;
  down(): Promise<void>;
}

export interface LabDeps {
  runner: CommandRunner;
  log: Logger;
}

function passwordPath(plan: LabPlan, peer: string): string {
  return join(plan.dir, "bmc", peer, "password");
}

export async function labUp(options: LabOptions, deps: LabDeps): Promise<RunningLab> {
  const { runner, log } = deps;
  const plan = planLab(options);
  await access(options.iso).catch(() => {
    throw new ReconError("ARTEFACT_MISSING", `no ISO at ${options.iso}`, { hint: "build it: ./make-recipe-target debian-12 target" });
  });
  const existing = await readLabState(plan.dir);
  if (existing) {
    throw new ReconError("USAGE", `a lab is already recorded in ${plan.dir} (id ${existing.id})`, {
      hint: `run: recon lab down --dir ${plan.dir}`,
      exitCode: 2,
    });
  }
  await mkdir(plan.dir, { recursive: true, mode: 0o700 });
  const state: LabState = {
    format: "recon-lab/1",
    id: plan.id,
    createdAt: new Date().toISOString(),
    supervisorPid: process.pid,
    namespaces: [plan.wireNs],
    masterAddress: plan.masterAddress,
    labAddress: plan.labAddress,
    master: { name: plan.master.vm.name, pid: undefined, serialLog: plan.master.vm.serialLog, mac: plan.master.mac },
    peers: [],
  };
  // Recorded before the namespace exists: a crash right after creating it still leaves a trail.
  await saveState(plan, state);

  let lab: Lab | undefined;
  const bmcs: RunningBmc[] = [];
  let master: RunningVm | undefined;
  const ipmi = createIpmiClient({ runner, wrapper: netnsWrapper(plan.wireNs) });

  const down = async () => {
    if (master) await master.stop();
    for (const bmc of bmcs) await bmc.stop();
    await lab?.destroy();
    await labDown(plan.dir, { runner, log });
  };

  try {
    lab = await createLab(runner, { prefix: plan.prefix, bridge: plan.bridge, bridgeAddress: plan.bridgeAddresses[0] });
    for (const cidr of plan.bridgeAddresses.slice(1)) await runChecked(runner, "ip", addressAddArgs(lab.ns, plan.bridge, cidr));
    await lab.addTap(plan.master.tap);
    // Each UEFI VM's own writable copy of its firmware's variable store, inside the lab dir.
    for (const store of labVarStores(plan)) await copyFile(store.template, store.file);
    const stickFiles = [{ path: "site.yaml", content: renderLabSiteConfig(plan), mode: 0o600 }];
    for (const peer of plan.peers) {
      await lab.addTap(peer.tap);
      const password = randomBytes(9).toString("base64url");
      await mkdir(peer.bmc.dir, { recursive: true, mode: 0o700 });
      await writeFile(passwordPath(plan, peer.name), `${password}\n`, { mode: 0o600 });
      stickFiles.push({ path: masterPasswordFile(peer.name).replace("/var/lib/recon/", ""), content: `${password}\n`, mode: 0o600 });
      // An empty disk: the peer has nothing to boot but the network, and a size to report.
      await writeFile(peer.diskFile, "");
      await truncate(peer.diskFile, peer.diskBytes);
      const spec = { ...peer.bmc, password };
      const files = await writeLabBmc(spec, ["qemu-system-x86_64", ...qemuArgs(peer.vm)]);
      const bmc = await startLabBmc(runner, lab.ns, spec);
      bmcs.push(bmc);
      state.peers.push({
        name: peer.name,
        firmware: peer.firmware,
        mac: peer.mac,
        serialLog: peer.serialLog,
        diskBytes: peer.diskBytes,
        smbios: peer.smbios,
        bmc: { address: peer.bmc.address, username: peer.bmc.username, passwordFile: passwordPath(plan, peer.name), pid: bmc.pid, vmPidFile: files.vmPidFile },
      });
      await saveState(plan, state);
      log.info("lab BMC ready", { peer: peer.name, bmc: peer.bmc.address, firmware: peer.firmware, mac: peer.mac });
    }
    await prepareLabStick(runner, {
      iso: options.iso,
      stick: plan.master.stick,
      sizeBytes: plan.master.stickBytes,
      files: stickFiles,
      // As `recon images add` leaves them: images/<label>/ holding an http tree of that one image.
      populate: async (staging) => {
        for (const image of plan.extraImages) {
          const tree = join(staging, "images", image.label);
          await applyHttpTree(labImageTree(image), image.iso, tree, runner);
          log.info("lab image on the stick", { image: image.label, iso: image.iso });
        }
      },
    });
  } catch (error) {
    await down().catch((cleanup: unknown) => log.error("lab clean-up failed", { error: (cleanup as Error).message }));
    throw error;
  }

  const running: RunningLab = {
    plan,
    state,
    get master() {
      return master;
    },
    bmcs,
    async startMaster() {
      if (master && !master.exited()) throw new ReconError("USAGE", "the lab master is already running");
      master = startVm(plan.master.vm, { wrapper: netnsWrapper(plan.wireNs) });
      state.master.pid = master.pid;
      await saveState(plan, state);
      log.info("lab master booting", { stick: plan.master.stick, firmware: plan.master.firmware, serial: plan.master.vm.serialLog });
      return master;
    },
    async stopMaster() {
      await master?.stop();
      state.master.pid = undefined;
      await saveState(plan, state);
    },
    async masterApi(path) {
      const result = await runChecked(runner, "ip", [
        "netns",
        "exec",
        plan.wireNs,
        "curl",
        "--silent",
        "--show-error",
        "--fail",
        "--max-time",
        "20",
        `http://${plan.masterAddress}${path}`,
      ]);
      return JSON.parse(result.stdout) as unknown;
    },
    async powerStatus(peer) {
      const entry = state.peers.find((p) => p.name === peer);
      if (!entry) throw new ReconError("NOT_FOUND", `no peer ${peer} in this lab`);
      return ipmi.powerStatus({ address: entry.bmc.address, username: entry.bmc.username, passwordFile: entry.bmc.passwordFile, name: peer });
    },
    down,
  };
  try {
    await running.startMaster();
  } catch (error) {
    await down().catch(() => undefined);
    throw error;
  }
  return running;
}

export interface LabStatus {
  dir: string;
  id: string;
  namespacePresent: boolean;
  supervisor: { pid: number; alive: boolean };
  master: { name: string; pid: number | undefined; alive: boolean; serialLog: string; address: string };
  peers: Array<{
    name: string;
    firmware: string;
    mac: string;
    serialLog: string;
    vmPid: number | undefined;
    vmAlive: boolean;
    bmc: { address: string; pid: number | undefined; alive: boolean; power: PowerState | "unknown"; error?: string };
  }>;
}

export async function labStatus(dir: string, deps: LabDeps): Promise<LabStatus | undefined> {
  const state = await readLabState(dir);
  if (!state) return undefined;
  const namespaces = await listNetns(deps.runner).catch(() => [] as string[]);
  const present = state.namespaces.every((ns) => namespaces.includes(ns));
  const ipmi = createIpmiClient({ runner: deps.runner, wrapper: netnsWrapper(state.namespaces[0]!), attempts: 1, timeoutMs: 10_000 });
  const peers: LabStatus["peers"] = [];
  for (const peer of state.peers) {
    const vmPid = await readPid(peer.bmc.vmPidFile);
    const bmcAlive = peer.bmc.pid !== undefined && (await processIs(peer.bmc.pid, IPMI_SIM));
    let power: PowerState | "unknown" = "unknown";
    let error: string | undefined;
    if (present && bmcAlive) {
      try {
        power = await ipmi.powerStatus({ address: peer.bmc.address, username: peer.bmc.username, passwordFile: peer.bmc.passwordFile, name: peer.name });
      } catch (e) {
        error = (e as Error).message;
      }
    }
    peers.push({
      name: peer.name,
      firmware: peer.firmware,
      mac: peer.mac,
      serialLog: peer.serialLog,
      vmPid,
      vmAlive: vmPid !== undefined && (await processIs(vmPid, QEMU)),
      bmc: { address: peer.bmc.address, pid: peer.bmc.pid, alive: bmcAlive, power, ...(error && { error }) },
    });
  }
  return {
    dir,
    id: state.id,
    namespacePresent: present,
    supervisor: { pid: state.supervisorPid, alive: await processIs(state.supervisorPid, /node|recon|tsx/) },
    master: {
      name: state.master.name,
      pid: state.master.pid,
      alive: state.master.pid !== undefined && (await processIs(state.master.pid, QEMU)),
      serialLog: state.master.serialLog,
      address: state.masterAddress,
    },
    peers,
  };
}

export function formatLabStatus(status: LabStatus): string {
  const lines = [
    `lab ${status.id} in ${status.dir}: namespace ${status.namespacePresent ? "present" : "MISSING"}, supervisor pid ${status.supervisor.pid} ${status.supervisor.alive ? "running" : "gone"}`,
    `  master  ${status.master.address.padEnd(12)} ${status.master.alive ? `running (pid ${status.master.pid})` : "off"}  serial ${status.master.serialLog}`,
  ];
  for (const peer of status.peers) {
    lines.push(
      `  ${peer.name.padEnd(7)} ${peer.firmware.padEnd(12)} ${peer.mac}  BMC ${peer.bmc.address} ${peer.bmc.alive ? `(pid ${peer.bmc.pid})` : "(gone)"} power ${peer.bmc.power}${peer.bmc.error ? ` [${peer.bmc.error}]` : ""}  VM ${peer.vmAlive ? `running (pid ${peer.vmPid})` : "off"}  serial ${peer.serialLog}`,
    );
  }
  return lines.join("\n");
}

/**
 * Removes a lab from its lab.json: the supervisor gets SIGTERM (it cleans up itself), then every
 * recorded process still alive (VMs, BMCs) is killed by PID, the recorded namespaces deleted and
 * the lab directory removed. Safe to run twice, and after a crash.
 */
export async function labDown(dir: string, deps: LabDeps, options: { keepFiles?: boolean } = {}): Promise<{ killed: number[]; namespaces: string[] }> {
  const state = await readLabState(dir);
  if (!state) return { killed: [], namespaces: [] };
  const killed: number[] = [];
  const kill = async (pid: number | undefined, name: RegExp) => {
    if (pid === undefined || pid === process.pid || !(await processIs(pid, name))) return;
    await killPid(pid, name);
    killed.push(pid);
  };
  // Another process holding the lab: ask it to stop first (it removes its children itself).
  if (state.supervisorPid !== process.pid && (await processIs(state.supervisorPid, /node|recon|tsx/))) {
    await killPid(state.supervisorPid, /node|recon|tsx/, 30_000);
    killed.push(state.supervisorPid);
  }
  await kill(state.master.pid, QEMU);
  for (const peer of state.peers) {
    await kill(await readPid(peer.bmc.vmPidFile), QEMU);
    await kill(peer.bmc.pid, IPMI_SIM);
  }
  const present = await listNetns(deps.runner).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const ns of state.namespaces) {
    if (!present.includes(ns)) continue;
    const result = await deps.runner.run("ip", netnsDeleteArgs(ns));
    if (result.exitCode !== 0) throw new ReconError("COMMAND_FAILED", `could not delete namespace ${ns}: ${result.stderr.trim()}`);
    removed.push(ns);
  }
  if (!options.keepFiles) await rm(dir, { recursive: true, force: true });
  deps.log.info("lab removed", { dir, killed: killed.join(",") || "none", namespaces: removed.join(",") || "none" });
  return { killed, namespaces: removed };
}
