/**
 * Kernel lockdown (man kernel_lockdown.7), from the agent's side. Debian's kernel locks itself
 * down ("integrity") when it was booted with UEFI Secure Boot: /dev/mem, /dev/kmem, /dev/port,
 * raw MSR and I/O port access, unsigned modules and more are refused with EPERM, and the kernel
 * logs `Lockdown: <comm>: <what> is restricted; see man kernel_lockdown.7` (rate limited).
 *
 * A collector that failed because of that is not missing a device: it was refused. Pure: the
 * active mode (from raw/lockdown.txt), the kernel's log records and one collector's record in,
 * whether lockdown blocked it (and the evidence) out. The agent writes the verdict into the
 * manifest (status "blocked"); src/inventory carries it into the inventory's errors as kind
 * "blocked" (docs/raw-upload.md).
 */

export type LockdownMode = "none" | "integrity" | "confidentiality";

/** The bracketed mode of /sys/kernel/security/lockdown (`none [integrity] confidentiality`), else null. */
export function activeLockdownMode(text: string | undefined): LockdownMode | null {
  const mode = /\[(none|integrity|confidentiality)\]/.exec(text ?? "")?.[1];
  return (mode as LockdownMode | undefined) ?? null;
}

export interface LockdownRefusal {
  /** The refused task's comm (at most 15 characters: the kernel's TASK_COMM_LEN). */
  comm: string;
  /** The kernel's name of what was refused (lockdown_reasons[]: "/dev/mem,kmem,port", "raw MSR access", …). */
  what: string;
  /** Microseconds since boot (the /dev/kmsg record's timestamp), null for a plain text line. */
  atUs: number | null;
  /** The message as the kernel logged it. */
  line: string;
}

const REFUSAL = /Lockdown: (.+?): (.+) is restricted; see man kernel_lockdown\.7/;
// /dev/kmsg: "<prio>,<seq>,<usec>,<flags>[,…];<message>", continuation lines start with a space.
const KMSG_RECORD = /^\d+,\d+,(\d+),[^;]*;(.*)$/;

/** Lockdown refusals in the kernel's log: /dev/kmsg records or `dmesg` lines, in order. */
export function lockdownRefusals(log: string): LockdownRefusal[] {
  const refusals: LockdownRefusal[] = [];
  for (const raw of log.split("\n")) {
    const record = KMSG_RECORD.exec(raw);
    const message = record ? record[2]! : raw;
    const match = REFUSAL.exec(message);
    if (!match) continue;
    refusals.push({ comm: match[1]!, what: match[2]!, atUs: record ? Number(record[1]) : null, line: match[0] });
  }
  return refusals;
}

/** What the agent knows about one finished collector (a subset of collect.ts's CollectorRecord). */
export interface CollectorOutcome {
  argv: string[];
  timed_out: boolean;
  error?: string;
}

export interface Blocked {
  reason: string;
  /** The kernel's log line, or the tool's own words, that shows the refusal. */
  evidence: string;
}

// What lockdown refuses that a collector may touch, and the way tools and Node report EPERM on it:
// "/dev/mem: Operation not permitted" (dmidecode), "dd: can't open '/dev/port': Operation not
// permitted" (busybox), "EPERM: operation not permitted, open '/dev/cpu/0/msr'" (Node).
const GUARDED = String.raw`/dev/(?:mem|kmem|port|cpu/\d+/msr)|/proc/kcore|/sys/kernel/debug/\S*`;
const REFUSED_OPEN = new RegExp(String.raw`(?:^|[\s'"])(${GUARDED})['"]?:? .*operation not permitted|operation not permitted, \w+ '(${GUARDED})'`, "im");

/** The kernel truncates comm to 15 bytes; the collector's tool name, as the kernel would log it. */
export function commOf(argv: string[]): string | null {
  const tool = argv[0]?.split("/").at(-1);
  return tool ? tool.slice(0, 15) : null;
}

/**
 * Whether kernel lockdown refused this (failed) collector. Never with lockdown "none" or unknown,
 * never for a collector that succeeded or timed out. The kernel's own log line for the tool wins
 * as evidence (it names the task); else the tool's words about EPERM on a path lockdown guards.
 */
export function blockedByLockdown(outcome: CollectorOutcome, mode: LockdownMode | null, refusals: LockdownRefusal[]): Blocked | null {
  if (mode === null || mode === "none" || outcome.error === undefined || outcome.timed_out) return null;
  const reason = `kernel lockdown (${mode})`;
  const comm = commOf(outcome.argv);
  const logged = comm === null ? undefined : refusals.find((refusal) => refusal.comm === comm);
  if (logged) return { reason, evidence: logged.line };
  const said = REFUSED_OPEN.exec(outcome.error);
  if (said) return { reason, evidence: said[0].trim() };
  return null;
}
