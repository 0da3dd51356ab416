import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { stopLeftover } from "../../src/lib/leftover.js";
import { createLogger } from "../../src/lib/log.js";
import { reconBin, repoRoot } from "./repo.js";
import { stopChild } from "./stop-child.js";

/** A `recon master` process started inside a network namespace, with its log collected. */
export interface MasterProcess {
  child: ResultPromise;
  log(): string;
  exited(): boolean;
  /**
   * Ends the master and everything it started, even when it hangs: SIGTERM, at most 10 s, then
   * SIGKILL; then the node process itself (PID in the store's master.lock: the wrapper may not
   * pass SIGKILL on), its nginx and its dnsmasq (their pid files in --run-dir).
   */
  stop(): Promise<void>;
}

function argValue(args: string[], flag: string): string | undefined {
  const index = args.indexOf(flag);
  return index >= 0 ? args[index + 1] : undefined;
}

export function startMasterInNetns(ns: string, args: string[]): MasterProcess {
  let log = "";
  let exited = false;
  const child = execa("ip", ["netns", "exec", ns, reconBin, "master", ...args], { reject: false, all: true, cwd: repoRoot });
  child.all?.on("data", (chunk: Buffer) => {
    log += chunk.toString("utf8");
  });
  void child.then(() => {
    exited = true;
  });
  const stop = async () => {
    if (!exited) await stopChild(child, 10_000);
    const quiet = createLogger({}, { write: () => {} });
    const dataDir = argValue(args, "--data-dir");
    const runDir = argValue(args, "--run-dir");
    if (dataDir !== undefined) await stopLeftover(join(dataDir, "master.lock"), "node", quiet);
    if (runDir !== undefined) {
      await stopLeftover(join(runDir, "nginx.pid"), "nginx", quiet);
      await stopLeftover(join(runDir, "dnsmasq.pid"), "dnsmasq", quiet);
    }
  };
  return { child, log: () => log, exited: () => exited, stop };
}

/** Polls every 100 ms, bounded by `timeoutMs`; the error carries the end of the master's log. */
export async function waitForMaster(master: MasterProcess, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(master.log()) && !master.exited()) {
    if (Date.now() > deadline) throw new Error(`${pattern} did not appear within ${timeoutMs} ms; master log:\n${master.log().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
