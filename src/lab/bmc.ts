/**
 * A lab BMC: OpenIPMI's ipmi_sim serving IPMI over LAN (lanplus) for one peer VM, inside the
 * lab's network namespace on an address of the lab bridge, so the master VM reaches it over the
 * bridge like a real BMC on a management network. Pure renderers for its files (lan.conf, the
 * .emu command file, the start and LAN-parameter scripts) and a thin runner.
 *
 * Power: `startcmd` runs the peer's start script, which execs its qemu; ipmi_sim is the parent
 * of that qemu, so `power status` is "is the VM process alive", `power off` ends it (after a
 * graceful-shutdown request over the VM's BMC link, then SIGTERM) and a guest that powers itself
 * off reads as off. qemu joins the BMC over a local socket (`-device ipmi-bmc-extern`), so the
 * guest also has /dev/ipmi0 (KCS) and its in-band `ipmitool lan print` shows this BMC's address,
 * reported by the `lan_config_program` script.
 *
 * No `chassis_control` line: in ipmi_sim 2.0.33 (lanserv/bmc_chassis.c) a chassis_control
 * program takes over *power* as well as the boot device, so startcmd would no longer run. The
 * lab BMC therefore answers `chassis bootdev pxe` with "Invalid data field in request" — the
 * master treats that as UNSUPPORTED and powers on anyway; the peers boot from the network first
 * regardless (their NIC has the first boot index).
 */
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { ReconError } from "../lib/errors.js";
import type { CommandRunner } from "../lib/run.js";
import { signalPid, terminateChild } from "./child.js";
import { netnsExecArgv } from "./netns.js";
import { sleep } from "../lib/abortable-sleep.js";

export interface LabBmcSpec {
  /** The peer's name, e.g. `peer1`; also ipmi_sim's `name` (its persistence key). */
  name: string;
  /** Address ipmi_sim listens on (an address of the lab bridge), and what `lan print` reports. */
  address: string;
  netmask: string;
  /** What `lan print` reports as the BMC's MAC (a real BMC has its own NIC). */
  macAddress: string;
  port?: number | undefined;
  username: string;
  password: string;
  /** Local TCP port of the VM link (qemu's ipmi-bmc-extern connects to 127.0.0.1:<port>). */
  vmPort: number;
  /** Files of this BMC. */
  dir: string;
  /** Seconds ipmi_sim waits for a graceful shutdown before SIGTERM, then before SIGKILL. */
  poweroffWaitS?: number | undefined;
  killWaitS?: number | undefined;
}

export interface LabBmcFiles {
  lanConf: string;
  emu: string;
  startScript: string;
  lanControlScript: string;
  stateDir: string;
  /** The start script writes the VM's PID here before it execs qemu (lab down reads it). */
  vmPidFile: string;
  /** The VM process's own stdout/stderr (not ipmi_sim's pipes: those would outlive ipmi_sim). */
  vmLog: string;
}

export function labBmcFiles(dir: string): LabBmcFiles {
  return {
    lanConf: join(dir, "lan.conf"),
    emu: join(dir, "bmc.emu"),
    startScript: join(dir, "start-vm.sh"),
    lanControlScript: join(dir, "lan-control.sh"),
    stateDir: join(dir, "state"),
    vmPidFile: join(dir, "vm.pid"),
    vmLog: join(dir, "vm.log"),
  };
}

/** A word for lan.conf's quoted strings: no quotes, backslashes, whitespace or control chars. */
function confWord(what: string, value: string): string {
  if (!/^[A-Za-z0-9._@%+=:,/-]{1,64}$/.test(value)) {
    throw new ReconError("USAGE", `lab BMC ${what} '${what === "password" ? "[redacted]" : value}' may only hold letters, digits and ._@%+=:,/- (1–64)`);
  }
  return value;
}

/** Single-quotes one argument for /bin/sh. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9._/:=,@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** ipmi_sim's lan.conf for one lab BMC (see ipmi_lan(5)). Holds the password: write it 0600. */
export function renderLanConf(spec: LabBmcSpec): string {
  const files = labBmcFiles(spec.dir);
  return [
    `# recon lab BMC for ${confWord("name", spec.name)} (src/lab/bmc.ts)`,
    `name "${spec.name}"`,
    "set_working_mc 0x20",
    "  startlan 1",
    `    addr ${confWord("address", spec.address)} ${spec.port ?? 623}`,
    "    priv_limit admin",
    // RMCP+ (lanplus) sessions only need the user table; IPMI 1.5 auth types stay md5 only.
    "    allowed_auths_callback md5",
    "    allowed_auths_user md5",
    "    allowed_auths_operator md5",
    "    allowed_auths_admin md5",
    // A GUID is what makes ipmi_sim answer IPMI 2.0 (lanplus) requests.
    `    guid ${guidFor(spec.name)}`,
    `    lan_config_program "${files.lanControlScript} lan"`,
    "  endlan",
    `  serial 15 127.0.0.1 ${spec.vmPort} codec VM`,
    `  startcmd "${files.startScript}"`,
    "  startnow false",
    `  poweroff_wait ${spec.poweroffWaitS ?? 10}`,
    `  kill_wait ${spec.killWaitS ?? 5}`,
    `  user 2 true "${confWord("username", spec.username)}" "${confWord("password", spec.password)}" admin 10 md5`,
    "",
  ].join("\n");
}

/** 32 hex digits derived from the name: stable across restarts of the same lab. */
function guidFor(name: string): string {
  let h = 0x811c9dc5;
  const words: string[] = [];
  for (let round = 0; round < 4; round += 1) {
    for (const ch of `${name}/${round}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    words.push(h.toString(16).padStart(8, "0"));
  }
  return words.join("");
}

/** The .emu command file: one BMC at IPMB 0x20 (docs/lab-facts.md, "IPMI"). */
export function renderBmcEmu(): string {
  return ["mc_setbmc 0x20", "mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr", "mc_enable 0x20", ""].join("\n");
}

/**
 * What ipmi_sim runs on power on: records its PID (which qemu keeps through exec) and execs the
 * VM. ipmi_sim already runs inside the lab namespace, so qemu opens its tap there.
 */
export function renderStartScript(spec: LabBmcSpec, vmArgv: readonly string[]): string {
  if (vmArgv.length === 0) throw new ReconError("USAGE", "renderStartScript: empty VM command");
  const files = labBmcFiles(spec.dir);
  return [
    "#!/bin/sh",
    `# Started by ipmi_sim (${spec.name}'s BMC) on power on; ipmi_sim ends it on power off.`,
    `echo $$ > ${shellQuote(files.vmPidFile)}`,
    `exec ${vmArgv.map(shellQuote).join(" \\\n  ")} \\\n  </dev/null >>${shellQuote(files.vmLog)} 2>&1`,
    "",
  ].join("\n");
}

/** ipmi_sim's lan_config_program: answers `get <parm>…` with the BMC's LAN settings. */
export function renderLanControlScript(spec: LabBmcSpec): string {
  return [
    "#!/bin/sh",
    "# ipmi_sim lan_config_program: <device> get|set|check <parm> [...]; only get is answered.",
    '[ "$2" = get ] || exit 0',
    "shift 2",
    'for p in "$@"; do',
    '  case "$p" in',
    `    ip_addr) v=${spec.address} ;;`,
    "    ip_addr_src) v=static ;;",
    `    mac_addr) v=${spec.macAddress} ;;`,
    `    subnet_mask) v=${spec.netmask} ;;`,
    "    default_gw_ip_addr|backup_gw_ip_addr) v=0.0.0.0 ;;",
    "    default_gw_mac_addr|backup_gw_mac_addr) v=00:00:00:00:00:00 ;;",
    '    *) echo "Invalid parameter: $p"; exit 1 ;;',
    "  esac",
    '  echo "$p:$v"',
    "done",
    "",
  ].join("\n");
}

export function ipmiSimArgv(files: LabBmcFiles): string[] {
  return ["ipmi_sim", "-c", files.lanConf, "-f", files.emu, "-s", files.stateDir, "-n"];
}

/** Writes the BMC's files (lan.conf 0600: it holds the password). */
export async function writeLabBmc(spec: LabBmcSpec, vmArgv: readonly string[]): Promise<LabBmcFiles> {
  const files = labBmcFiles(spec.dir);
  await mkdir(files.stateDir, { recursive: true, mode: 0o700 });
  await writeFile(files.lanConf, renderLanConf(spec), { mode: 0o600 });
  await chmod(files.lanConf, 0o600);
  await writeFile(files.emu, renderBmcEmu());
  await writeFile(files.startScript, renderStartScript(spec, vmArgv), { mode: 0o755 });
  await writeFile(files.lanControlScript, renderLanControlScript(spec), { mode: 0o755 });
  await chmod(files.startScript, 0o755);
  await chmod(files.lanControlScript, 0o755);
  return files;
}

export interface RunningBmc {
  pid: number;
  files: LabBmcFiles;
  /** PID of the VM ipmi_sim started last, if it is still that VM (qemu) and alive. */
  vmPid(): Promise<number | undefined>;
  exited(): boolean;
  /** Ends ipmi_sim and the VM it started (by their PIDs). */
  stop(): Promise<void>;
}

/** True when `pid` is alive and not a zombie, and its argv[0] ends with `name` (PID reuse guard). */
export async function processIs(pid: number, name: RegExp): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    if (/^\d+ \(.*\) Z/.test(stat)) return false;
    const argv0 = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0")[0] ?? "";
    return name.test(argv0);
  } catch {
    return false;
  }
}

export async function readPid(file: string): Promise<number | undefined> {
  const text = await readFile(file, "utf8").catch(() => "");
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone (bounded). */
export async function killPid(pid: number, name: RegExp, graceMs = 5000): Promise<void> {
  if (!(await processIs(pid, name)) || !signalPid(pid, "SIGTERM")) return;
  const deadline = Date.now() + graceMs;
  while (await processIs(pid, name)) {
    if (Date.now() > deadline) {
      signalPid(pid, "SIGKILL");
      await sleep(200);
      return;
    }
    await sleep(100);
  }
}

/** Polls `ss` in the namespace until ipmi_sim's UDP socket is bound (bounded). */
async function waitForUdp(runner: CommandRunner, ns: string, address: string, port: number, timeoutMs: number, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [command, ...args] = netnsExecArgv(ns, ["ss", "-Hnlu"]);
    const result = await runner.run(command!, args);
    if (result.stdout.includes(`${address}:${port}`)) return;
    if (exited()) throw new ReconError("COMMAND_FAILED", `ipmi_sim for ${address} exited at start`);
    if (Date.now() > deadline) throw new ReconError("COMMAND_FAILED", `ipmi_sim did not bind ${address}:${port} within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Starts ipmi_sim for `spec` inside `ns` (files must be written first). */
export async function startLabBmc(runner: CommandRunner, ns: string, spec: LabBmcSpec): Promise<RunningBmc> {
  const files = labBmcFiles(spec.dir);
  const argv = netnsExecArgv(ns, ipmiSimArgv(files));
  let output = "";
  let done = false;
  const child: ResultPromise = execa(argv[0]!, argv.slice(1), { reject: false, stdin: "ignore", all: true, cwd: spec.dir });
  child.all?.on("data", (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-4000);
  });
  const finished = child.then(() => {
    done = true;
  });
  if (child.pid === undefined) throw new ReconError("COMMAND_FAILED", `ipmi_sim for ${spec.name} did not start`);
  const pid = child.pid;
  const vmPid = async () => {
    const recorded = await readPid(files.vmPidFile);
    return recorded !== undefined && (await processIs(recorded, /qemu|sleep|sh$/)) ? recorded : undefined;
  };
  const bmc: RunningBmc = {
    pid,
    files,
    vmPid,
    exited: () => done,
    async stop() {
      const vm = await vmPid();
      if (vm !== undefined) await killPid(vm, /qemu|sleep|sh$/);
      if (!done) await terminateChild(pid, finished);
    },
  };
  try {
    await waitForUdp(runner, ns, spec.address, spec.port ?? 623, 10_000, () => done);
  } catch (error) {
    await bmc.stop();
    throw new ReconError("COMMAND_FAILED", `${(error as Error).message}; ipmi_sim said: ${output.trim().slice(-500) || "(nothing)"}`, { cause: error });
  }
  return bmc;
}
