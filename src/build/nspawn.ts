/**
 * systemd-nspawn (Debian's systemd-container) for `shell`: a shell or one command inside an
 * image's root tree. The argument builder is pure. The run is not through the CommandRunner, on
 * purpose: an interactive shell needs the terminal itself (stdin, stdout, stderr inherited), which
 * the runner, made to capture output, does not give. It still takes an argv array, never a shell
 * string: a command the user gives runs through the image's own /bin/sh inside the container.
 *
 * The options keep the root what the image is: no machine registration and no scope unit (this
 * host runs no systemd as PID 1: without --register=no --keep-unit nspawn stops at "Failed to open
 * system bus"), the host's resolv.conf bound over the image's instead of copied into it, the
 * image's time zone left alone, no journal link. The host network is shared, so apt-get works.
 */
import { execa } from "execa";
import { ReconError } from "../lib/errors.js";

export interface NspawnPlan {
  root: string;
  /** A command line for the image's /bin/sh -c; undefined = an interactive login shell. */
  command?: string | undefined;
  /**
   * stdin is no terminal (a pipe, /dev/null, CI): --console=pipe, so the shell reads it and ends at
   * its end; nspawn's default then is a read-only console whose shell waits for ever.
   */
  pipe?: boolean;
  /** Environment for the command inside, e.g. TERM. */
  setenv?: Record<string, string>;
}

export function nspawnArgs(plan: NspawnPlan): string[] {
  const args = ["--quiet", "--register=no", "--keep-unit", "--resolv-conf=bind-host", "--timezone=off", "--link-journal=no", `--directory=${plan.root}`];
  if (plan.pipe) args.push("--console=pipe");
  for (const [key, value] of Object.entries(plan.setenv ?? {})) args.push(`--setenv=${key}=${value}`);
  if (plan.command !== undefined) args.push("/bin/sh", "-c", plan.command);
  return args;
}

/** Runs nspawn with the terminal inherited; resolves with the exit status of the shell or command. */
export async function runNspawn(plan: NspawnPlan, options: { timeoutMs?: number } = {}): Promise<number> {
  const result = await execa("systemd-nspawn", nspawnArgs(plan), { stdio: "inherit", reject: false, timeout: options.timeoutMs });
  if (result.exitCode === undefined) {
    throw new ReconError("COMMAND_FAILED", `systemd-nspawn did not run in ${plan.root}: ${result.shortMessage ?? result.message}`, {
      hint: "install systemd-container (scripts/install-host-tools.sh build) and run as root",
    });
  }
  return result.exitCode;
}
