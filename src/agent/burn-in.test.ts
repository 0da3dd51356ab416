import { describe, expect, it } from "vitest";
import { planBoot, type BootServer } from "../boot/plan-boot.js";
import { parseAgentConfig } from "./agent-config.js";
import { parseCmdline } from "../model/kernel-cmdline.js";
import { parseBurnInArg, renderBurnInArg } from "../model/peer-contract.js";
import { parseSiteConfig } from "../model/site-config.js";
import { assertReadOnlyFio, fioReadArgv, planBurnIn } from "./burn-in.js";

const settings = { cpuS: 60, memoryS: 60, memoryPercent: 50, memtesterMiB: 256, memtesterS: 600, diskReadS: 60 };

describe("planBurnIn", () => {
  it("CPU, memory, memtester, then fio on each whole disk, each bounded (full plan)", () => {
    const plan = planBurnIn(settings, ["nvme0n1", "sda", "cciss/c0d0"]);
    expect(
      plan
        .map((spec) => `${spec.id} [${spec.timeoutMs} ms] ${spec.argv.join(" ")} > ${spec.stdout ?? "(the tool writes it)"}; files ${spec.files.join(" ")}`)
        .join("\n"),
    ).toMatchInlineSnapshot(`
      "stress-ng-cpu [90000 ms] stress-ng --cpu 0 --cpu-method all --verify --timeout 60s --metrics-brief --yaml raw/burn-in/stress-ng-cpu.yaml > (the tool writes it); files raw/burn-in/stress-ng-cpu.yaml
      stress-ng-vm [90000 ms] stress-ng --vm 0 --vm-bytes 50% --verify --timeout 60s --metrics-brief --yaml raw/burn-in/stress-ng-vm.yaml > (the tool writes it); files raw/burn-in/stress-ng-vm.yaml
      memtester [600000 ms] memtester 256M 1 > raw/burn-in/memtester.txt; files raw/burn-in/memtester.txt
      fio-read.nvme0n1 [90000 ms] fio --readonly --name=fio-read --filename=/dev/nvme0n1 --rw=randread --bs=1M --direct=1 --ioengine=psync --runtime=60 --time_based --output-format=json > raw/burn-in/fio-read.nvme0n1.json; files raw/burn-in/fio-read.nvme0n1.json
      fio-read.sda [90000 ms] fio --readonly --name=fio-read --filename=/dev/sda --rw=randread --bs=1M --direct=1 --ioengine=psync --runtime=60 --time_based --output-format=json > raw/burn-in/fio-read.sda.json; files raw/burn-in/fio-read.sda.json
      fio-read.cciss!c0d0 [90000 ms] fio --readonly --name=fio-read --filename=/dev/cciss/c0d0 --rw=randread --bs=1M --direct=1 --ioengine=psync --runtime=60 --time_based --output-format=json > raw/burn-in/fio-read.cciss!c0d0.json; files raw/burn-in/fio-read.cciss!c0d0.json"
    `);
  });

  it("never emits a fio workload that could write: every fio argv is read-only, direct, on /dev/<disk>", () => {
    for (const disk of ["sda", "vda", "nvme0n1", "nvme12n3", "mmcblk0", "cciss/c0d0", "xvda"]) {
      const argv = fioReadArgv(settings, disk);
      expect(() => assertReadOnlyFio(argv)).not.toThrow();
      expect(argv).toContain("--readonly");
      expect(argv).toContain("--direct=1");
      expect(argv.filter((arg) => arg.startsWith("--rw="))).toEqual(["--rw=randread"]);
      expect(argv.filter((arg) => arg.startsWith("--filename="))).toEqual([`--filename=/dev/${disk}`]);
      expect(argv.some((arg) => /write|trim|verify/.test(arg))).toBe(false);
    }
    // No disks found: no fio at all.
    expect(planBurnIn(settings, []).map((spec) => spec.argv[0])).toEqual(["stress-ng", "stress-ng", "memtester"]);
  });

  it("the read-only guard refuses every write, trim or unsafe fio argv", () => {
    const good = fioReadArgv(settings, "sda");
    const variant = (from: string, to: string | null) => good.flatMap((arg) => (arg === from ? (to === null ? [] : [to]) : [arg]));
    for (const rw of ["write", "randwrite", "rw", "readwrite", "randrw", "trim", "randtrim", "trimwrite"]) {
      expect(() => assertReadOnlyFio(variant("--rw=randread", `--rw=${rw}`)), rw).toThrow(/not a read workload/);
    }
    expect(() => assertReadOnlyFio(variant("--rw=randread", null))).toThrow(/not a read workload/);
    expect(() => assertReadOnlyFio(variant("--readonly", null))).toThrow(/without --readonly/);
    expect(() => assertReadOnlyFio(variant("--direct=1", "--direct=0"))).toThrow(/--direct=1/);
    expect(() => assertReadOnlyFio([...good, "--verify=md5"])).toThrow(/--verify is not allowed/);
    expect(() => assertReadOnlyFio(variant("--filename=/dev/sda", "--filename=/tmp/file"))).toThrow(/not a disk under \/dev/);
    expect(() => assertReadOnlyFio(variant("--filename=/dev/sda", "--filename=/dev/../etc/passwd"))).toThrow(/not a disk under \/dev/);
    expect(() => assertReadOnlyFio([...good, "job.fio"])).toThrow(/not of the form/);
  });
});

describe("burn-in from the site config to the agent", () => {
  it("is off by default; on, the bounds travel as one kernel argument and come back the same", () => {
    expect(parseSiteConfig("").burnIn.enabled).toBe(false);
    const config = parseSiteConfig("burnIn: { enabled: true, cpuS: 20, diskReadS: 15 }\n");
    const { enabled: _enabled, ...bounds } = config.burnIn;
    expect(renderBurnInArg(bounds)).toBe("cpuS:20,memoryS:60,memoryPercent:50,memtesterMiB:256,memtesterS:600,diskReadS:15");
    expect(parseBurnInArg(renderBurnInArg(bounds))).toEqual(bounds);
    expect(parseBurnInArg("cpuS:20")).toBeUndefined();
    expect(parseBurnInArg(`${renderBurnInArg(bounds)},extra:1`)).toBeUndefined();
    expect(parseBurnInArg(renderBurnInArg(bounds).replace("cpuS:20", "cpuS:0"))).toBeUndefined();
  });

  it("one decision for every machine: each peer's kernel line carries the same recon.burnin=, which the agent reads back", () => {
    const server: BootServer = { address: "10.20.0.1", httpPort: 80, imageLabel: "debian-12", imageArch: "x86_64", imageKernelArgs: [], arm64Firmware: false };
    const argsOf = (yaml: string, mac: string) => {
      const plan = planBoot({ mac, arch: "bios" }, parseSiteConfig(yaml), undefined, server, "tok123");
      if (plan.kind !== "boot") throw new Error(plan.reason);
      return plan.kernelArgs;
    };
    const on = "burnIn: { enabled: true, cpuS: 20 }\nhosts:\n  52:54:00:00:00:02: { postAction: stay }\n";
    const burnArgs = ["52:54:00:00:00:01", "52:54:00:00:00:02"].map((mac) => argsOf(on, mac).filter((arg) => arg.startsWith("recon.burnin=")));
    expect(burnArgs).toEqual([
      ["recon.burnin=cpuS:20,memoryS:60,memoryPercent:50,memtesterMiB:256,memtesterS:600,diskReadS:60"],
      ["recon.burnin=cpuS:20,memoryS:60,memoryPercent:50,memtesterMiB:256,memtesterS:600,diskReadS:60"],
    ]);
    expect(argsOf("burnIn: { enabled: false, cpuS: 20 }\n", "52:54:00:00:00:01").some((arg) => arg.startsWith("recon.burnin"))).toBe(false);
    const agent = parseAgentConfig(parseCmdline(argsOf(on, "52:54:00:00:00:01").join(" ")));
    expect(agent.burnIn).toEqual({ cpuS: 20, memoryS: 60, memoryPercent: 50, memtesterMiB: 256, memtesterS: 600, diskReadS: 60 });
    expect(parseAgentConfig(parseCmdline(argsOf("", "52:54:00:00:00:01").join(" "))).burnIn).toBeUndefined();
    expect(() => parseAgentConfig(parseCmdline(`${argsOf("", "52:54:00:00:00:01").join(" ")} recon.burnin=cpuS:x`))).toThrow(
      /recon\.burnin=cpuS:x is not of the form/,
    );
  });

  it("refuses bad bounds with the key and the fix", () => {
    expect(() => parseSiteConfig("burnIn: { enabled: true, cpuS: 0, memoryPercent: 95, disk: 3 }\n")).toThrow(
      /burnIn: unknown key\(s\) 'disk'; remove them or fix the spelling/,
    );
    expect(() => parseSiteConfig("burnIn: { enabled: true, cpuS: 0, memoryPercent: 95 }\n")).toThrow(
      /burnIn\.cpuS: at least 1 second\n {2}burnIn\.memoryPercent: at most 90 \(%\): the live system runs in RAM too/,
    );
    expect(() => parseSiteConfig("burnIn: { enabled: yes please }\n")).toThrow(/burnIn\.enabled: expected boolean, got string/);
  });
});
