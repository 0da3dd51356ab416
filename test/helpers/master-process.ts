import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { stopLeftover } from "../../src/lib/leftover.js";
import { createLogger } from "../../src/lib/log.js";
import { reconBin, repoRoot } from "./repo.js";
import { stopChild, stopPid } from "./stop-child.js";
import { waitUntil, type WaitSubject } from "./wait.js";

/** A `recon master` process started inside a network namespace, with its log collected. */
export interface MasterProcess {
  child: ResultPromise;
  log(): string;
  exited(): boolean;
  /** The master as a wait's subject: a wait on it fails once it exited, with its log's end. */
  subject: WaitSubject;
  /**
   * Ends the master and everything it started, even when it hangs: SIGTERM, at most 10 s, then
   * SIGKILL; then the node process itself (its PID from the store's master.lock, JSON `pid` or
   * a bare number: the wrapper may not pass SIGKILL on), its nginx, dnsmasq and nbd-server (their
   * pid files in --run-dir). Each PID is ended only when /proc says it is that program.
   */
  stop(): Promise<void>;
}

function argValue(args: string[], flag: string): string | undefined {
  const index = args.indexOf(flag);
  return index >= 0 ? args[index + 1] : undefined;
}

/** The PID a lock or pid file records: `{"pid":123,…}` or a bare `123`; undefined otherwise. */
export function recordedPid(text: string): number | undefined {
  const trimmed = text.trim();
  let value: unknown = trimmed;
  if (trimmed.startsWith("{")) {
    try {
      value = (JSON.parse(trimmed) as { pid?: unknown }).pid;
    } catch {
      return undefined;
    }
  }
  const pid = Number(value);
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
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
    if (dataDir !== undefined) {
      const pid = recordedPid(await readFile(join(dataDir, "master.lock"), "utf8").catch(() => ""));
      if (pid !== undefined) await stopPid(pid, "node");
    }
    if (runDir !== undefined) {
      await stopLeftover(join(runDir, "nginx.pid"), "nginx", quiet);
      await stopLeftover(join(runDir, "dnsmasq.pid"), "dnsmasq", quiet);
      await stopLeftover(join(runDir, "nbd", "nbd-server.pid"), "nbd-server", quiet);
    }
  };
  const subject: WaitSubject = {
    name: `recon master (pid ${child.pid ?? "?"})`,
    exited: () => exited,
    tail: () => `${log.slice(-3000)}${exited ? `\n(exit code ${child.exitCode ?? "?"}${child.signalCode ? `, signal ${child.signalCode}` : ""})` : ""}`,
  };
  return { child, log: () => log, exited: () => exited, subject, stop };
}

/**
 * Polls the master's log every 100 ms for `pattern`, bounded by `timeoutMs`; fails as soon as
 * the master (or any of `also`, e.g. the VM whose request is awaited) exited. The error carries
 * the end of that subject's log.
 */
export async function waitForMaster(master: MasterProcess, pattern: RegExp, timeoutMs: number, also: WaitSubject[] = []): Promise<void> {
  await waitUntil({ what: `${pattern} in the master's log`, timeoutMs, everyMs: 100, subjects: [master.subject, ...also] }, () =>
    pattern.test(master.log()) ? true : undefined,
  );
}

/**
 * The argv of a test's `recon master` (after `master`): the site config `<work>/site.yaml`, the
 * store, run dir and HTTP tree under `work` unless given, no kernel command line, Debian's iPXE
 * binaries for TFTP, and no re-probing unless asked.
 */
export function testMasterArgs(
  work: string,
  options: { httpRoot?: string; dataDir?: string; runDir?: string; imageLabel?: string; probeTimeoutMs?: number; reprobeIntervalMs?: number } = {},
): string[] {
  const args = ["--config", join(work, "site.yaml"), "--data-dir", options.dataDir ?? join(work, "data"), "--run-dir", options.runDir ?? join(work, "run")];
  args.push(
    "--http-root",
    options.httpRoot ?? join(work, "http"),
    "--image-label",
    options.imageLabel ?? "test",
    "--tftp-root",
    "/usr/lib/ipxe",
    "--cmdline",
    "/dev/null",
  );
  if (options.probeTimeoutMs !== undefined) args.push("--probe-timeout-ms", String(options.probeTimeoutMs));
  args.push("--reprobe-interval-ms", String(options.reprobeIntervalMs ?? 0));
  return args;
}
