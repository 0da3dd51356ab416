/**
 * Starts a qemu VM and watches its serial log. The caller always calls stop(), which ends
 * exactly the process it started (by PID) and waits for it.
 */
import { writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { execa, type ResultPromise } from "execa";
import { ReconError } from "../lib/errors.js";
import { terminateChild } from "./child.js";
import { qemuArgs, type VmSpec } from "./qemu.js";

export interface RunningVm {
  pid: number;
  spec: VmSpec;
  /** Resolves with the serial text once `pattern` appears; rejects on timeout or VM exit. */
  waitForSerial(pattern: RegExp, timeoutMs: number): Promise<string>;
  stop(): Promise<void>;
  exited: () => boolean;
}

export interface StartVmOptions {
  /** Prefix the command, e.g. ["ip", "netns", "exec", "recon-lab"] for tap devices in a netns. */
  wrapper?: string[];
}

export function startVm(spec: VmSpec, options: StartVmOptions = {}): RunningVm {
  // A serial log left by an earlier run must not answer for this one: start from empty.
  writeFileSync(spec.serialLog, "");
  const argv = ["qemu-system-x86_64", ...qemuArgs(spec)];
  const [command, ...args] = options.wrapper ? [...options.wrapper, ...argv] : argv;
  const child: ResultPromise = execa(command!, args, { reject: false, stdin: "ignore", all: true });
  let done = false;
  let output = "";
  child.all?.on("data", (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-4000);
  });
  const finished = child.then(() => {
    done = true;
  });
  if (child.pid === undefined) throw new ReconError("COMMAND_FAILED", `qemu for ${spec.name} did not start`);
  const pid = child.pid;

  return {
    pid,
    spec,
    exited: () => done,
    async waitForSerial(pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const text = await readFile(spec.serialLog, "utf8").catch(() => "");
        if (pattern.test(text)) return text;
        if (done) {
          throw new ReconError("COMMAND_FAILED", `VM ${spec.name} exited before ${pattern} appeared on its serial console`, {
            hint: `qemu said: ${output.trim().slice(-500) || "(nothing)"}; serial log: ${spec.serialLog}`,
          });
        }
        if (Date.now() > deadline) {
          throw new ReconError("COMMAND_FAILED", `VM ${spec.name}: ${pattern} did not appear on the serial console within ${Math.round(timeoutMs / 1000)} s`, {
            hint: `serial log: ${spec.serialLog}; last lines:\n${text.split("\n").slice(-15).join("\n")}`,
          });
        }
        await new Promise((r) => setTimeout(r, 2000));
      }
    },
    async stop() {
      if (done) return;
      await terminateChild(pid, finished);
    },
  };
}
