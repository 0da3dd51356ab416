/**
 * The agent's composition root. `recon agent collect`: the collection only (no network).
 * `recon agent`: hello → collect → upload (retried, bounded) → post-action, the latter only after
 * the master's 201. src/cli.ts reads flags, files and the kernel command line and hands them
 * over; nothing below it reads flags or exits.
 */
import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ReconError } from "../lib/errors.js";
import type { CommandRunner } from "../lib/run.js";
import { tokenFingerprint } from "../model/peer-token.js";
import type { BurnInSettings } from "../model/peer-contract.js";
import { parseAgentConfig, type AgentConfig } from "./agent-config.js";
import { buildUpload, type BuiltUpload } from "./build-upload.js";
import { sleep } from "./collect.js";
import type { CollectorSpec } from "./collectors.js";
import { createStatusWriter, mirrorConsoles } from "./console.js";
import { fetchWorkload } from "./workload-fetch.js";
import { askSwarmDone, copyLabel, findTorrentCopy, startSeeding, SWARM_ASK_EVERY_MS, SWARM_MIN_SEED_MS, type SeedOutcome } from "./seed.js";
import { planPostAction, runPostAction, systemActionRunner, type ActionRunner, type PostActionStep } from "./post-action.js";
import {
  DEFAULT_HELLO_RETRY,
  DEFAULT_UPLOAD_RETRY,
  nodePath,
  parseAck,
  postOnce,
  postWithRetry,
  type AttemptOutcome,
  type PostRequest,
  type RetryPolicy,
  type UploadAck,
} from "./upload.js";

export interface CollectCommandOptions {
  outPath: string;
  agentVersion: string;
  bootMac: string | null;
  lldpWaitMs: number;
  collectorTimeoutMs: number;
  lldpSocket?: string | undefined;
  plan?: CollectorSpec[] | undefined;
  /** Run recon's own collectors (a workload may turn them off). */
  builtin?: boolean | undefined;
  /** The workload's collectors (post.tgz). */
  extraPlan?: CollectorSpec[] | undefined;
  /** Burn-in after the collectors (the master's recon.burnin=). */
  burnIn?: BurnInSettings | undefined;
  env?: Record<string, string> | undefined;
  signal?: AbortSignal | undefined;
}

export interface AgentIo {
  runner: CommandRunner;
  /** One short human line per stage (stdout; the image's unit sends it to journal and console). */
  status: (line: string) => void;
}

export async function runAgentCollect(options: CollectCommandOptions, io: AgentIo): Promise<BuiltUpload> {
  return buildUpload(io.runner, {
    outPath: options.outPath,
    agentVersion: options.agentVersion,
    bootMac: options.bootMac,
    lldpWaitMs: options.lldpWaitMs,
    collectorTimeoutMs: options.collectorTimeoutMs,
    ...(options.lldpSocket !== undefined && { lldpSocket: options.lldpSocket }),
    ...(options.plan !== undefined && { plan: options.plan }),
    ...(options.builtin !== undefined && { builtin: options.builtin }),
    ...(options.extraPlan !== undefined && { extraPlan: options.extraPlan }),
    ...(options.burnIn !== undefined && { burnIn: options.burnIn }),
    ...(options.env !== undefined && { env: options.env }),
    ...(options.signal !== undefined && { signal: options.signal }),
    status: io.status,
  });
}

export interface AgentOptions extends Omit<CollectCommandOptions, "outPath" | "bootMac"> {
  config: AgentConfig;
  uploadRetry?: RetryPolicy;
  helloRetry?: RetryPolicy;
  /** Where the tar.gz is written (default: the temp dir); kept there when the upload fails. */
  workDir?: string;
  /** false: do not ask the master for post.tgz (tests). */
  workload?: boolean;
}

export interface AgentDeps extends AgentIo {
  /** Runs the post-action steps; tests inject a recorder. */
  actions: ActionRunner;
  /** Whether /dev/ipmi0 exists (decides how to power off). */
  ipmiDevice: () => Promise<boolean>;
  post?: (req: PostRequest) => Promise<AttemptOutcome>;
  /** Where the initrd leaves a torrent copy (default PEER_TORRENT_DIR); tests point it elsewhere. */
  torrentDir?: string;
}

export interface AgentResult {
  ack: UploadAck;
  attempts: number;
  upload: BuiltUpload;
  /** The post-action step that ran (undefined for stay, or when every step failed). */
  postAction: PostActionStep | undefined;
}

const LOUD_EVERY_MS = 5 * 60_000;

/**
 * Exit status of an upload the master refused: recon.service has RestartPreventExitStatus=3, so
 * systemd does not run the agent again to be refused again (exit 1, a master not reached, is
 * restarted).
 */
export const REFUSED_EXIT = 3;

/** What the admin at the console can do about a refusal, by the master's status. */
export function refusalHint(status: number | undefined): string {
  if (status === 401 || status === 403) return "tokens are per boot and per master: PXE-boot this node from this master again";
  if (status === 413 || status === 422) return "the master's upload limits refused what this node collected (the reason says which); see docs/raw-upload.md";
  return "the agent and the master may be different recon versions; boot this node from this master again";
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

export async function runAgent(options: AgentOptions, deps: AgentDeps): Promise<AgentResult> {
  const { config, signal } = options;
  const status = deps.status;
  const post = deps.post ?? postOnce;
  const stopped = () =>
    new ReconError("NETWORK_UNAVAILABLE", "the agent was stopped (SIGTERM/SIGINT) before the master acknowledged the upload; no post-action", {
      hint: "systemctl start recon (or reboot the node) to run it again",
    });
  const wait = async (ms: number) => {
    await sleep(ms, signal);
    if (signal?.aborted) throw stopped();
  };
  status(
    `recon agent ${options.agentVersion}: node ${config.bootMac}, master ${config.masterUrl}, token ${tokenFingerprint(config.token)}, after upload: ${config.postAction}${config.burnIn ? ", burn-in on" : ""}`,
  );

  // Hello first, best effort: it tells the master (and its UI) that this node is up and collecting.
  const hello = await postWithRetry(
    { url: nodePath(config.masterUrl, config.bootMac, "hello"), token: config.token },
    options.helloRetry ?? DEFAULT_HELLO_RETRY,
    { post, sleep: wait, now: Date.now },
  );
  status(hello.ok ? "hello: the master knows this node is collecting" : `hello failed (${hello.reason}); collecting anyway`);

  // Peer assist: a node whose initrd fetched the image by BitTorrent seeds it while it collects (seed.ts).
  const torrentCopy = config.seed === undefined ? undefined : await findTorrentCopy(deps.torrentDir);
  if (config.seed !== undefined && torrentCopy === undefined) status("recon.seed is set but the initrd left no torrent copy in RAM: not seeding");
  const seeding: Promise<SeedOutcome> | undefined =
    torrentCopy === undefined || config.seed === undefined
      ? undefined
      : startSeeding(deps.runner, torrentCopy, config.seed, status, signal, {
          // Until the swarm is done (the master knows who is still booting) or a bound passes.
          isDone: () => askSwarmDone(config.masterUrl, copyLabel(torrentCopy)),
          everyMs: SWARM_ASK_EVERY_MS,
          minMs: SWARM_MIN_SEED_MS,
        });

  // The master's workload (post.tgz), if it has one: extra collectors without a new ISO.
  const workloadDir = await mkdtemp(join(options.workDir ?? tmpdir(), "recon-workload-"));
  let upload: BuiltUpload;
  const outPath = join(options.workDir ?? tmpdir(), `recon-inventory-${config.bootMac.replace(/:/g, "")}-${Date.now()}.tar.gz`);
  try {
    const workload = options.workload === false ? ({ kind: "none" } as const) : await fetchWorkload(config.masterUrl, workloadDir);
    if (workload.kind === "none") status("no workload on the master (post.tgz): recon's own collectors");
    else if (workload.kind === "failed") status(`*** workload not used: ${workload.reason}; running recon's own collectors ***`);
    else
      status(
        `workload from the master: ${workload.collectors.length} collector(s)${workload.manifest.builtin_collectors ? " plus recon's own" : " only (builtin_collectors: false)"}`,
      );
    upload = await runAgentCollect(
      {
        ...options,
        outPath,
        bootMac: config.bootMac,
        ...(config.burnIn !== undefined && { burnIn: config.burnIn }),
        ...(workload.kind === "loaded" && { builtin: workload.manifest.builtin_collectors, extraPlan: workload.collectors }),
      },
      deps,
    );
  } finally {
    await rm(workloadDir, { recursive: true, force: true });
  }
  if (signal?.aborted) throw stopped();

  const policy = options.uploadRetry ?? DEFAULT_UPLOAD_RETRY;
  const started = Date.now();
  let lastLoud = -Infinity;
  status(`uploading ${upload.bytes} bytes to ${config.masterUrl}`);
  const result = await postWithRetry(
    { url: nodePath(config.masterUrl, config.bootMac, "inventory"), token: config.token, bodyFile: outPath, contentType: "application/gzip" },
    policy,
    {
      post,
      sleep: wait,
      now: Date.now,
      onRetry: ({ attempt, reason, delayMs, budgetLeftMs }) => {
        if (attempt >= 3 && Date.now() - lastLoud >= LOUD_EVERY_MS) {
          lastLoud = Date.now();
          const until = new Date(started + policy.totalBudgetMs).toISOString().slice(11, 16);
          status(
            `*** UPLOAD FAILING: the master at ${config.masterUrl} has not taken the inventory (${reason}). Retrying until ${until} UTC; this machine will NOT power off until the master acknowledges. Check the master and the network. ***`,
          );
        }
        status(`upload attempt ${attempt} failed: ${reason}; next try in ${seconds(delayMs)} (${Math.round(budgetLeftMs / 60_000)} min of retries left)`);
      },
    },
  );
  if (!result.ok && result.fatal) {
    // The master said no (a 4xx other than 408/425/429): the same upload would be refused again,
    // so no retry and no restart (exit 3), and no post-action: the machine stays on with the
    // reason on its console for whoever walks up to it.
    const what = `the master at ${config.masterUrl} refused the upload: ${result.reason}`;
    status(`*** UPLOAD REFUSED: ${what}. Not retrying. This machine stays on (no ${config.postAction}); the inventory stays at ${outPath}. ***`);
    throw new ReconError("UPLOAD_REJECTED", what, { hint: refusalHint(result.answer?.status), exitCode: REFUSED_EXIT });
  }
  if (!result.ok) {
    const what = `the upload to ${config.masterUrl} failed after ${result.attempts} attempt(s) over ${seconds(result.elapsedMs)}: ${result.reason}`;
    status(`*** UPLOAD FAILED: ${what}. The inventory stays at ${outPath}. No post-action: the master never acknowledged. ***`);
    throw new ReconError("NETWORK_UNAVAILABLE", what, {
      hint: "check that the master runs and is reachable from this node; the agent tries again when restarted",
    });
  }
  const ack = parseAck(result.answer);
  status(`uploaded: the master stored ${ack.entries} files as upload ${ack.id} (attempt ${result.attempts})`);
  await rm(outPath, { force: true });

  // Seeding is bounded (recon.seed); the post-action (power off) would cut it short.
  if (seeding !== undefined) {
    if (config.postAction !== "stay") status(`${config.postAction} once seeding is over`);
    await seeding;
  }
  // Only here, after a 201 with an upload id: the post-action.
  const steps = planPostAction(config.postAction, { ipmiDevice: await deps.ipmiDevice() });
  if (steps.length === 0) status("done; staying up (recon.post=stay)");
  const done = await runPostAction(steps, deps.actions, status);
  if (steps.length > 0 && done === undefined) status(`*** ${config.postAction} failed: every way of doing it failed; the machine stays up ***`);
  return { ack, attempts: result.attempts, upload, postAction: done };
}

export interface AgentMainFlags {
  agentVersion: string;
  masterUrl?: string | undefined;
  postAction?: string | undefined;
  lldpWaitMs: number;
  collectorTimeoutMs: number;
  lldpSocket?: string | undefined;
  uploadBudgetMs?: number | undefined;
}

/**
 * `recon agent` and `recon boot` on a peer: the real world wired in. The post-action runs for
 * real only inside the recon image (/etc/recon/build.json exists), and only after a 201.
 */
export async function agentMain(
  cmdline: Map<string, string[]>,
  flags: AgentMainFlags,
  env: { runner: CommandRunner; insideImage: boolean; writeStdout: (line: string) => void; signal?: AbortSignal },
): Promise<AgentResult> {
  const config = parseAgentConfig(cmdline, { masterUrl: flags.masterUrl, postAction: flags.postAction });
  const status = createStatusWriter((line) => env.writeStdout(`recon-agent: ${line}`), env.insideImage ? mirrorConsoles(cmdline) : []);
  return runAgent(
    {
      config,
      agentVersion: flags.agentVersion,
      lldpWaitMs: flags.lldpWaitMs,
      collectorTimeoutMs: flags.collectorTimeoutMs,
      lldpSocket: flags.lldpSocket,
      ...(flags.uploadBudgetMs !== undefined && { uploadRetry: { ...DEFAULT_UPLOAD_RETRY, totalBudgetMs: flags.uploadBudgetMs } }),
      signal: env.signal,
    },
    {
      runner: env.runner,
      status,
      actions: systemActionRunner(env.runner, env.insideImage, status),
      ipmiDevice: () =>
        access("/dev/ipmi0").then(
          () => true,
          () => false,
        ),
    },
  );
}
