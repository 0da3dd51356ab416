import { execa, type ResultPromise } from "execa";
import { reconBin, repoRoot } from "./repo.js";

/** A `recon master` process started inside a network namespace, with its log collected. */
export interface MasterProcess {
  child: ResultPromise;
  log(): string;
  exited(): boolean;
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
  return { child, log: () => log, exited: () => exited };
}

/** Polls every 100 ms, bounded by `timeoutMs`; the error carries the end of the master's log. */
export async function waitForMaster(master: MasterProcess, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(master.log()) && !master.exited()) {
    if (Date.now() > deadline) throw new Error(`${pattern} did not appear within ${timeoutMs} ms; master log:\n${master.log().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
