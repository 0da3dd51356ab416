/**
 * The test helpers' waits fail when their subject died (issue #9 item 7), shown with real
 * children that exit early — `node -e "process.exit(3)"`, a qemu that rejects its arguments, a
 * `recon master` whose namespace does not exist — not mocks. Each case asserts the wait failed
 * well before its timeout and that the error carries the end of the subject's log.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startVm } from "../../src/lab/vm.js";
import { recordedPid, startMasterInNetns, waitForMaster } from "../helpers/master-process.js";
import { stopChild, stopPid } from "../helpers/stop-child.js";
import { vmSubject, waitUntil, whileAlive, type WaitSubject } from "../helpers/wait.js";

let work: string;

beforeAll(async () => {
  work = await mkdtemp(join("/var/tmp", "recon-wait-helpers-"));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** A real child as a wait subject, with its collected output as the tail. */
function childSubject(argv: string[]) {
  let output = "";
  let exited = false;
  const child = execa(argv[0]!, argv.slice(1), { reject: false, all: true });
  child.all?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  void child.then(() => (exited = true));
  const subject: WaitSubject = { name: `${argv[0]} (pid ${child.pid})`, exited: () => exited, tail: () => output };
  return { child, subject };
}

async function elapsed<T>(run: () => Promise<T>): Promise<{ ms: number; error: unknown }> {
  const start = Date.now();
  try {
    await run();
    return { ms: Date.now() - start, error: undefined };
  } catch (error) {
    return { ms: Date.now() - start, error };
  }
}

describe("waitUntil", () => {
  it("fails within a poll or two when its subject exits, with the subject's last output", async () => {
    const { child, subject } = childSubject([process.execPath, "-e", "console.log('about to die'); process.exit(3)"]);
    try {
      const { ms, error } = await elapsed(() =>
        waitUntil({ what: "a line that never comes", timeoutMs: 60_000, everyMs: 100, subjects: [subject] }, () => undefined),
      );
      expect(error).toBeInstanceOf(Error);
      expect((error as { code?: string }).code).toBe("SUBJECT_EXITED");
      expect((error as Error).message).toMatch(/a line that never comes: \S*node \(pid \d+\) exited before it happened/);
      expect((error as Error).message).toContain("about to die");
      expect(ms).toBeLessThan(5_000);
    } finally {
      await stopChild(child);
    }
  });

  it("still succeeds when the awaited thing happened just before the subject exited", async () => {
    const marker = join(work, "done-then-exit");
    const { child, subject } = childSubject([process.execPath, "-e", `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ok'); process.exit(0)`]);
    try {
      await child;
      expect(subject.exited()).toBe(true);
      const value = await waitUntil({ what: "the marker", timeoutMs: 5_000, subjects: [subject] }, () => readFile(marker, "utf8"));
      expect(value).toBe("ok");
    } finally {
      await stopChild(child);
    }
  });

  it("fails at its deadline while the subject lives, naming the last probe error", async () => {
    const { child, subject } = childSubject(["sleep", "30"]);
    try {
      const { ms, error } = await elapsed(() =>
        waitUntil({ what: "a probe that throws", timeoutMs: 600, everyMs: 100, subjects: [subject] }, () => {
          throw new Error("connection refused");
        }),
      );
      expect((error as { code?: string }).code).toBe("WAIT_TIMEOUT");
      expect((error as Error).message).toMatch(/a probe that throws: not within 1 s \(last probe: connection refused\)/);
      expect(ms).toBeGreaterThanOrEqual(600);
      expect(ms).toBeLessThan(3_000);
    } finally {
      await stopChild(child);
    }
  });
});

describe("waitForMaster", () => {
  it("fails at once when the master exited (here: its namespace does not exist), with its log", async () => {
    const master = startMasterInNetns(`rcn-none-${process.pid}`, ["--data-dir", join(work, "data"), "--run-dir", join(work, "run")]);
    try {
      const { ms, error } = await elapsed(() => waitForMaster(master, /msg="master ready"/, 60_000));
      expect((error as { code?: string }).code).toBe("SUBJECT_EXITED");
      expect((error as Error).message).toMatch(/recon master \(pid \d+\) exited before it happened/);
      expect((error as Error).message).toMatch(/Cannot open network namespace[\s\S]*exit code [1-9]/);
      expect(ms).toBeLessThan(10_000);
    } finally {
      await master.stop();
    }
  });

  it("fails when another subject it was given (the VM whose request is awaited) exited", async () => {
    const master = startMasterInNetns(`rcn-none-${process.pid}`, []);
    const vm = childSubject([process.execPath, "-e", "console.error('vm crashed'); process.exit(3)"]);
    try {
      await vm.child;
      // The master may or may not have died first; either way the wait must fail fast.
      const { ms, error } = await elapsed(() => waitForMaster(master, /never/, 60_000, [vm.subject]));
      expect((error as { code?: string }).code).toBe("SUBJECT_EXITED");
      expect(ms).toBeLessThan(10_000);
    } finally {
      await master.stop();
    }
  });
});

describe("RunningVm.waitForSerial", () => {
  const spec = (name: string, extra: string[] = []) => ({
    name,
    memoryMiB: 64,
    cpus: 1,
    firmware: "bios" as const,
    disks: [],
    nics: [],
    serialLog: join(work, `${name}.serial.log`),
    noReboot: true,
    extra,
  });

  it("fails as soon as qemu exits (here: it rejects an argument), with qemu's message", async () => {
    const vm = startVm(spec("recon-wait-badarg", ["-no-such-option"]));
    try {
      const { ms, error } = await elapsed(() => vm.waitForSerial(/login:/, 120_000));
      expect((error as { code?: string }).code).toBe("COMMAND_FAILED");
      expect((error as Error).message).toMatch(/VM recon-wait-badarg exited \(exit code 1\) before \/login:\/ appeared .*no-such-option/);
      expect(ms).toBeLessThan(10_000);
    } finally {
      await vm.stop();
    }
  });

  it("the error carries the end of the serial log when the VM wrote some and then died", async () => {
    const log = join(work, "recon-wait-died.serial.log");
    // The wrapper stands in for a guest that printed its boot and then powered off.
    const vm = startVm(spec("recon-wait-died"), { wrapper: ["sh", "-c", `printf 'booting\\nkernel panic: no init\\n' > ${log}; exit 0`, "sh"] });
    try {
      const { ms, error } = await elapsed(() => vm.waitForSerial(/msg="master ready"/, 120_000));
      expect((error as Error).message).toMatch(/exited \(exit code 0\)[\s\S]*last lines of .*recon-wait-died\.serial\.log:\nbooting\nkernel panic: no init/);
      expect(ms).toBeLessThan(10_000);
    } finally {
      await vm.stop();
    }
  });

  it("a line written just before the VM exited still answers the wait", async () => {
    const log = join(work, "recon-wait-late.serial.log");
    const vm = startVm(spec("recon-wait-late"), { wrapper: ["sh", "-c", `echo 'msg="master ready"' > ${log}; exit 0`, "sh"] });
    try {
      await expect(vm.waitForSerial(/msg="master ready"/, 10_000)).resolves.toContain('msg="master ready"');
      expect(vm.exited()).toBe(true);
    } finally {
      await vm.stop();
    }
  });

  it("a deliberate stop() ends the VM and a pending wait on it fails promptly instead of hanging", async () => {
    const vm = startVm(spec("recon-wait-stopped"), { wrapper: ["sh", "-c", "exec sleep 60", "sh"] });
    const pending = elapsed(() => vm.waitForSerial(/never/, 120_000));
    await new Promise((r) => setTimeout(r, 300));
    expect(vm.exited()).toBe(false);
    await vm.stop();
    expect(vm.exited()).toBe(true);
    const { ms, error } = await pending;
    expect((error as Error).message).toMatch(/VM recon-wait-stopped exited \(signal SIGTERM\)/);
    expect(ms).toBeLessThan(10_000);
  });
});

describe("whileAlive", () => {
  it("fails a VM's wait once the master it depends on exited, with the master's output", async () => {
    const peer = startVm(
      { name: "recon-wait-peer", memoryMiB: 64, cpus: 1, firmware: "bios", disks: [], nics: [], serialLog: join(work, "peer.serial.log") },
      { wrapper: ["sh", "-c", "exec sleep 60", "sh"] },
    );
    const master = childSubject([process.execPath, "-e", "console.log('master: dnsmasq failed'); setTimeout(() => process.exit(1), 300)"]);
    try {
      const { ms, error } = await elapsed(() =>
        whileAlive("the peer's role line", [master.subject, vmSubject(peer)], peer.waitForSerial(/role=peer/, 120_000)),
      );
      expect((error as { code?: string }).code).toBe("SUBJECT_EXITED");
      expect((error as Error).message).toMatch(/the peer's role line: \S*node \(pid \d+\) exited[\s\S]*master: dnsmasq failed/);
      expect(ms).toBeLessThan(10_000);
      expect(peer.exited()).toBe(false);
    } finally {
      await peer.stop();
      await stopChild(master.child);
    }
  });
});

describe("master clean-up does not depend on master.lock's format", () => {
  it("reads a JSON pid field or a bare number, and nothing else", () => {
    expect(recordedPid('{"pid":4242,"startedAt":"2026-12-01T00:00:00Z"}\n')).toBe(4242);
    expect(recordedPid("4242\n")).toBe(4242);
    expect(recordedPid("")).toBeUndefined();
    expect(recordedPid("{not json")).toBeUndefined();
    expect(recordedPid('{"pid":1}')).toBeUndefined();
  });

  it("stopPid ends a real process recorded in a JSON lock, and only when its program matches", async () => {
    const sleeper = execa("sleep", ["60"], { reject: false });
    try {
      const lock = join(work, "master.lock");
      await writeFile(lock, `${JSON.stringify({ pid: sleeper.pid, host: "test" })}\n`);
      const pid = recordedPid(await readFile(lock, "utf8"))!;
      expect(pid).toBe(sleeper.pid);
      expect(await stopPid(pid, "node")).toBe(false);
      expect(sleeper.exitCode).toBeNull();
      expect(await stopPid(pid, "sleep")).toBe(true);
      const result = await sleeper;
      expect(result.signal).toBe("SIGTERM");
    } finally {
      await stopChild(sleeper);
    }
  });
});
