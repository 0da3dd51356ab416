/**
 * The kernel NFS server for `root: nfs`, run (the plan and every argv are nfs-config.ts): nfsd's
 * availability checked, its control file system mounted, each image's root tree mounted read-only
 * (reusing what an earlier master process left mounted: mountinfo.ts), exported with exportfs,
 * rpc.mountd supervised like dnsmasq and nbd-server (src/lib/supervise.ts), and nfsd threads
 * started on the boot address. Stop undoes it in reverse — exportfs -u, rpc.nfsd 0, rpc.mountd
 * ended, the mounts taken down top first — and may be called any number of times.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { sleep } from "../../lib/abortable-sleep.js";
import { ReconError } from "../../lib/errors.js";
import { endProcesses, findByWorkingDir } from "../../lib/leftover.js";
import type { Logger } from "../../lib/log.js";
import type { RestartWindowPolicy } from "../../lib/restart-window.js";
import { CommandError, lastLines, type CommandRunner, type RunResult } from "../../lib/run.js";
import { superviseRestarts } from "../../lib/supervise.js";
import { mountedAt, parseMountinfo, type MountEntry } from "./mountinfo.js";
import { NFSD_STATS_FILE, parseNfsdIo } from "./nfsd-stats.js";
import {
  exportfsArgs,
  exportfsFlushArgs,
  exportfsUnexportArgs,
  filesystemsHaveNfsd,
  losetupAttachArgs,
  losetupDetachArgs,
  modprobeNfsdArgs,
  mountArgs,
  mountNfsdFsArgs,
  NFSD_FS,
  parseLoopDevice,
  planMountActions,
  renderExports,
  rpcMountdArgs,
  rpcNfsdArgs,
  rpcNfsdStopArgs,
  umountArgs,
  unmountOrder,
  type NfsExport,
  type NfsServerPlan,
} from "./nfs-config.js";

export const MOUNTD_RESTARTS: RestartWindowPolicy = { maxRestarts: 5, windowMs: 10 * 60_000 };
const MOUNTD_BACKOFF = { initialMs: 500, maxMs: 10_000 };
/** rpc.mountd that lives this long after its start is taken as started (it prints nothing when it is). */
const MOUNTD_SETTLE_MS = 700;
/** A tree just unexported can stay busy for a moment (nfsd's export cache): bounded retries. */
const UMOUNT_TRIES = 5;
const UMOUNT_RETRY_MS = 300;
const COMMAND_TIMEOUT_MS = 30_000;

export interface NfsPaths {
  procFilesystems: string;
  mountinfo: string;
  /** Makes a mount point (with its parents); a unit test with a recording runner makes none. */
  makeMountPoint?: (dir: string) => Promise<unknown>;
  /** nfsd's counters (default /proc/net/rpc/nfsd) and how often they are read; a unit test reads a fixture often. */
  nfsdStats?: { file: string; everyMs: number };
}
export const NFS_PATHS: NfsPaths = { procFilesystems: "/proc/filesystems", mountinfo: "/proc/self/mountinfo" };

export interface NfsServerRun {
  /** Idempotent; resolves once everything is undone (failures are logged). */
  stop(): Promise<void>;
}

function failure(result: RunResult): string {
  return (
    lastLines(result.stderr || result.stdout, 5)
      .trim()
      .replace(/\s*\n\s*/g, "; ") || `exit ${result.exitCode}`
  );
}

/**
 * Whether this kernel has an NFS server: `modprobe nfsd` (it may be built in, or modprobe missing:
 * its failure alone says nothing), then /proc/filesystems must list nfsd. Throws NFS_UNAVAILABLE.
 */
export async function checkNfsd(runner: CommandRunner, wantedBy: readonly string[], paths: NfsPaths = NFS_PATHS): Promise<void> {
  const modprobe = await runner.run("modprobe", modprobeNfsdArgs(), { timeoutMs: COMMAND_TIMEOUT_MS });
  const filesystems = await readFile(paths.procFilesystems, "utf8").catch(() => "");
  if (filesystemsHaveNfsd(filesystems)) return;
  const tried = modprobe.exitCode === 0 ? "modprobe nfsd succeeded" : `modprobe nfsd: ${failure(modprobe)}`;
  throw new ReconError(
    "NFS_UNAVAILABLE",
    `no kernel NFS server on this machine (nfsd is not in ${paths.procFilesystems}; ${tried}): the nodes of ${wantedBy.join(", ")} (root: nfs) cannot boot`,
    {
      hint: "boot the master from the recon stick (its kernel has nfsd) or on a kernel with the NFS server (CONFIG_NFSD), or set root: http or nbd in those settings layers",
    },
  );
}

async function readMounts(paths: NfsPaths): Promise<MountEntry[]> {
  return parseMountinfo(await readFile(paths.mountinfo, "utf8").catch(() => ""));
}

export async function startNfsServer(options: {
  runner: CommandRunner;
  plan: NfsServerPlan;
  runDir: string;
  log: Logger;
  signal: AbortSignal;
  paths?: NfsPaths;
  restarts?: RestartWindowPolicy;
}): Promise<NfsServerRun> {
  const { runner, plan, log, signal } = options;
  const paths = options.paths ?? NFS_PATHS;
  const dir = join(options.runDir, "nfs");
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "exports"), renderExports(plan));

  const checked = async (command: string, args: string[]) => {
    const result = await runner.run(command, args, { timeoutMs: COMMAND_TIMEOUT_MS });
    if (result.exitCode !== 0) throw new CommandError(result, `the NFS root transport could not start; see ${join(dir, "exports")}`);
    return result;
  };

  let nfsdStarted = false;
  let nfsdFsReady = false;
  const exported: NfsExport[] = [];
  const mountdStop = new AbortController();
  let mountdDone: Promise<void> = Promise.resolve();
  let stopping: Promise<void> | undefined;

  const unmount = async (target: string) => {
    let error = "";
    // The loop device under it (losetup attached it without autoclear): detached once the mount is gone.
    const source = mountedAt(await readMounts(paths), target)?.source;
    const loop = source !== undefined ? parseLoopDevice(source) : undefined;
    // Each umount takes the top mount off (a target may carry a stacked one); a busy tree is retried.
    for (let attempt = 1; attempt <= UMOUNT_TRIES; attempt++) {
      if (mountedAt(await readMounts(paths), target) === undefined) break;
      const result = await runner.run("umount", umountArgs(target), { timeoutMs: COMMAND_TIMEOUT_MS });
      if (result.exitCode !== 0) {
        error = failure(result);
        await sleep(UMOUNT_RETRY_MS);
      }
    }
    if (mountedAt(await readMounts(paths), target) !== undefined) log.error("nfs mount not taken down", { path: target, error });
    else if (loop !== undefined && !(await readMounts(paths)).some((entry) => entry.source === loop)) {
      const result = await runner.run("losetup", losetupDetachArgs(loop), { timeoutMs: COMMAND_TIMEOUT_MS });
      if (result.exitCode !== 0) log.warn("nfs loop device not detached", { device: loop, path: target, error: failure(result) });
    }
  };

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      for (const entry of exported.splice(0)) {
        const result = await runner.run("exportfs", exportfsUnexportArgs(entry), { timeoutMs: COMMAND_TIMEOUT_MS });
        if (result.exitCode !== 0) log.warn("nfs export not withdrawn", { label: entry.label, path: entry.path, error: failure(result) });
      }
      if (nfsdFsReady) await runner.run("exportfs", exportfsFlushArgs(), { timeoutMs: COMMAND_TIMEOUT_MS });
      if (nfsdStarted) {
        const result = await runner.run("rpc.nfsd", rpcNfsdStopArgs(), { timeoutMs: COMMAND_TIMEOUT_MS });
        if (result.exitCode !== 0) log.warn("nfsd threads not stopped", { error: failure(result) });
      }
      mountdStop.abort();
      await mountdDone.catch(() => undefined);
      for (const target of unmountOrder(plan.mounts)) await unmount(target);
      log.info("nfs server stopped");
    })();
    return stopping;
  };

  try {
    // nfsd's control file system: exportfs and rpc.mountd use the kernel's export cache through it.
    if (mountedAt(await readMounts(paths), NFSD_FS)?.fsType !== "nfsd") await checked("mount", mountNfsdFsArgs());
    nfsdFsReady = true;
    for (const action of planMountActions(plan.mounts, await readMounts(paths))) {
      if (action.kind === "reuse") {
        log.info("nfs mount reused from an earlier run", { path: action.step.target, fstype: action.step.fsType });
      } else if (action.kind === "umount") {
        // unmount() also detaches its loop device and logs at error when the mount stays.
        await unmount(action.target);
        if (mountedAt(await readMounts(paths), action.target) === undefined) log.info("nfs mount of an earlier run taken down", { path: action.target });
      } else {
        await (paths.makeMountPoint ?? ((target: string) => mkdir(target, { recursive: true })))(action.step.target);
        if (action.step.options.includes("loop") && action.step.bind !== true) {
          const attached = await checked("losetup", losetupAttachArgs(action.step.source));
          const device = parseLoopDevice(attached.stdout);
          if (device === undefined) throw new CommandError(attached, `losetup gave no loop device for ${action.step.source}`);
          const mounted = await runner.run("mount", mountArgs(action.step, device), { timeoutMs: COMMAND_TIMEOUT_MS });
          if (mounted.exitCode !== 0) {
            await runner.run("losetup", losetupDetachArgs(device), { timeoutMs: COMMAND_TIMEOUT_MS });
            throw new CommandError(mounted, `the NFS root transport could not start; see ${join(dir, "exports")}`);
          }
        } else {
          await checked("mount", mountArgs(action.step));
        }
      }
    }
    for (const entry of plan.exports) {
      await checked("exportfs", exportfsArgs(entry));
      exported.push(entry);
    }

    // rpc.mountd runs with its working directory in recon's run dir: how a mountd left over from a
    // master killed with -9 is recognised (lib/leftover.ts, as nginx's workers are) and ended first.
    await endProcesses(await findByWorkingDir("rpc.mountd", dir));
    const lastLinesOf: string[] = [];
    const runMountd = () =>
      runner.run("rpc.mountd", rpcMountdArgs(), {
        cwd: dir,
        signal: mountdStop.signal,
        buffer: false,
        onLine: (line) => {
          lastLinesOf.push(line);
          if (lastLinesOf.length > 10) lastLinesOf.shift();
          log.info("rpc.mountd", { line });
        },
      });
    const said = () => lastLinesOf.join("\n").trim();
    const first = runMountd();
    const early = await Promise.race([first, sleep(MOUNTD_SETTLE_MS, signal).then(() => undefined)]);
    if (early !== undefined) {
      throw new ReconError("COMMAND_FAILED", `rpc.mountd did not start: exit ${early.exitCode}${said() ? `: ${said()}` : ""}`, {
        hint: "rpc.mountd needs nfsd's file system at /proc/fs/nfsd and /var/lib/nfs (Debian: nfs-kernel-server)",
      });
    }
    let pending: Promise<RunResult> | undefined = first;
    mountdDone = superviseRestarts({
      signal: mountdStop.signal,
      policy: { ...MOUNTD_BACKOFF, ...(options.restarts ?? MOUNTD_RESTARTS) },
      runOnce: () => {
        const run = pending ?? runMountd();
        pending = undefined;
        return run;
      },
      onStopped: () => log.info("rpc.mountd stopped"),
      onRestart: (result, verdict) =>
        log.warn("rpc.mountd ended; restarting", { exit: result.exitCode, error: said(), restart: verdict.inWindow, delay_ms: verdict.delayMs }),
      giveUp: (result, verdict) =>
        new ReconError("COMMAND_FAILED", `rpc.mountd ended ${verdict.inWindow} times; last: exit ${result.exitCode}${said() ? `: ${said()}` : ""}`, {
          hint: "the NFS roots are no longer served; the other root transports are; restart the master once the cause is fixed",
        }),
    });
    // Not fatal for the master: the http and nbd nodes keep booting (the caller logs nothing else).
    mountdDone.catch((error: unknown) =>
      log.error("rpc.mountd gave up: nfs roots not served", { error: error instanceof Error ? error.message : String(error) }),
    );

    // After the exports: a client served before them would be refused. Re-running it on a running
    // nfsd (a restarted master) only sets the thread count.
    nfsdStarted = true;
    await checked("rpc.nfsd", rpcNfsdArgs(plan));
    for (const entry of plan.exports) log.info("nfs export ready", { label: entry.label, path: entry.path, clients: entry.clients });
    // What the NFS roots cost the master, beside nbd-server's `nbd export read`: nfsd counts file data
    // read for all clients and exports together (no per-export figure exists in the kernel).
    const stats = paths.nfsdStats ?? { file: NFSD_STATS_FILE, everyMs: 10_000 };
    if (stats.everyMs > 0) {
      void (async () => {
        let last: number | undefined;
        while (!signal.aborted) {
          await sleep(stats.everyMs, signal);
          if (signal.aborted) break;
          const io = parseNfsdIo(await readFile(stats.file, "utf8").catch(() => ""));
          if (io === undefined || io.readBytes === last) continue;
          last = io.readBytes;
          log.info("nfs server read", { read_bytes: io.readBytes, written_bytes: io.writtenBytes, exports: plan.exports.map((e) => e.label).join(",") });
        }
      })();
    }
  } catch (error) {
    await stop();
    throw error;
  }
  if (signal.aborted) await stop();
  else signal.addEventListener("abort", () => void stop(), { once: true });
  return { stop };
}
