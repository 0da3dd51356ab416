/**
 * The burn-in plan (docs/workload.md, "Burn-in"). Pure: the master's burn-in settings (from
 * recon.burnin= on the kernel command line, model/peer-contract.ts) and the whole disks discovery
 * found in, a list of collectors out, which build-upload.ts runs one at a time after the
 * inventory collectors (burn-in must not compete with them, nor its tests with each other).
 *
 * Each test is bounded twice: by its own time limit (stress-ng --timeout, fio --runtime) and by
 * the agent's kill of its process group a grace period later (memtester has no time option: its
 * bound is the kill alone). Outputs stay raw; src/inventory/parse/burn-in.ts reads them.
 *
 * recon never writes a local disk: fio runs with --readonly (fio then refuses any write or trim)
 * and a read workload on the whole disk, and assertReadOnlyFio refuses any fio argv that is not
 * so before it can run.
 */
import type { BurnInSettings } from "../model/peer-contract.js";
import { fileSafeName, type CommandCollector } from "./collectors.js";

/** Added to a tool's own time limit before the agent kills it (start-up, the tool's final report). */
export const BURN_IN_GRACE_S = 30;

/** The directory of the burn-in outputs inside the upload. */
export const BURN_IN_DIR = "raw/burn-in";

/** fio's rw values that only read (fio's HOWTO, "rw"); every other one writes or trims. */
const READ_ONLY_RW = new Set(["read", "randread"]);

/** A fio argv that could write anything is refused here (a ReconError would be the wrong tool: this is a bug). */
export function assertReadOnlyFio(argv: string[]): void {
  const options = new Map<string, string>();
  for (const arg of argv.slice(1)) {
    const match = /^--([^=]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new Error(`burn-in: fio argument '${arg}' is not of the form --name[=value]`);
    options.set(match[1]!, match[2] ?? "");
  }
  if (argv[0] !== "fio") throw new Error(`burn-in: not a fio argv: ${argv[0]}`);
  if (!options.has("readonly")) throw new Error("burn-in: fio without --readonly");
  const rw = options.get("rw");
  if (rw === undefined || !READ_ONLY_RW.has(rw)) throw new Error(`burn-in: fio --rw=${rw ?? "(default)"} is not a read workload`);
  if (options.get("direct") !== "1") throw new Error("burn-in: fio without --direct=1");
  for (const key of ["verify", "trim_percentage", "write_iolog", "do_verify", "create_on_open", "fallocate"]) {
    if (options.has(key)) throw new Error(`burn-in: fio --${key} is not allowed`);
  }
  const filename = options.get("filename") ?? "";
  if (!/^\/dev\/[A-Za-z0-9][A-Za-z0-9_.:!+/-]*$/.test(filename) || filename.includes("..")) {
    throw new Error(`burn-in: fio --filename=${filename} is not a disk under /dev`);
  }
}

export function stressNgCpuArgv(settings: BurnInSettings, yamlFile: string): string[] {
  // --cpu 0: one worker per online CPU; --cpu-method all cycles every method; --verify checks results.
  return ["stress-ng", "--cpu", "0", "--cpu-method", "all", "--verify", "--timeout", `${settings.cpuS}s`, "--metrics-brief", "--yaml", yamlFile];
}

export function stressNgVmArgv(settings: BurnInSettings, yamlFile: string): string[] {
  // --vm-bytes N% is of the memory available, shared by the workers; --verify checks what was written.
  return [
    "stress-ng",
    "--vm",
    "0",
    "--vm-bytes",
    `${settings.memoryPercent}%`,
    "--verify",
    "--timeout",
    `${settings.memoryS}s`,
    "--metrics-brief",
    "--yaml",
    yamlFile,
  ];
}

export function memtesterArgv(settings: BurnInSettings): string[] {
  // One pass over memtesterMiB of locked memory.
  return ["memtester", `${settings.memtesterMiB}M`, "1"];
}

/** fio reading the whole disk `/dev/<disk>` for diskReadS seconds, read only. */
export function fioReadArgv(settings: BurnInSettings, disk: string): string[] {
  const argv = [
    "fio",
    "--readonly",
    `--name=fio-read`,
    `--filename=/dev/${disk}`,
    "--rw=randread",
    "--bs=1M",
    "--direct=1",
    "--ioengine=psync",
    `--runtime=${settings.diskReadS}`,
    "--time_based",
    "--output-format=json",
  ];
  assertReadOnlyFio(argv);
  return argv;
}

/** The burn-in collectors in the order they run: CPU, memory (stress-ng, memtester), each disk. */
export function planBurnIn(settings: BurnInSettings, disks: string[]): CommandCollector[] {
  const ms = (seconds: number) => (seconds + BURN_IN_GRACE_S) * 1000;
  // stress-ng writes its --yaml file itself (its stdout is empty, its log goes to stderr); the others' output is stdout.
  const test = (id: string, output: string, timeoutMs: number, argv: (file: string) => string[], writesItself = false): CommandCollector => {
    const file = `${BURN_IN_DIR}/${output}`;
    return { kind: "command", id, argv: argv(file), stdout: writesItself ? null : file, files: [file], timeoutMs };
  };
  return [
    test("stress-ng-cpu", "stress-ng-cpu.yaml", ms(settings.cpuS), (file) => stressNgCpuArgv(settings, file), true),
    test("stress-ng-vm", "stress-ng-vm.yaml", ms(settings.memoryS), (file) => stressNgVmArgv(settings, file), true),
    // memtester has no time option: its bound is the kill alone.
    test("memtester", "memtester.txt", settings.memtesterS * 1000, () => memtesterArgv(settings)),
    ...disks.map((disk) =>
      test(`fio-read.${fileSafeName(disk)}`, `fio-read.${fileSafeName(disk)}.json`, ms(settings.diskReadS), () => fioReadArgv(settings, disk)),
    ),
  ];
}
