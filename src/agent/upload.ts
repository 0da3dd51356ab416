/**
 * The agent's side of the master API: hello (best effort) and the inventory upload, streamed
 * from the tar.gz with a Content-Length, retried with exponential backoff bounded in attempts
 * and in total time, so a master that restarts (or a switch port that comes up late) is waited
 * out. Only a 201 counts as delivered: the master answers it once the upload is durable.
 *
 * The token goes into the Authorization header only; messages carry its fingerprint.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { request } from "node:http";
import { ReconError } from "../lib/errors.js";
import { peerNodePath } from "../model/peer-contract.js";

export interface RetryPolicy {
  maxAttempts: number;
  /** No new attempt starts after this much time since the first one. */
  totalBudgetMs: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** One attempt (connect, send, answer) may take this long. */
  attemptTimeoutMs: number;
}

export const DEFAULT_UPLOAD_RETRY: RetryPolicy = {
  maxAttempts: 200,
  totalBudgetMs: 30 * 60_000,
  initialDelayMs: 1000,
  maxDelayMs: 30_000,
  attemptTimeoutMs: 120_000,
};

export const DEFAULT_HELLO_RETRY: RetryPolicy = {
  maxAttempts: 5,
  totalBudgetMs: 30_000,
  initialDelayMs: 1000,
  maxDelayMs: 8000,
  attemptTimeoutMs: 5000,
};

/**
 * Delay before attempt `attempt + 1` (attempt counts from 1): exponential, capped, with jitter
 * in [50 %, 100 %] so a fleet that lost its master does not come back in one wave.
 */
export function backoffDelayMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.5 + 0.5 * random()));
}

export interface HttpAnswer {
  status: number;
  body: string;
}

export type AttemptOutcome =
  | { kind: "answer"; answer: HttpAnswer }
  /** No HTTP answer at all: refused, reset, unreachable, timed out. */
  | { kind: "network"; message: string };

/** 2xx: done. 408/425/429/5xx and network errors: try again. Other 4xx: the master said no. */
export function classifyOutcome(outcome: AttemptOutcome): "done" | "retry" | "fatal" {
  if (outcome.kind === "network") return "retry";
  const { status } = outcome.answer;
  if (status >= 200 && status < 300) return "done";
  if (status === 408 || status === 425 || status === 429 || status >= 500) return "retry";
  return "fatal";
}

/** A one-line reason for the console: the master's JSON error message when it sent one. */
export function describeOutcome(outcome: AttemptOutcome): string {
  if (outcome.kind === "network") return outcome.message;
  const { status, body } = outcome.answer;
  try {
    const parsed = JSON.parse(body) as { message?: unknown; code?: unknown };
    if (typeof parsed.message === "string") return `HTTP ${status} ${typeof parsed.code === "string" ? `${parsed.code}: ` : ""}${parsed.message}`;
  } catch {
    // not JSON: fall through
  }
  return `HTTP ${status}${body.trim() ? `: ${body.trim().slice(0, 200)}` : ""}`;
}

export interface PostRequest {
  url: string;
  token: string;
  /** A file to stream as the body, or none (hello). */
  bodyFile?: string;
  contentType?: string;
  timeoutMs: number;
}

const MAX_ANSWER_BYTES = 64 * 1024;

/** One POST with node:http; never throws for network trouble, returns it as an outcome. */
export async function postOnce(req: PostRequest): Promise<AttemptOutcome> {
  const length = req.bodyFile === undefined ? 0 : (await stat(req.bodyFile)).size;
  return new Promise<AttemptOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: AttemptOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const url = new URL(req.url);
    const client = request(url, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${req.token}`,
        "Content-Length": String(length),
        ...(req.contentType !== undefined && { "Content-Type": req.contentType }),
        // A fresh connection per attempt: a keep-alive socket to a master that died is useless.
        Connection: "close",
      },
    });
    const timer = setTimeout(() => {
      client.destroy(new Error(`no answer within ${req.timeoutMs} ms`));
    }, req.timeoutMs);
    client.on("error", (error: NodeJS.ErrnoException) => {
      finish({ kind: "network", message: `${url.host}: ${error.code ? `${error.code} ` : ""}${error.message.replace(/^connect \w+ /, "")}`.trim() });
    });
    client.on("response", (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        if (size < MAX_ANSWER_BYTES) chunks.push(chunk);
        size += chunk.length;
      });
      res.on("end", () => finish({ kind: "answer", answer: { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") } }));
      res.on("error", (error) => finish({ kind: "network", message: `${url.host}: answer cut off: ${error.message}` }));
    });
    if (req.bodyFile === undefined) {
      client.end();
      return;
    }
    const body = createReadStream(req.bodyFile);
    body.on("error", (error) => client.destroy(error));
    body.pipe(client);
  });
}

export interface RetryDeps {
  post: (req: PostRequest) => Promise<AttemptOutcome>;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  random?: () => number;
  /** Called after every failed attempt that will be retried. */
  onRetry?: (info: { attempt: number; reason: string; delayMs: number; budgetLeftMs: number }) => void;
}

export type RetryResult =
  | { ok: true; answer: HttpAnswer; attempts: number; elapsedMs: number }
  | { ok: false; fatal: boolean; reason: string; attempts: number; elapsedMs: number; answer?: HttpAnswer };

/** Posts until done, a fatal answer, or the attempts or time budget run out. */
export async function postWithRetry(req: Omit<PostRequest, "timeoutMs">, policy: RetryPolicy, deps: RetryDeps): Promise<RetryResult> {
  const started = deps.now();
  let attempt = 0;
  let reason = "no attempt made";
  while (attempt < policy.maxAttempts) {
    attempt += 1;
    const left = policy.totalBudgetMs - (deps.now() - started);
    const outcome = await deps.post({ ...req, timeoutMs: Math.max(1000, Math.min(policy.attemptTimeoutMs, left)) });
    const verdict = classifyOutcome(outcome);
    const elapsedMs = deps.now() - started;
    if (verdict === "done" && outcome.kind === "answer") return { ok: true, answer: outcome.answer, attempts: attempt, elapsedMs };
    reason = describeOutcome(outcome);
    if (verdict === "fatal") {
      return { ok: false, fatal: true, reason, attempts: attempt, elapsedMs, ...(outcome.kind === "answer" && { answer: outcome.answer }) };
    }
    const budgetLeftMs = policy.totalBudgetMs - elapsedMs;
    const delayMs = backoffDelayMs(attempt, policy, deps.random);
    // No attempt may start after the budget: stop now rather than sleep into its end.
    if (attempt >= policy.maxAttempts || delayMs >= budgetLeftMs) break;
    deps.onRetry?.({ attempt, reason, delayMs, budgetLeftMs });
    await deps.sleep(delayMs);
  }
  return { ok: false, fatal: false, reason, attempts: attempt, elapsedMs: deps.now() - started };
}

/** `52:54:00:aa:00:01` → the URL path segment the master expects (`52-54-00-aa-00-01`). */
export function nodePath(masterUrl: string, mac: string, what: "hello" | "inventory"): string {
  return `${masterUrl}${peerNodePath(mac, what)}`;
}

export interface UploadAck {
  id: string;
  entries: number;
  bytes: number;
}

/** The 201 body: `{id, entries, bytes}`; anything else is the master misbehaving. */
export function parseAck(answer: HttpAnswer): UploadAck {
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    body = undefined;
  }
  const ack = body as Partial<UploadAck> | undefined;
  if (answer.status !== 201 || typeof ack?.id !== "string" || typeof ack.entries !== "number" || typeof ack.bytes !== "number") {
    throw new ReconError("UPLOAD_REJECTED", `the master answered ${answer.status} without an upload id: ${answer.body.slice(0, 200)}`, {
      hint: "this agent expects a recon master of the same version",
    });
  }
  return { id: ack.id, entries: ack.entries, bytes: ack.bytes };
}
