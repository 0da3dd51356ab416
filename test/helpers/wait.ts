/**
 * The one bounded wait the tests use: a probe polled until it yields a value, failing at the
 * deadline or as soon as one of its subjects (a master process, a VM, a BMC, a peer) has exited,
 * whichever comes first. The error names the wait, the subject and the end of its log, so a
 * dead subject fails its test in one poll interval instead of at the timeout.
 */

import type { RunningVm } from "../../src/lab/vm.js";

/** Something a wait depends on: when it has exited, the wait cannot succeed any more. */
export interface WaitSubject {
  name: string;
  exited(): boolean;
  /** The end of its log or console (a few KiB at most), for the error. */
  tail(): string | Promise<string>;
}

export class WaitError extends Error {
  readonly code: "SUBJECT_EXITED" | "WAIT_TIMEOUT";
  constructor(code: "SUBJECT_EXITED" | "WAIT_TIMEOUT", message: string) {
    super(message);
    this.name = "WaitError";
    this.code = code;
  }
}

export interface WaitOptions {
  /** What is awaited, for the error: "master ready", "peer1's upload". */
  what: string;
  timeoutMs: number;
  everyMs?: number;
  subjects?: WaitSubject[];
}

async function tailOf(subject: WaitSubject): Promise<string> {
  try {
    return (await subject.tail()).slice(-3000);
  } catch (error) {
    return `(could not read: ${(error as Error).message})`;
  }
}

/**
 * Polls `probe` every `everyMs` (default 200) until it returns something other than undefined.
 * A probe that throws counts as "not yet" (its last error goes into the timeout message). When a
 * subject has exited the probe is asked once more — it may have finished just before it exited —
 * and then the wait fails with that subject's tail.
 */
export async function waitUntil<T>(options: WaitOptions, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const { what, timeoutMs, everyMs = 200, subjects = [] } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  const attempt = async (): Promise<T | undefined> => {
    try {
      return await probe();
    } catch (error) {
      lastError = (error as Error).message;
      return undefined;
    }
  };
  for (;;) {
    const gone = subjects.find((subject) => subject.exited());
    const value = await attempt();
    if (value !== undefined) return value;
    if (gone) {
      throw new WaitError(
        "SUBJECT_EXITED",
        `${what}: ${gone.name} exited before it happened${lastError ? ` (last probe: ${lastError})` : ""}; end of ${gone.name}'s log:\n${await tailOf(gone)}`,
      );
    }
    if (Date.now() > deadline) {
      const logs = await Promise.all(subjects.map(async (subject) => `--- ${subject.name}:\n${await tailOf(subject)}`));
      throw new WaitError(
        "WAIT_TIMEOUT",
        `${what}: not within ${Math.round(timeoutMs / 1000)} s${lastError ? ` (last probe: ${lastError})` : ""}${logs.length ? `\n${logs.join("\n")}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A VM as a wait's subject: its qemu process, and its serial log's end as the tail. */
export function vmSubject(vm: RunningVm): WaitSubject {
  return { name: `VM ${vm.spec.name}`, exited: () => vm.exited(), tail: () => vm.serialTail(40) };
}

/**
 * `wait` (e.g. a VM's own waitForSerial), failed early when one of `subjects` it depends on (the
 * master that serves that VM) exits first. Checked every second; the wait keeps its own bound.
 */
export async function whileAlive<T>(what: string, subjects: WaitSubject[], wait: Promise<T>): Promise<T> {
  let settled = false;
  const watch = waitUntil({ what, timeoutMs: Number.MAX_SAFE_INTEGER / 2, everyMs: 1000, subjects }, () => (settled ? true : undefined));
  try {
    return await Promise.race([wait, watch.then(() => wait)]);
  } finally {
    settled = true;
    await watch.catch(() => undefined);
  }
}
