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
import { sleep } from "../lib/abortable-sleep.js";

export interface RunningVm {
  pid: number;
  spec: VmSpec;
  /**
   * Resolves with the serial text once `pattern` appears; rejects at the timeout, or within a
   * moment of qemu exiting (also after a deliberate stop()), with the end of the serial log.
   */
  waitForSerial(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** The serial log's last `lines` lines (default 15). */
  serialTail(lines?: number): Promise<string>;
  stop(): Promise<void>;
  exited: () => boolean;
}

/** The last `count` lines of a serial log, for an error. */
function lastLines(text: string, count = 15): string {
  return text.split("\n").slice(-count).join("\n");
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
  let status = "";
  const finished = child.then((result) => {
    status = result.signal ? `signal ${result.signal}` : `exit code ${result.exitCode ?? "?"}`;
    done = true;
  });
  const readSerial = () => readFile(spec.serialLog, "utf8").catch(() => "");
  const exitStatus = () => status || "exited";
  if (child.pid === undefined) throw new ReconError("COMMAND_FAILED", `qemu for ${spec.name} did not start`);
  const pid = child.pid;

  return {
    pid,
    spec,
    exited: () => done,
    async waitForSerial(pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        // Read after looking at `done`: a line printed just before qemu exited still counts.
        const exitedBefore = done;
        const text = await readSerial();
        if (pattern.test(text)) return text;
        if (exitedBefore) {
          throw new ReconError(
            "COMMAND_FAILED",
            `VM ${spec.name} exited (${exitStatus()}) before ${pattern} appeared on its serial console; qemu said: ${output.trim().slice(-500) || "(nothing)"}; last lines of ${spec.serialLog}:\n${lastLines(text)}`,
            {
              hint: `serial log: ${spec.serialLog}`,
            },
          );
        }
        if (Date.now() > deadline) {
          throw new ReconError(
            "COMMAND_FAILED",
            `VM ${spec.name}: ${pattern} did not appear on the serial console within ${Math.round(timeoutMs / 1000)} s; last lines of ${spec.serialLog}:\n${lastLines(text)}`,
            {
              hint: `serial log: ${spec.serialLog}`,
            },
          );
        }
        // Woken early when qemu exits, so a dead VM fails its wait at once.
        await Promise.race([finished, sleep(2000)]);
      }
    },
    async serialTail(lines = 15) {
      return lastLines(await readSerial(), lines);
    },
    async stop() {
      if (done) return;
      await terminateChild(pid, finished);
    },
  };
}
