/**
 * The agent's composition root: `recon agent collect` (collection only, no network) and, later
 * in this file, `recon agent` (collect, upload, post-action). src/cli.ts reads the flags and the
 * kernel command line and hands them over; nothing below it reads flags or exits.
 */
import type { CommandRunner } from "../lib/run.js";
import { buildUpload, type BuiltUpload } from "./build-upload.js";
import type { CollectorSpec } from "./collectors.js";

export interface CollectCommandOptions {
  outPath: string;
  agentVersion: string;
  bootMac: string | null;
  lldpWaitMs: number;
  collectorTimeoutMs: number;
  lldpSocket?: string | undefined;
  plan?: CollectorSpec[];
  env?: Record<string, string>;
  signal?: AbortSignal;
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
    ...(options.env !== undefined && { env: options.env }),
    ...(options.signal !== undefined && { signal: options.signal }),
    status: io.status,
  });
}
