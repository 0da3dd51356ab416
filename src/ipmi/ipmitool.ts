/**
 * ipmitool, out of band (docs/architecture.md, "One module per tool"): a pure argument builder, a pure classifier of ipmitool's
 * stderr into failure classes, and a thin client that runs it through the injected
 * CommandRunner with timeouts, bounded retries and the cipher-suite fallback. The parsers of the
 * outputs recon reads (`chassis power status`, `lan print`, `mc info`) are in
 * src/inventory/parse/ipmitool-text.ts, shared with the in-band inventory.
 *
 * The BMC password never enters argv (where `ps` and /proc/<pid>/cmdline show it to every user):
 * it goes through the environment (`-E` reads IPMI_PASSWORD) or a file (`-f`, mode 0600).
 *
 * docs/lab-facts.md: lanplus without `-C` stalls ~10 s on "Unable to Get Channel Cipher Suites"; modern
 * BMCs (Intel, Dell iDRAC 9, HPE iLO 5) want cipher suite 17, older ones and ipmi_sim only take
 * 3. So the client asks with 17 first and falls back to 3 when the BMC refuses the suite, then
 * remembers what worked for that BMC.
 * Fixtures: test/fixtures/ipmi/ (captured from ipmitool 1.8.19 against OpenIPMI's ipmi_sim).
 */
import { stat } from "node:fs/promises";
import { ReconError } from "../lib/errors.js";
import type { CommandRunner, RunResult } from "../lib/run.js";
import {
  parseLanPrint,
  parseMcInfo,
  parsePowerControl,
  parsePowerStatus,
  type LanPrint,
  type McInfo,
  type PowerState,
} from "../inventory/parse/ipmitool-text.js";
import { sleep } from "../lib/abortable-sleep.js";

/** Anything that reveals a password on request and prints as `[redacted]` otherwise. */
export interface SecretValue {
  reveal(): string;
}

export interface BmcTarget {
  /** Host name or IPv4 address of the BMC's LAN interface. */
  address: string;
  /** RMCP+ UDP port; 623 when absent. */
  port?: number | undefined;
  username: string;
  /** Exactly one of password and passwordFile. */
  password?: SecretValue | undefined;
  /** Absolute path of a file holding the password; must not be readable by group or others. */
  passwordFile?: string | undefined;
  /** How logs and errors name this BMC, e.g. the node's MAC or `peer1`; the address if absent. */
  name?: string | undefined;
}

export type CipherSuite = 17 | 3;
export const CIPHER_SUITES: readonly CipherSuite[] = [17, 3];

export type PowerAction = "on" | "off" | "cycle" | "reset" | "soft";
export const POWER_ACTIONS: readonly PowerAction[] = ["on", "off", "cycle", "reset", "soft"];

/**
 * Why a call failed. CIPHER is internal (it triggers the fallback to the next suite); the rest
 * reach callers: AUTH (user or password refused), UNREACHABLE (no answer, no route, no such
 * host), UNSUPPORTED (the BMC does not implement the command), TIMEOUT (ipmitool did not finish
 * in time), FAILED (anything else; the message carries ipmitool's words).
 */
export type IpmiFailure = "AUTH" | "UNREACHABLE" | "UNSUPPORTED" | "TIMEOUT" | "CIPHER" | "FAILED";

const HINTS: Record<IpmiFailure, string> = {
  AUTH: "check the BMC's username and password in the site config (bmcs: … username/password or passwordFile); the user needs the ADMINISTRATOR privilege",
  UNREACHABLE: "check the BMC address, that the BMC's LAN interface is enabled with IPMI over LAN, and that UDP port 623 is reachable from the master",
  UNSUPPORTED: "this BMC does not implement the command; recon goes on without it where it can",
  TIMEOUT: "the BMC did not answer in time; it may be busy or rebooting — try again",
  CIPHER: "the BMC offers neither cipher suite 17 nor 3; enable one of them in the BMC's LAN settings",
  FAILED: "see ipmitool's message above",
};

/** A failed BMC call: names the BMC and the class of failure, never the password. */
export class IpmiError extends ReconError {
  readonly failure: IpmiFailure;
  readonly bmc: string;
  constructor(failure: IpmiFailure, bmc: string, what: string, detail: string, cause?: unknown) {
    super("COMMAND_FAILED", `BMC ${bmc}: ${what} failed (${failure}): ${detail}`, {
      hint: HINTS[failure],
      // The master's API answers 502: the failing party is the BMC, not the request.
      httpStatus: failure === "UNSUPPORTED" ? 501 : failure === "TIMEOUT" ? 504 : 502,
      ...(cause === undefined ? {} : { cause }),
    });
    this.name = "IpmiError";
    this.failure = failure;
    this.bmc = bmc;
  }
}

export function bmcLabel(target: BmcTarget): string {
  const where = target.port && target.port !== 623 ? `${target.address}:${target.port}` : target.address;
  return target.name && target.name !== target.address ? `${target.name} (${where})` : where;
}

// ---- pure argument builder ------------------------------------------------------------------

export interface IpmitoolInvocation {
  args: string[];
  /** Extra environment for the child: IPMI_PASSWORD when the password is given inline. */
  env: Record<string, string>;
}

export interface ArgOptions {
  cipherSuite: CipherSuite;
  /** ipmitool's own per-request timeout in seconds (`-N`) and retries (`-R`). */
  requestTimeoutS?: number;
  requestRetries?: number;
}

/**
 * `ipmitool -I lanplus -H <addr> [-p port] -U <user> -E|-f <file> -C <suite> -N n -R n -v <command…>`.
 * `-v` makes ipmitool say *why* a session failed (RAKP errors, no answer), which the classifier
 * needs; it does not change the stdout the parsers read.
 */
export function ipmitoolArgs(target: BmcTarget, command: readonly string[], options: ArgOptions): IpmitoolInvocation {
  if (command.length === 0) throw new ReconError("USAGE", "ipmitoolArgs: empty command");
  if (!/^[A-Za-z0-9.:_-]+$/.test(target.address)) {
    throw new ReconError("CONFIG_INVALID", `BMC address '${target.address.slice(0, 60)}' is not a host name or IP address`);
  }
  if (/[\s\0]/.test(target.username) || target.username.length === 0 || target.username.length > 16) {
    throw new ReconError("CONFIG_INVALID", `BMC ${bmcLabel(target)}: the username must be 1–16 characters without spaces (IPMI 2.0)`);
  }
  const args = ["-I", "lanplus", "-H", target.address];
  if (target.port !== undefined && target.port !== 623) args.push("-p", String(target.port));
  args.push("-U", target.username);
  const env: Record<string, string> = {};
  if (target.password !== undefined && target.passwordFile !== undefined) {
    throw new ReconError("CONFIG_INVALID", `BMC ${bmcLabel(target)}: give password or passwordFile, not both`);
  }
  if (target.password !== undefined) {
    args.push("-E");
    env.IPMI_PASSWORD = target.password.reveal();
  } else if (target.passwordFile !== undefined) {
    args.push("-f", target.passwordFile);
  } else {
    throw new ReconError("CONFIG_INVALID", `BMC ${bmcLabel(target)} has no password or passwordFile`, {
      hint: "add password: or passwordFile: (a mode 0600 file) to its entry in the site config",
    });
  }
  args.push("-C", String(options.cipherSuite));
  args.push("-N", String(options.requestTimeoutS ?? 2), "-R", String(options.requestRetries ?? 2));
  args.push("-v", ...command);
  return { args, env };
}

export function powerCommand(action: PowerAction | "status"): string[] {
  return ["chassis", "power", action];
}

export const BOOTDEV_PXE_COMMAND = ["chassis", "bootdev", "pxe"];
export const MC_INFO_COMMAND = ["mc", "info"];
export function lanPrintCommand(channel: number): string[] {
  if (!Number.isInteger(channel) || channel < 1 || channel > 15) throw new ReconError("USAGE", `LAN channel ${channel} is not 1–15`);
  return ["lan", "print", String(channel)];
}

// ---- pure failure classifier ----------------------------------------------------------------

/** Exit status execaRunner reports for a command it stopped at its timeout. */
const TIMED_OUT = 124;

const PATTERNS: Array<[IpmiFailure, RegExp]> = [
  // RAKP: the BMC refused the user name or the HMAC keyed with the password.
  ["AUTH", /RAKP \d+ HMAC is invalid|unauthorized name|invalid user name|insufficient privilege/i],
  // RMCP+ open session: the BMC does not offer the suite asked for.
  ["CIPHER", /invalid (authentication|integrity|confidentiality) algorithm|no matching cipher suite|Invalid Cipher suite|Unable to Get Channel Cipher Suites/i],
  [
    "UNREACHABLE",
    /Get Auth Capabilities error|Error issuing Get Channel Authentication Capabilities|Could not open socket|Address lookup for .* failed|No response from remote controller|Network is unreachable|No route to host/i,
  ],
  // Completion codes a BMC gives for commands it does not implement (IPMI 2.0 table 5-2).
  ["UNSUPPORTED", /Invalid data field in request|Invalid command|Command not supported|not supported|Parameter not supported/i],
];

/**
 * The failure an ipmitool run shows, or undefined for success. ipmitool exits 0 even when part
 * of a command failed (`chassis bootdev` prints `Set Chassis Boot Parameter 5 failed: …` and
 * exits 0); with `-v` a healthy session also prints `Invalid completion code received: Invalid
 * command` (an optional VSO probe), which is not a failure.
 */
export function classifyIpmitoolResult(result: Pick<RunResult, "exitCode" | "stderr" | "stdout">): IpmiFailure | undefined {
  if (result.exitCode === TIMED_OUT && /timed out/i.test(result.stderr)) return "TIMEOUT";
  // Only a failed *Set* counts on exit 0: `lan print -v` reports optional parameters a BMC lacks
  // as `Get LAN Parameter '…' command failed: Unsupported parameter` and still succeeds.
  const failedLines = result.stderr.split("\n").filter((line) => /^Set .* failed: /.test(line));
  if (result.exitCode === 0 && failedLines.length === 0) return undefined;
  const text = result.exitCode === 0 ? failedLines.join("\n") : result.stderr.replace(/^Invalid completion code received: Invalid command$/gm, "");
  for (const [failure, pattern] of PATTERNS) if (pattern.test(text)) return failure;
  // A session that could not be established with no more specific reason: nobody answered.
  if (/Unable to establish IPMI v2 \/ RMCP\+ session/.test(text)) return "UNREACHABLE";
  return "FAILED";
}

/** The lines of ipmitool's stderr worth showing a user (not the -v chatter). */
export function ipmitoolDiagnostic(stderr: string): string {
  const noise = /^(Loading IANA PEN Registry|Running Get VSO Capabilities|Invalid completion code received: Invalid command|Discovered IPMB address)/;
  const lines = stderr
    .split("\n")
    .map((line) => line.replace(/^>\s*/, "").trim())
    .filter((line) => line && !noise.test(line));
  return lines.slice(-4).join("; ") || "(no message)";
}

// ---- thin client ----------------------------------------------------------------------------

export interface IpmiClientOptions {
  runner: CommandRunner;
  /** Prefix for every ipmitool run, e.g. `ip netns exec <ns>` in tests. */
  wrapper?: readonly string[];
  /** Wall-clock bound of one ipmitool run. */
  timeoutMs?: number;
  /** Runs per call for UNREACHABLE/TIMEOUT (transient on UDP); 1 = no retry. */
  attempts?: number;
  /** Pause between those runs. */
  retryDelayMs?: number;
  requestTimeoutS?: number;
  requestRetries?: number;
  /** For tests: observe each ipmitool argv right before it runs. */
  onSpawn?: (argv: readonly string[]) => void;
}

export interface IpmiClient {
  powerStatus(target: BmcTarget): Promise<PowerState>;
  /** Resolves with the BMC's acknowledgement, e.g. `Up/On`. */
  power(target: BmcTarget, action: PowerAction): Promise<string>;
  /** Next boot from the network; rejects with failure UNSUPPORTED where the BMC lacks it. */
  bootdevPxe(target: BmcTarget): Promise<void>;
  mcInfo(target: BmcTarget): Promise<McInfo>;
  lanPrint(target: BmcTarget, channel?: number): Promise<LanPrint>;
}

/** Refuses a password file that group or others may read: it would leak the BMC password. */
export async function checkPasswordFile(target: BmcTarget): Promise<void> {
  if (target.passwordFile === undefined) return;
  let mode: number;
  try {
    mode = (await stat(target.passwordFile)).mode;
  } catch (error) {
    throw new ReconError("CONFIG_INVALID", `BMC ${bmcLabel(target)}: password file ${target.passwordFile} cannot be read`, {
      hint: "create it with the BMC password on one line, mode 0600",
      cause: error,
    });
  }
  if ((mode & 0o077) !== 0) {
    throw new ReconError(
      "CONFIG_INVALID",
      `BMC ${bmcLabel(target)}: password file ${target.passwordFile} is readable by group or others (mode ${(mode & 0o777).toString(8)})`,
      {
        hint: `chmod 600 ${target.passwordFile}`,
      },
    );
  }
}

export function createIpmiClient(options: IpmiClientOptions): IpmiClient {
  const { runner } = options;
  const attempts = Math.max(1, options.attempts ?? 2);
  /** The suite that last worked per BMC, so later calls skip the refused one. */
  const suiteFor = new Map<string, CipherSuite>();

  async function runOnce(target: BmcTarget, command: readonly string[], suite: CipherSuite): Promise<{ result: RunResult; failure: IpmiFailure | undefined }> {
    const { args, env } = ipmitoolArgs(target, command, {
      cipherSuite: suite,
      ...(options.requestTimeoutS !== undefined && { requestTimeoutS: options.requestTimeoutS }),
      ...(options.requestRetries !== undefined && { requestRetries: options.requestRetries }),
    });
    const argv = [...(options.wrapper ?? []), "ipmitool", ...args];
    options.onSpawn?.(argv);
    const result = await runner.run(argv[0]!, argv.slice(1), { env, timeoutMs: options.timeoutMs ?? 20_000 });
    return { result, failure: classifyIpmitoolResult(result) };
  }

  async function call(target: BmcTarget, command: readonly string[], what: string): Promise<RunResult> {
    await checkPasswordFile(target);
    const key = `${target.address}:${target.port ?? 623}`;
    const known = suiteFor.get(key);
    const suites = known ? [known, ...CIPHER_SUITES.filter((s) => s !== known)] : [...CIPHER_SUITES];
    let last: { result: RunResult; failure: IpmiFailure } | undefined;
    for (const suite of suites) {
      for (let attempt = 1; attempt <= attempts; attempt += 1) {
        const { result, failure } = await runOnce(target, command, suite);
        if (failure === undefined) {
          suiteFor.set(key, suite);
          return result;
        }
        last = { result, failure };
        if (failure !== "UNREACHABLE" && failure !== "TIMEOUT") break;
        if (attempt < attempts) await sleep(options.retryDelayMs ?? 500);
      }
      // Only a refused suite is worth another suite; bad credentials or silence are not.
      if (last?.failure !== "CIPHER") break;
    }
    const failure = last!.failure;
    const detail = failure === "TIMEOUT" ? `no result within ${Math.round((options.timeoutMs ?? 20_000) / 1000)} s` : ipmitoolDiagnostic(last!.result.stderr);
    throw new IpmiError(failure, bmcLabel(target), what, detail);
  }

  return {
    async powerStatus(target) {
      const result = await call(target, powerCommand("status"), "chassis power status");
      const state = parsePowerStatus(result.stdout);
      if (state === undefined)
        throw new IpmiError("FAILED", bmcLabel(target), "chassis power status", `unexpected answer '${result.stdout.trim().slice(0, 80)}'`);
      return state;
    },
    async power(target, action) {
      const result = await call(target, powerCommand(action), `chassis power ${action}`);
      return parsePowerControl(result.stdout) ?? result.stdout.trim();
    },
    async bootdevPxe(target) {
      await call(target, BOOTDEV_PXE_COMMAND, "chassis bootdev pxe");
    },
    async mcInfo(target) {
      return parseMcInfo((await call(target, MC_INFO_COMMAND, "mc info")).stdout);
    },
    async lanPrint(target, channel = 1) {
      return parseLanPrint((await call(target, lanPrintCommand(channel), `lan print ${channel}`)).stdout);
    },
  };
}
