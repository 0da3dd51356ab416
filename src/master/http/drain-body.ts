/**
 * What is left of a refused request body, read and thrown away before the answer, bounded in
 * bytes and time.
 *
 * Why: an upload refused while it streams (a gzip bomb's first header, a bad token) used to be
 * answered at once with `Connection: close`. Closing a socket with unread bytes in its receive
 * queue sends a TCP RST (RFC 2525 §2.17); nginx, still sending the body upstream, saw the reset
 * before the answer and told the client 502 (3 of 10 tries, issue #9) — which the agent retries
 * for 30 minutes. Reading the rest first lets the 4xx go out on a connection that ends cleanly.
 * The bounds keep a huge or slow body from holding the master: past them the connection is
 * closed anyway (nginx refuses bodies beyond its client_max_body_size with its own 413 first).
 */
import type { Readable } from "node:stream";

export interface DrainBounds {
  /** Bytes read (and discarded) at most; past this the caller closes the connection. */
  maxBytes: number;
  /** Time spent at most; past this the caller closes the connection. */
  timeoutMs: number;
}

export type DrainOutcome = { drained: true; bytes: number } | { drained: false; bytes: number; reason: "too-large" | "timeout" | "closed" };

/**
 * Resumes `body` and discards its data until it ends, or a bound is hit (then it is paused
 * again), or it closes early. Never rejects. `declaredBytes` (Content-Length) lets a body known
 * to be too large be given up at once instead of read up to the bound first.
 */
export function drainBody(body: Readable, bounds: DrainBounds, declaredBytes?: number): Promise<DrainOutcome> {
  if (body.readableEnded) return Promise.resolve({ drained: true, bytes: 0 });
  if (body.destroyed) return Promise.resolve({ drained: false, bytes: 0, reason: "closed" });
  if (declaredBytes !== undefined && declaredBytes > bounds.maxBytes) return Promise.resolve({ drained: false, bytes: 0, reason: "too-large" });
  return new Promise<DrainOutcome>((resolve) => {
    let bytes = 0;
    const finish = (outcome: DrainOutcome) => {
      clearTimeout(timer);
      body.off("data", onData).off("end", onEnd).off("close", onClose).off("error", onClose);
      if (!outcome.drained) body.pause();
      resolve(outcome);
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > bounds.maxBytes) finish({ drained: false, bytes, reason: "too-large" });
    };
    const onEnd = () => finish({ drained: true, bytes });
    const onClose = () => finish({ drained: false, bytes, reason: "closed" });
    const timer = setTimeout(() => finish({ drained: false, bytes, reason: "timeout" }), bounds.timeoutMs);
    body.on("data", onData).on("end", onEnd).on("close", onClose).on("error", onClose);
    body.resume();
  });
}
