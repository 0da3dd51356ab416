/**
 * "master ready" means this run answers: every response of this run's express carries the run's
 * id (`X-Recon-Run`), and start-up asks the HTTP front — nginx or node, on the port peers use —
 * until an answer carries it. A port that answers from a leftover of an earlier run (nginx
 * workers whose master was killed keep the socket and proxy to a dead upstream: 502) is not ready.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { ReconError } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";

export const RUN_HEADER = "x-recon-run";

export function newRunId(): string {
  return randomUUID();
}

export type FrontAnswer = { kind: "ours"; status: number } | { kind: "other"; status: number; run: string | null } | { kind: "none"; error: string };

/** Pure: whose answer a response is. */
export function classifyAnswer(runId: string, status: number, runHeader: string | null): FrontAnswer {
  return runHeader === runId ? { kind: "ours", status } : { kind: "other", status, run: runHeader };
}

async function ask(url: string, runId: string): Promise<FrontAnswer> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000), redirect: "manual" });
    await response.body?.cancel();
    return classifyAnswer(runId, response.status, response.headers.get(RUN_HEADER));
  } catch (error) {
    return { kind: "none", error: error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error) };
  }
}

/** Bounded: resolves once the front answers from this run, else a typed error saying what answered. */
export async function confirmFrontAnswers(options: { port: number; runId: string; timeoutMs: number; log: Logger; signal: AbortSignal }): Promise<void> {
  const url = `http://127.0.0.1:${options.port}/api/v1/access`;
  const deadline = Date.now() + options.timeoutMs;
  let last: FrontAnswer = { kind: "none", error: "not asked yet" };
  let reported = false;
  while (!options.signal.aborted) {
    last = await ask(url, options.runId);
    if (last.kind === "ours") return;
    if (last.kind === "other" && !reported) {
      options.log.warn("the HTTP port answers, but not from this run", { port: options.port, status: last.status, run: last.run ?? "none" });
      reported = true;
    }
    if (Date.now() > deadline) break;
    await sleep(200, undefined, { signal: options.signal }).catch(() => undefined);
  }
  const what =
    last.kind === "other"
      ? `answered ${last.status} from ${last.run === null ? "something that is not this recon run" : `another recon run (${last.run})`}`
      : `did not answer (${last.kind === "none" ? last.error : ""})`;
  throw new ReconError("NGINX_FAILED", `the HTTP front on port ${options.port} ${what} within ${Math.round(options.timeoutMs / 1000)} s`, {
    hint: "another web server (or the leftover of an earlier recon run) holds the port: find it with `ss -ltnp` and stop it, then start recon again",
    exitCode: 3,
  });
}
