import { describe, expect, it } from "vitest";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createStatusWriter, mirrorConsoles, preferredConsole } from "./console.js";
import { parseCmdline } from "../model/kernel-cmdline.js";
import { planPostAction, runPostAction, systemActionRunner, type PostActionStep } from "./post-action.js";
import type { CommandRunner } from "../lib/run.js";

describe("planPostAction", () => {
  it("powers off through the BMC when /dev/ipmi0 exists, with systemd as the fallback", () => {
    expect(planPostAction("poweroff", { ipmiDevice: true }).map((s) => s.argv)).toEqual([
      ["ipmitool", "chassis", "power", "off"],
      ["systemctl", "poweroff"],
    ]);
  });

  it("powers off with systemd without a BMC, reboots with systemd, and does nothing for stay", () => {
    expect(planPostAction("poweroff", { ipmiDevice: false }).map((s) => s.argv)).toEqual([["systemctl", "poweroff"]]);
    expect(planPostAction("reboot", { ipmiDevice: true }).map((s) => s.argv)).toEqual([["systemctl", "reboot"]]);
    expect(planPostAction("stay", { ipmiDevice: true })).toEqual([]);
  });
});

describe("runPostAction", () => {
  it("falls back to the next step when one fails and stops at the first that works", async () => {
    const ran: string[][] = [];
    const done = await runPostAction(
      planPostAction("poweroff", { ipmiDevice: true }),
      { run: async (step) => (ran.push(step.argv), step.argv[0] === "systemctl") },
      () => undefined,
    );
    expect(ran).toEqual([
      ["ipmitool", "chassis", "power", "off"],
      ["systemctl", "poweroff"],
    ]);
    expect(done?.argv).toEqual(["systemctl", "poweroff"]);
  });
});

describe("systemActionRunner", () => {
  const step: PostActionStep = { argv: ["systemctl", "poweroff"], description: "powering off" };
  const recording = () => {
    const calls: string[][] = [];
    const runner: CommandRunner = { run: async (command, args) => (calls.push([command, ...args]), { command, args, exitCode: 0, stdout: "", stderr: "" }) };
    return { calls, runner };
  };

  it("never runs anything outside the recon image", async () => {
    const { calls, runner } = recording();
    const lines: string[] = [];
    expect(await systemActionRunner(runner, false, (l) => lines.push(l)).run(step)).toBe(true);
    expect(calls).toEqual([]);
    expect(lines).toEqual(["not inside the recon image (no /etc/recon/build.json): would run 'systemctl poweroff', skipped"]);
  });

  it("runs the step inside the image", async () => {
    const { calls, runner } = recording();
    expect(await systemActionRunner(runner, true, () => undefined).run(step)).toBe(true);
    expect(calls).toEqual([["systemctl", "poweroff"]]);
  });
});

describe("console mirrors", () => {
  it("copies to the VT when the serial port is /dev/console (the image's console= order)", () => {
    const args = parseCmdline("console=tty0 console=ttyS0,115200n8");
    expect(preferredConsole(args)).toBe("ttyS0");
    expect(mirrorConsoles(args)).toEqual(["/dev/tty1"]);
  });

  it("copies to the serial port when the VT is /dev/console, and when console= is absent", () => {
    expect(mirrorConsoles(parseCmdline("console=ttyS0,115200 console=tty0"))).toEqual(["/dev/ttyS0"]);
    expect(mirrorConsoles(parseCmdline("quiet"))).toEqual(["/dev/ttyS0"]);
  });

  it("writes each line to stdout and every mirror, and drops a mirror that cannot be opened", async () => {
    const dir = await mkdtemp(join(tmpdir(), "recon-console-"));
    try {
      const mirror = join(dir, "tty1");
      await writeFile(mirror, "");
      const stdout: string[] = [];
      const status = createStatusWriter((line) => stdout.push(line), [join(dir, "missing", "ttyS0"), mirror]);
      status("collecting");
      status("uploaded");
      expect(stdout).toEqual(["collecting", "uploaded"]);
      expect(await readFile(mirror, "utf8")).toBe("collecting\r\nuploaded\r\n");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
