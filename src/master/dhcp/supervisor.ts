/**
 * Runs dnsmasq in the foreground and keeps it running (docs/architecture.md, "Supervised loops"). Every log line goes
 * through parseDnsmasqLogLine; known lines become typed events and logfmt records, unknown ones
 * are logged at debug and the loop goes on. Start-up fails fast: if dnsmasq exits before it logs
 * `started, version` (bad option, unknown interface, port taken), the first start rejects with a
 * DnsmasqStartError naming the cause. Later exits restart it with exponential backoff (lib's one
 * supervisor), at most `maxRestarts` times within `windowMs`; then `done` rejects so the master
 * can stop the other subsystems.
 * Stopping is the caller's AbortSignal: dnsmasq gets SIGTERM (by its own PID, through the runner).
 */
import { ReconError } from "../../lib/errors.js";
import type { Logger, LogFields } from "../../lib/log.js";
import type { CommandRunner, RunResult } from "../../lib/run.js";
import { backoffDelayMs, superviseRestarts, type RestartPolicy } from "../../lib/supervise.js";
import { parseDnsmasqLogLine, type DnsmasqLogEvent } from "./parse-dnsmasq-log.js";

/** dnsmasq(8) EXIT CODES. */
const EXIT_MEANINGS: Record<number, string> = {
  1: "configuration problem",
  2: "network access problem (address in use, privileged port)",
  3: "filesystem problem (missing file or directory, permissions)",
  4: "memory allocation failure",
  5: "other miscellaneous problem",
};

/** The arguments recon always passes (pure). The config file repeats the first two; harmless. */
export function dnsmasqArgs(confFile: string): string[] {
  // keep-in-foreground: the supervisor owns the process; log-facility=- logs to stderr (dnsmasq log.c).
  return ["--keep-in-foreground", "--log-facility=-", `--conf-file=${confFile}`];
}

export type DnsmasqFailureKind = "port-in-use" | "bad-config" | "unknown-interface" | "file" | "not-found" | "permission" | "other";

export interface DnsmasqFailure {
  kind: DnsmasqFailureKind;
  /** The line of dnsmasq's own that says what went wrong, or a summary. */
  cause: string;
  hint: string;
}

/** Reads why dnsmasq did not start from its last lines and exit code (pure). */
export function explainDnsmasqFailure(exitCode: number, lines: readonly string[], confFile: string): DnsmasqFailure {
  const said = [...lines]
    .reverse()
    .find((line) => /^dnsmasq(\[\d+\])?: /.test(line.trim()))
    ?.trim();
  const text = lines.join("\n");
  const cause = said ?? (lines.filter(Boolean).at(-1)?.trim() || `exit code ${exitCode}${EXIT_MEANINGS[exitCode] ? ` (${EXIT_MEANINGS[exitCode]})` : ""}`);
  if (/Address (already )?in use/i.test(text)) {
    return {
      kind: "port-in-use",
      cause,
      hint: "another DHCP/TFTP/DNS server already holds the port on this interface; stop it (or use dhcp.mode: proxy if it is the site's DHCP server)",
    };
  }
  if (/unknown interface/i.test(text)) {
    return { kind: "unknown-interface", cause, hint: "the provisioning interface in the site config does not exist on this machine (see `ip link`)" };
  }
  if (/bad option|error at line|bad dhcp-|bad command line options|unsupported option|bad (address|port|name)/i.test(text) || exitCode === 1) {
    return { kind: "bad-config", cause, hint: `the generated config is invalid: run \`dnsmasq --test --conf-file=${confFile}\`` };
  }
  const tftpRoot = /TFTP directory (\S+) inaccessible: (.+)$/im.exec(text);
  if (tftpRoot) {
    // dnsmasq says "FAILED to start up" last; the line before it names the directory.
    return {
      kind: "file",
      cause: `TFTP directory ${tftpRoot[1]} inaccessible: ${tftpRoot[2]!.trim()}`,
      hint: "dnsmasq reads its TFTP root as its unprivileged user (nobody): that directory and every one above it need o+x (a 0700 parent, such as mkdtemp's, shuts it out)",
    };
  }
  if (/permission denied|Operation not permitted/i.test(text)) {
    return { kind: "permission", cause, hint: "dnsmasq needs root (CAP_NET_ADMIN, CAP_NET_BIND_SERVICE) to serve DHCP and TFTP" };
  }
  if (exitCode === 127 && /ENOENT|not found|No such file/i.test(text)) {
    return { kind: "not-found", cause, hint: "install dnsmasq (Debian: dnsmasq-base)" };
  }
  if (/cannot (read|open|access)|No such file|cannot create/i.test(text) || exitCode === 3) {
    return { kind: "file", cause, hint: "a file or directory named in the config is missing or unreadable (tftp-root, lease file, hosts dir)" };
  }
  return { kind: "other", cause, hint: "see dnsmasq's output in the master log" };
}

export class DnsmasqStartError extends ReconError {
  readonly kind: DnsmasqFailureKind;
  /** dnsmasq's own exit status (dnsmasq(8) EXIT CODES), not the CLI's. */
  readonly dnsmasqExitCode: number | undefined;
  constructor(failure: DnsmasqFailure, exitCode: number | undefined) {
    super("COMMAND_FAILED", `dnsmasq did not start: ${failure.cause}`, { hint: failure.hint });
    this.name = "DnsmasqStartError";
    this.kind = failure.kind;
    this.dnsmasqExitCode = exitCode;
  }
}

/** Backoff and the restart window: more than `maxRestarts` exits within `windowMs` is giving up. */
export type BackoffPolicy = RestartPolicy;

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000, maxRestarts: 8, windowMs: 10 * 60_000 };

/** Delay before restart number `failures` in the window (1-based): initial·2^(n−1), capped (pure). */
export const restartDelayMs = backoffDelayMs;

export type SupervisorEvent =
  | { type: "started"; run: number; at: Date }
  | { type: "dnsmasq"; event: DnsmasqLogEvent; line: string; at: Date }
  | { type: "exited"; run: number; exitCode: number; cause: string; restartInMs: number | undefined; at: Date }
  | { type: "gave-up"; runs: number; cause: string; at: Date };

export interface SuperviseDnsmasqOptions {
  runner: CommandRunner;
  confFile: string;
  logger: Logger;
  /** Stops dnsmasq and the supervision. */
  signal: AbortSignal;
  /** Prefix argv, e.g. `["ip", "netns", "exec", "<ns>"]` (tests run dnsmasq inside a netns). */
  wrapper?: readonly string[] | undefined;
  dnsmasqPath?: string | undefined;
  onEvent?: ((event: SupervisorEvent) => void) | undefined;
  /** How long to wait for `started, version` before giving up on a start. Default 10 s. */
  startTimeoutMs?: number | undefined;
  backoff?: Partial<BackoffPolicy> | undefined;
}

export interface DnsmasqSupervisor {
  /** Resolves once stopped through the signal; rejects with ReconError when restarts ran out. */
  readonly done: Promise<void>;
  /** Starts so far, the first included. */
  starts(): number;
}

interface Run {
  /** true once dnsmasq logged `started`; false if it exited or timed out first. */
  ready: Promise<boolean>;
  exit: Promise<{ result: RunResult; durationMs: number; tail: string[] }>;
}

const STARTED = /^dnsmasq\[\d+\]: started, version/;
const TAIL_LINES = 20;

function fieldsOf(event: DnsmasqLogEvent): LogFields {
  const { kind, ...rest } = event;
  return { event: kind, ...(rest as LogFields) };
}

function levelOf(event: DnsmasqLogEvent): "debug" | "info" | "warn" {
  switch (event.kind) {
    case "dhcp":
      return event.message === "NAK" || event.message === "DECLINE" ? "warn" : "info";
    case "pxe":
    case "tftp-sent":
      return "info";
    case "tftp-failed":
    case "tftp-not-found":
    case "tftp-error":
      return "warn";
    default:
      return "debug";
  }
}

/**
 * Starts dnsmasq and resolves once it is serving; rejects with DnsmasqStartError if it cannot
 * start. Afterwards it is restarted when it dies until `signal` aborts.
 */
export async function superviseDnsmasq(options: SuperviseDnsmasqOptions): Promise<DnsmasqSupervisor> {
  const policy: BackoffPolicy = { ...DEFAULT_BACKOFF, ...options.backoff };
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const log = options.logger.child({ component: "dnsmasq" });
  const argv = [...(options.wrapper ?? []), options.dnsmasqPath ?? "dnsmasq", ...dnsmasqArgs(options.confFile)];
  let starts = 0;

  const emit = (event: SupervisorEvent) => {
    try {
      options.onEvent?.(event);
    } catch (error) {
      // One broken listener must not stop DHCP for the whole fleet.
      log.error("event listener threw", { error: (error as Error).message, event: event.type });
    }
  };

  const onLine = (line: string) => {
    const at = new Date();
    const event = parseDnsmasqLogLine(line);
    if (event) {
      log[levelOf(event)](event.kind, fieldsOf(event));
      emit({ type: "dnsmasq", event, line, at });
    } else if (/^dnsmasq(\[\d+\])?: /.test(line)) {
      log.info(line.replace(/^dnsmasq(\[\d+\])?: /, ""));
    } else if (line.trim()) {
      log.debug("line", { line });
    }
  };

  const startRun = (): Run => {
    starts += 1;
    const run = starts;
    const child = new AbortController();
    const stopChild = () => child.abort();
    options.signal.addEventListener("abort", stopChild, { once: true });
    const tail: string[] = [];
    let markReady: (ready: boolean) => void = () => undefined;
    const ready = new Promise<boolean>((resolve) => (markReady = resolve));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      markReady(false);
      child.abort();
    }, startTimeoutMs);
    const began = Date.now();
    log.info("starting", { run, argv: argv.join(" ") });
    const [command, ...args] = argv;
    const exit = options.runner
      .run(command!, args, {
        signal: child.signal,
        buffer: false,
        onLine: (line) => {
          tail.push(line);
          if (tail.length > TAIL_LINES) tail.shift();
          if (STARTED.test(line)) {
            clearTimeout(timer);
            markReady(true);
          }
          onLine(line);
        },
      })
      .then((result) => {
        clearTimeout(timer);
        markReady(false);
        options.signal.removeEventListener("abort", stopChild);
        // execa's own message (ENOENT, killed by a signal) arrives in stderr, not through onLine.
        for (const line of result.stderr.split("\n").filter(Boolean)) if (!tail.includes(line)) tail.push(line);
        if (timedOut) tail.push(`dnsmasq: no "started" line within ${startTimeoutMs} ms`);
        return { result, durationMs: Date.now() - began, tail };
      });
    void ready.then((ok) => {
      if (ok) {
        log.info("serving", { run, startMs: Date.now() - began });
        emit({ type: "started", run, at: new Date() });
      }
    });
    return { ready, exit };
  };

  // Fail fast: the first start must succeed.
  if (options.signal.aborted) throw new ReconError("COMMAND_FAILED", "dnsmasq not started: already stopped");
  const first = startRun();
  if (!(await first.ready)) {
    const { result, tail } = await first.exit;
    const failure = explainDnsmasqFailure(result.exitCode, tail, options.confFile);
    log.error("could not start", { cause: failure.cause, kind: failure.kind, exitCode: result.exitCode });
    throw new DnsmasqStartError(failure, result.exitCode);
  }

  let pending: Run | undefined = first;
  const loop = () =>
    superviseRestarts({
      signal: options.signal,
      policy,
      runOnce: () => {
        const current = pending ?? startRun();
        pending = undefined;
        return current.exit;
      },
      onStopped: ({ result }) => log.info("stopped", { exitCode: result.exitCode }),
      onRestart: ({ result, tail }, { inWindow, delayMs }) => {
        const cause = explainDnsmasqFailure(result.exitCode, tail, options.confFile).cause;
        log.warn("exited, restarting", { exitCode: result.exitCode, cause, restartInMs: delayMs, failures: inWindow });
        emit({ type: "exited", run: starts, exitCode: result.exitCode, cause, restartInMs: delayMs, at: new Date() });
      },
      giveUp: ({ result, tail }) => {
        const cause = explainDnsmasqFailure(result.exitCode, tail, options.confFile).cause;
        log.error("giving up", { runs: starts, cause });
        emit({ type: "gave-up", runs: starts, cause, at: new Date() });
        return new ReconError("COMMAND_FAILED", `dnsmasq keeps exiting (${starts} runs, last: ${cause})`, {
          hint: "DHCP and TFTP are down; see the dnsmasq lines in the master log",
        });
      },
    });

  const done = loop();
  // The caller may attach to `done` later; keep Node from reporting the rejection as unhandled meanwhile.
  done.catch(() => undefined);
  return { done, starts: () => starts };
}
