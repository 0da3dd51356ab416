/**
 * What the person in front of the master sees when it cannot start: one banner, on the serial
 * line and the screen, saying what failed and what to do. Failures a restart cannot fix (the store
 * is in use, the data partition is mounted elsewhere, the site config is wrong, the HTTP port is
 * held) exit with NEEDS_A_PERSON, which recon.service's RestartPreventExitStatus= excludes from
 * its (bounded) restarts: the banner appears once instead of a silently looping service.
 */
import { isReconError, type ErrorCode } from "../lib/errors.js";

/** recon.service: RestartPreventExitStatus=3. */
export const NEEDS_A_PERSON_EXIT = 3;

const NEEDS_A_PERSON: ErrorCode[] = ["LOCKED", "DATA_PARTITION", "CONFIG_INVALID", "USAGE"];

export interface StartFailure {
  message: string;
  hint: string | undefined;
  exitCode: number;
  retried: boolean;
}

/** Pure: how a start-up error is reported and with which exit status. */
export function classifyStartFailure(error: unknown): StartFailure {
  if (isReconError(error)) {
    const person = error.exitCode === NEEDS_A_PERSON_EXIT || NEEDS_A_PERSON.includes(error.code);
    return { message: error.message, hint: error.hint, exitCode: person ? NEEDS_A_PERSON_EXIT : error.exitCode, retried: !person };
  }
  return { message: error instanceof Error ? error.message : String(error), hint: undefined, exitCode: 1, retried: true };
}

/** Pure: the banner's lines. */
export function renderStartFailureBanner(failure: StartFailure): string[] {
  const rule = "=".repeat(72);
  return [
    rule,
    "RECON MASTER CANNOT START",
    `what failed: ${failure.message}`,
    `what to do:  ${failure.hint ?? "read the log (journalctl -u recon), fix the cause, then: systemctl restart recon"}`,
    failure.retried
      ? "recon.service tries again in 10 s, at most 3 times in 10 minutes; then it stays stopped."
      : "recon will not retry by itself: this needs a person. After fixing it: systemctl restart recon",
    "full log: journalctl -u recon -b",
    rule,
  ];
}
