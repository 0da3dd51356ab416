/**
 * One collection, start to end: discover → plan → run → pack. What `recon agent collect` does on
 * its own and what `recon agent` does before it uploads. Staging happens in a private temporary
 * directory that is removed afterwards; the tar.gz is the only thing left.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, release, tmpdir } from "node:os";
import { join } from "node:path";
import type { CommandRunner } from "../lib/run.js";
import { markBlocked, packUpload, renderCollectorLog, runCollectors, type CollectorRecord, type Manifest } from "./collect.js";
import { DEFAULT_LLDP_SOCKET, planCollectors, usableFacts, type CollectorSpec } from "./collectors.js";
import { discoverFacts } from "./discover.js";
import { describeFwLldp, FW_LLDP_FILE, stopFirmwareLldp, type FwLldpSession } from "./fw-lldp.js";
import { describeListen, linkedInterfaces } from "./lldp-wait.js";
import { planBurnIn } from "./burn-in.js";
import type { BurnInSettings } from "../model/peer-contract.js";

/** Waits (at most 30 s) until udev has processed every queued device event. */
export const UDEV_SETTLE_ARGS = ["settle", "--timeout=30"];

export interface BuildUploadOptions {
  outPath: string;
  agentVersion: string;
  /** BOOTIF's MAC (aa:bb:…) or null when the kernel command line had none. */
  bootMac: string | null;
  lldpWaitMs: number;
  collectorTimeoutMs: number;
  lldpSocket?: string;
  concurrency?: number;
  /** Replaces the discovered plan (tests). */
  plan?: CollectorSpec[];
  /** Run recon's own collectors (default true; a workload may turn them off). */
  builtin?: boolean;
  /** Collectors from the master's workload (post.tgz), run with the others. */
  extraPlan?: CollectorSpec[];
  /** Burn-in after the collectors, one test at a time (the master's recon.burnin=); undefined = none. */
  burnIn?: BurnInSettings;
  /** The whole disks burn-in reads when `plan` replaces discovery (tests). */
  burnInDisks?: string[];
  env?: Record<string, string>;
  sysRoot?: string;
  /** Count veths as linked for the LLDP wait (tests in a network namespace; see CollectOptions). */
  lldpVirtualInterfaces?: boolean;
  tmpDir?: string;
  signal?: AbortSignal;
  /** Progress lines for the console. */
  status?: (line: string) => void;
  now?: () => Date;
}

export interface BuiltUpload {
  path: string;
  bytes: number;
  manifest: Manifest;
  wallMs: number;
}

/** Microseconds since boot from /proc/uptime, a second early (kernel log records are stamped so); 0 when unknown. */
async function bootMicroseconds(root: string): Promise<number> {
  const uptime = Number((await readFile(join(root, "proc/uptime"), "utf8").catch(() => "")).split(" ")[0]);
  return Number.isFinite(uptime) && uptime > 1 ? Math.floor((uptime - 1) * 1e6) : 0;
}

export async function buildUpload(runner: CommandRunner, options: BuildUploadOptions): Promise<BuiltUpload> {
  const started = performance.now();
  const status = options.status ?? (() => undefined);
  const collectedAt = (options.now ?? (() => new Date()))().toISOString();
  const notes: string[] = [];
  let plan = options.plan ?? (options.builtin === false ? [] : undefined);
  let disks = options.burnInDisks ?? [];
  if (plan === undefined || (options.burnIn !== undefined && options.burnInDisks === undefined)) {
    // udev fills in what lsblk reports (SERIAL, WWN, MODEL); on a busy early boot its queue may
    // still be running, and a disk would then be listed without its serial. Bounded wait.
    const settled = await runner.run("udevadm", UDEV_SETTLE_ARGS, { timeoutMs: 35_000 }).catch((error: unknown) => ({ exitCode: -1, stderr: String(error) }));
    if (settled.exitCode !== 0) notes.push(`udevadm settle did not finish cleanly (exit ${settled.exitCode}); disk details may be incomplete`);
    const discovered = await discoverFacts(runner, { ...(options.sysRoot && { root: options.sysRoot }), ...(options.env && { env: options.env }) });
    const { facts, skipped } = usableFacts(discovered);
    notes.push(
      `found: interfaces ${facts.interfaces.join(" ") || "none"}; disks ${facts.disks.join(" ") || "none"}; nvme ${facts.nvmeControllers.join(" ") || "none"}; ipmi ${facts.ipmiDevice ? "/dev/ipmi0" : "none"}; nvidia-smi ${facts.nvidiaSmi ? "yes" : "no"}; raid disks ${facts.raidDisks.map((disk) => `${disk.device} -d ${disk.type}`).join(", ") || "none"}`,
    );
    if (skipped.length > 0) notes.push(`skipped: ${skipped.join(", ")}`);
    disks = facts.disks;
    plan ??= planCollectors(facts, {
      lldpWaitMs: options.lldpWaitMs,
      collectorTimeoutMs: options.collectorTimeoutMs,
      lldpSocket: options.lldpSocket ?? DEFAULT_LLDP_SOCKET,
    });
  }
  if (options.extraPlan !== undefined && options.extraPlan.length > 0) {
    plan = [...plan, ...options.extraPlan];
    notes.push(`workload: ${options.extraPlan.map((spec) => spec.id).join(" ")}`);
  }
  for (const note of notes) status(note);
  const lldp = plan.find((spec) => spec.kind === "lldp");
  const waitS = Math.round(lldp?.kind === "lldp" ? lldp.waitMs / 1000 : 0);
  status(`collecting: ${plan.length} collectors${lldp ? `, listening for LLDP/CDP until every linked interface has a neighbour, at most ${waitS} s` : ""}`);
  const stagingDir = await mkdtemp(join(options.tmpDir ?? tmpdir(), "recon-agent-"));
  try {
    const sysRoot = options.sysRoot ?? "/";
    const sinceUs = await bootMicroseconds(sysRoot);
    // Intel i40e/ice firmware eats LLDP frames: stop its agent before lldpd starts, put it back after (fw-lldp.ts).
    const fwStarted = performance.now();
    const firmware: FwLldpSession | undefined =
      lldp === undefined
        ? undefined
        : await stopFirmwareLldp(runner, { sysRoot, interfaces: await linkedInterfaces(sysRoot), ...(options.env && { env: options.env }) });
    for (const entry of firmware?.entries ?? []) status(describeFwLldp(entry, false));
    let collected: CollectorRecord[];
    try {
      collected = await runCollectors(plan, {
        stagingDir,
        ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
        ...(options.sysRoot !== undefined && { sysRoot: options.sysRoot }),
        ...(options.env !== undefined && { env: options.env }),
        ...(options.signal !== undefined && { signal: options.signal }),
        ...(firmware !== undefined && firmware.switched.length > 0 && { lldpAlsoWaitFor: firmware.switched }),
        ...(options.lldpVirtualInterfaces !== undefined && { lldpVirtualInterfaces: options.lldpVirtualInterfaces }),
        onRecord: (record) => {
          if (record.listen !== undefined) status(`lldp: ${describeListen(record.listen)}`);
          if (record.error !== undefined) status(`collector ${record.id}: ${record.timed_out ? "timed out" : "failed"}: ${record.error.split("\n")[0]}`);
        },
      });
    } finally {
      await firmware?.restore();
    }
    if (firmware !== undefined && firmware.entries.length > 0) {
      for (const entry of firmware.entries.filter((e) => e.switched)) status(describeFwLldp(entry, true));
      await writeFile(join(stagingDir, FW_LLDP_FILE), `${JSON.stringify({ interfaces: firmware.entries }, null, 2)}\n`);
      const errors = firmware.entries.flatMap((entry) => (entry.error === undefined ? [] : [`${entry.interface}: ${entry.error}`]));
      // duration_ms: from the first ethtool call to the last flag put back (the listen lies between).
      collected.push({
        id: "fw-lldp",
        files: [FW_LLDP_FILE],
        argv: [],
        exit_code: null,
        duration_ms: Math.round(performance.now() - fwStarted),
        timed_out: false,
        ...(errors.length > 0 && { error: errors.join("\n") }),
      });
    }
    const records = await markBlocked(collected, { stagingDir, sinceUs, ...(options.sysRoot !== undefined && { sysRoot: options.sysRoot }) });
    for (const record of records) if (record.status === "blocked") status(`collector ${record.id}: blocked by ${record.reason}: ${record.evidence}`);
    // Burn-in only after every collector is done, and one test at a time, so none competes with another.
    let burnIn: CollectorRecord[] | undefined;
    if (options.burnIn !== undefined && !options.signal?.aborted) {
      const burnPlan = planBurnIn(options.burnIn, disks);
      const bound = burnPlan.reduce((sum, spec) => sum + spec.timeoutMs, 0);
      status(`burn-in: ${burnPlan.map((spec) => spec.id).join(" ")}, one at a time (at most ${Math.round(bound / 1000)} s)`);
      burnIn = await runCollectors(burnPlan, {
        stagingDir,
        concurrency: 1,
        ...(options.env !== undefined && { env: options.env }),
        ...(options.signal !== undefined && { signal: options.signal }),
        onRecord: (record) =>
          status(
            `burn-in ${record.id}: ${record.error === undefined ? "done" : record.timed_out ? "timed out" : `failed: ${record.error.split("\n")[0]}`} in ${Math.round(record.duration_ms / 1000)} s`,
          ),
      });
    }
    const manifest: Manifest = {
      format: "recon-raw/1",
      agent_version: options.agentVersion,
      collected_at: collectedAt,
      boot_mac: options.bootMac,
      hostname: hostname(),
      kernel: release(),
      collectors: records,
      ...(burnIn !== undefined && { burn_in: burnIn }),
    };
    const bytes = await packUpload(stagingDir, manifest, renderCollectorLog(manifest, notes), options.outPath);
    const failed = records.filter((r) => r.error !== undefined).length;
    status(`collected: ${records.length} collectors (${failed} with errors), ${bytes} bytes packed`);
    return { path: options.outPath, bytes, manifest, wallMs: Math.round(performance.now() - started) };
  } finally {
    await rm(stagingDir, { recursive: true, force: true });
  }
}
