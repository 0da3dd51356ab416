/**
 * IPMI over LAN against a real BMC: OpenIPMI's ipmi_sim as the lab renders it (src/lab/bmc.ts),
 * inside a network namespace made here, driven by recon's ipmitool module through the real
 * ipmitool. The BMC's startcmd runs a bounded `sleep` standing in for the VM, so power on/off/
 * cycle are observable as a process. Also: bad credentials → AUTH, nobody there → UNREACHABLE
 * within the bound, a runner timeout → TIMEOUT, no bootdev on this BMC → UNSUPPORTED, and the
 * password never appears in any ipmitool argv (read from /proc while it runs).
 */
import { readdir, readFile, writeFile, chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createIpmiClient, IpmiError, type BmcTarget } from "../../src/ipmi/ipmitool.js";
import { processIs, readPid, startLabBmc, writeLabBmc, type LabBmcSpec, type RunningBmc } from "../../src/lab/bmc.js";
import { addressAddArgs, createLab, netnsWrapper, type Lab } from "../../src/lab/netns.js";
import { execaRunner, runChecked } from "../../src/lib/run.js";

const PREFIX = `rcn-i${process.pid % 100000}`;
const BMC_ADDRESS = "10.79.0.201";
const PASSWORD = "lab-pw-5f2c9a";

let work: string;
let lab: Lab | undefined;
let bmc: RunningBmc | undefined;
let spec: LabBmcSpec;

const target = (overrides: Partial<BmcTarget> = {}): BmcTarget => ({
  address: BMC_ADDRESS,
  username: "admin",
  password: { reveal: () => PASSWORD },
  name: "peer1",
  ...overrides,
});

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-ipmi-"));
  lab = await createLab(execaRunner, { prefix: PREFIX, bridge: "rcnbri", bridgeAddress: "10.79.0.1/24" });
  await runChecked(execaRunner, "ip", addressAddArgs(lab.ns, "rcnbri", `${BMC_ADDRESS}/24`));
  spec = {
    name: "peer1",
    address: BMC_ADDRESS,
    netmask: "255.255.255.0",
    macAddress: "52:54:00:b0:00:01",
    username: "admin",
    password: PASSWORD,
    vmPort: 9201,
    dir: join(work, "bmc-peer1"),
    poweroffWaitS: 2,
    killWaitS: 2,
  };
  // The "VM": a bounded sleep; ipmi_sim starts it on power on and ends it on power off.
  await writeLabBmc(spec, ["sleep", "300"]);
  bmc = await startLabBmc(execaRunner, lab.ns, spec);
});

afterAll(async () => {
  try {
    await bmc?.stop();
  } finally {
    await lab?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  }
});

const client = (options: Parameters<typeof createIpmiClient>[0] extends infer O ? Partial<O> : never = {}) =>
  createIpmiClient({ runner: execaRunner, wrapper: netnsWrapper(lab!.ns), ...options });

describe("ipmitool against the lab's ipmi_sim", () => {
  it("power status/on/cycle/off drive the BMC's VM process; suite 17 is refused and 3 used", async () => {
    const suites: string[] = [];
    const ipmi = client({ onSpawn: (argv) => suites.push(argv[argv.indexOf("-C") + 1]!) });
    expect(await ipmi.powerStatus(target())).toBe("off");
    expect(suites).toEqual(["17", "3"]);

    expect(await ipmi.power(target(), "on")).toBe("Up/On");
    const first = await until("the VM process", 5000, async () => {
      const pid = await readPid(bmc!.files.vmPidFile);
      return pid !== undefined && (await processIs(pid, /sleep/)) ? pid : undefined;
    });
    expect(await ipmi.powerStatus(target())).toBe("on");

    expect(await ipmi.power(target(), "cycle")).toBe("Cycle");
    const second = await until("a new VM process after cycle", 15_000, async () => {
      const pid = await readPid(bmc!.files.vmPidFile);
      return pid !== undefined && pid !== first && (await processIs(pid, /sleep/)) ? pid : undefined;
    });
    expect(await processIs(first, /sleep/)).toBe(false);

    expect(await ipmi.power(target(), "off")).toBe("Down/Off");
    await until("the VM process to end", 15_000, async () => ((await processIs(second, /sleep/)) ? undefined : true));
    expect(await ipmi.powerStatus(target())).toBe("off");
    // Later calls go straight to the suite that worked.
    expect(suites.slice(2).every((s) => s === "3")).toBe(true);
  });

  it("mc info and lan print (the BMC reports its own address); bootdev pxe is UNSUPPORTED here", async () => {
    const ipmi = client();
    expect((await ipmi.mcInfo(target())).manufacturerName).toBe("MontaVista Software, Inc.");
    const lan = await ipmi.lanPrint(target(), 1);
    expect(lan.ipAddress).toBe(BMC_ADDRESS);
    expect(lan.macAddress).toBe("52:54:00:b0:00:01");
    const error = await ipmi.bootdevPxe(target()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IpmiError);
    expect((error as IpmiError).failure).toBe("UNSUPPORTED");
  });

  it("a wrong password is AUTH, named by BMC, and not retried", async () => {
    let runs = 0;
    const error = await client({ onSpawn: () => (runs += 1) })
      .powerStatus(target({ password: { reveal: () => "not-the-password" } }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IpmiError);
    expect((error as IpmiError).failure).toBe("AUTH");
    expect((error as IpmiError).message).toMatch(/^BMC peer1 \(10\.79\.0\.201\): chassis power status failed \(AUTH\)/);
    expect((error as IpmiError).message).not.toContain("not-the-password");
    // Suite 17 is refused (CIPHER) first, then 3 fails on the password: no more runs.
    expect(runs).toBe(2);
  });

  it("a password file works only with mode 0600", async () => {
    const file = join(work, "bmc.pw");
    await writeFile(file, `${PASSWORD}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
    expect(await client().powerStatus(target({ password: undefined, passwordFile: file }))).toBe("off");
    await chmod(file, 0o644);
    await expect(client().powerStatus(target({ password: undefined, passwordFile: file }))).rejects.toThrow(/readable by group or others.*mode 644/);
  });

  it("nobody at the address: UNREACHABLE within the bound, and the password is in no argv", async () => {
    const seen: string[] = [];
    let running = true;
    // Read every ipmitool process's argv from /proc while the calls run (each waits ~2 s).
    const watcher = (async () => {
      while (running) {
        for (const entry of await readdir("/proc").catch(() => [] as string[])) {
          if (!/^\d+$/.test(entry)) continue;
          const argv = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
          if (argv.split("\0").some((word) => word.endsWith("ipmitool")) && argv.includes("10.79.0.99")) seen.push(argv);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const started = Date.now();
    const error = await client({ requestTimeoutS: 1, requestRetries: 1, attempts: 2, retryDelayMs: 100, timeoutMs: 10_000 })
      .powerStatus(target({ address: "10.79.0.99" }))
      .catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    running = false;
    await watcher;
    expect((error as IpmiError).failure).toBe("UNREACHABLE");
    expect((error as IpmiError).message).toMatch(/^BMC peer1 \(10\.79\.0\.99\): chassis power status failed \(UNREACHABLE\)/);
    // 2 attempts × (1 s × 2 tries inside ipmitool) plus process start-up.
    expect(elapsed).toBeLessThan(10_000);
    expect(seen.length).toBeGreaterThan(0);
    for (const argv of seen) {
      expect(argv).not.toContain(PASSWORD);
      expect(argv.split("\0")).toContain("-E");
    }
  });

  it("ipmitool still running at the runner's bound is TIMEOUT", async () => {
    const error = await client({ requestTimeoutS: 3, requestRetries: 3, attempts: 1, timeoutMs: 800 })
      .powerStatus(target({ address: "10.79.0.98" }))
      .catch((e: unknown) => e);
    expect((error as IpmiError).failure).toBe("TIMEOUT");
  });
});
