/**
 * The blocked-by-lockdown verdict on real outputs of Debian 12's kernel booted with each lockdown
 * mode (test/fixtures/inventory/lockdown/README.md): dmidecode made to read /dev/mem, as an old
 * dmidecode does, and the kernel's own log records.
 */
import { describe, expect, it } from "vitest";
import { lockdownCommand, lockdownSection, type LockdownCapture } from "../../test/fixtures/inventory/lockdown/sections.js";
import { activeLockdownMode, blockedByLockdown, commOf, lockdownRefusals } from "./lockdown.js";

const DMIDECODE_DEV_MEM = ["dmidecode", "--no-sysfs", "-t", "0,1"];

/** The agent's record of that dmidecode as collect.ts writes it ("exit N: <stderr>"). */
function devMemDmidecode(mode: LockdownCapture) {
  const stderr = lockdownCommand(mode, "dmidecode --no-sysfs -t 0,1 (stderr)");
  return { argv: DMIDECODE_DEV_MEM, timed_out: false, ...(stderr.exit !== 0 && { error: `exit ${stderr.exit}: ${stderr.output.trim()}` }) };
}

describe("activeLockdownMode", () => {
  it("reads the bracketed mode the kernel wrote for each lockdown= boot", () => {
    for (const mode of ["none", "integrity", "confidentiality"] as const) {
      expect(activeLockdownMode(lockdownCommand(mode, "cat /sys/kernel/security/lockdown").output)).toBe(mode);
    }
    expect(activeLockdownMode(undefined)).toBeNull();
    expect(activeLockdownMode("none integrity confidentiality\n")).toBeNull();
  });
});

describe("lockdownRefusals", () => {
  it("finds the kernel's refusal of dmidecode and dd in /dev/kmsg records, with their time", () => {
    const refusals = lockdownRefusals(lockdownSection("integrity", "cat /dev/kmsg (2 s)"));
    expect(refusals.map((r) => [r.comm, r.what])).toEqual([
      ["swapper/0", "hibernation"],
      ["dmidecode", "/dev/mem,kmem,port"],
      ["dd", "/dev/mem,kmem,port"],
    ]);
    expect(refusals[1]).toEqual({
      comm: "dmidecode",
      what: "/dev/mem,kmem,port",
      atUs: 3797018,
      line: "Lockdown: dmidecode: /dev/mem,kmem,port is restricted; see man kernel_lockdown.7",
    });
  });

  it("reads dmesg's lines too, and nothing from a kernel that is not locked down", () => {
    expect(lockdownRefusals(lockdownSection("integrity", "dmesg")).map((r) => r.comm)).toEqual(["swapper/0", "dmidecode", "dd"]);
    expect(lockdownRefusals(lockdownSection("none", "cat /dev/kmsg (2 s)"))).toEqual([]);
  });
});

describe("blockedByLockdown", () => {
  it("blames lockdown for dmidecode on /dev/mem under integrity, with the kernel's line as evidence", () => {
    const refusals = lockdownRefusals(lockdownSection("integrity", "cat /dev/kmsg (2 s)"));
    expect(blockedByLockdown(devMemDmidecode("integrity"), "integrity", refusals)).toEqual({
      reason: "kernel lockdown (integrity)",
      evidence: "Lockdown: dmidecode: /dev/mem,kmem,port is restricted; see man kernel_lockdown.7",
    });
  });

  it("without the kernel's line (rate limited), the tool's own words about /dev/mem suffice", () => {
    expect(blockedByLockdown(devMemDmidecode("confidentiality"), "confidentiality", [])).toEqual({
      reason: "kernel lockdown (confidentiality)",
      evidence: "/dev/mem: Operation not permitted",
    });
    const dd = lockdownCommand("integrity", "dd if=/dev/port bs=1 count=1 (stderr)");
    expect(blockedByLockdown({ argv: ["dd"], timed_out: false, error: `exit ${dd.exit}: ${dd.output.trim()}` }, "integrity", [])?.evidence).toBe(
      "'/dev/port': Operation not permitted",
    );
  });

  it("is never blocked when the kernel is not locked down, the mode is unknown, or the collector did not fail", () => {
    expect(devMemDmidecode("none").error).toBeUndefined();
    const failed = devMemDmidecode("integrity");
    expect(blockedByLockdown(failed, "none", [])).toBeNull();
    expect(blockedByLockdown(failed, null, [])).toBeNull();
    expect(blockedByLockdown({ ...failed, timed_out: true }, "integrity", [])).toBeNull();
  });

  it("does not blame lockdown for a failure it did not cause (the host's dmidecode: no /dev/mem at all)", () => {
    const refusals = lockdownRefusals(lockdownSection("integrity", "cat /dev/kmsg (2 s)"));
    // test/fixtures/inventory/host/manifest.json: dmidecode on a micro VM without /dev/mem.
    const host = { argv: ["lshw", "-json"], timed_out: false, error: "exit 1: /dev/mem: No such file or directory" };
    expect(blockedByLockdown(host, "integrity", refusals)).toBeNull();
  });

  it("matches the kernel's comm: the tool's base name cut to 15 characters", () => {
    expect(commOf(["/usr/sbin/dmidecode", "-t", "0"])).toBe("dmidecode");
    expect(commOf(["systemd-detect-virtualization"])).toBe("systemd-detect-");
    expect(commOf([])).toBeNull();
  });
});
