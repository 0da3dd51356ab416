/**
 * The one way recon starts external programs: argv arrays through execa, never a shell string,
 * never a secret in argv (pass those through `env` or a file). Modules per tool build the
 * arguments and parse the output; this file only runs.
 */
import { execa } from "execa";
import { ReconError } from "./errors.js";

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Called for every complete line of stdout and stderr while the command runs. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  timeoutMs?: number;
  input?: string;
  signal?: AbortSignal;
  /**
   * false: keep no copy of the output (the result's stdout/stderr are empty); lines still reach
   * onLine. For long-running children such as dnsmasq, whose log would otherwise grow in memory.
   */
  buffer?: boolean;
}

export interface RunResult {
  command: string;
  args: string[];
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface CommandRunner {
  /** Runs to completion; resolves with the result even when the exit code is not 0. */
  run(command: string, args: string[], options?: RunOptions): Promise<RunResult>;
}

export class CommandError extends ReconError {
  readonly result: RunResult;
  constructor(result: RunResult, hint?: string) {
    const tail = lastLines(result.stderr || result.stdout, 10);
    super(
      "COMMAND_FAILED",
      `${result.command} ${result.args.join(" ")} exited with ${result.exitCode}${tail ? `:\n${tail}` : ""}`,
      hint === undefined ? {} : { hint },
    );
    this.result = result;
  }
}

export function lastLines(text: string, count: number): string {
  const lines = text.replace(/\s+$/, "").split("\n");
  return lines.slice(-count).join("\n");
}

/** Runs and throws CommandError on a non-zero exit. */
export async function runChecked(runner: CommandRunner, command: string, args: string[], options?: RunOptions & { hint?: string }): Promise<RunResult> {
  const result = await runner.run(command, args, options);
  if (result.exitCode !== 0) throw new CommandError(result, options?.hint);
  return result;
}

function splitLines(onLine: (line: string) => void) {
  let rest = "";
  return {
    push(chunk: string) {
      rest += chunk;
      let index = rest.indexOf("\n");
      while (index >= 0) {
        onLine(rest.slice(0, index).replace(/\r$/, ""));
        rest = rest.slice(index + 1);
        index = rest.indexOf("\n");
      }
    },
    flush() {
      if (rest) onLine(rest);
      rest = "";
    },
  };
}

export const execaRunner: CommandRunner = {
  async run(command, args, options = {}) {
    const child = execa(command, args, {
      cwd: options.cwd,
      env: options.env,
      extendEnv: true,
      reject: false,
      stripFinalNewline: false,
      timeout: options.timeoutMs,
      cancelSignal: options.signal,
      input: options.input,
      stdin: options.input === undefined ? "ignore" : "pipe",
      encoding: "utf8",
      buffer: options.buffer ?? true,
    });
    if (options.onLine) {
      const onLine = options.onLine;
      const out = splitLines((line) => onLine(line, "stdout"));
      const err = splitLines((line) => onLine(line, "stderr"));
      child.stdout?.on("data", (chunk: Buffer) => out.push(chunk.toString("utf8")));
      child.stderr?.on("data", (chunk: Buffer) => err.push(chunk.toString("utf8")));
      child.stdout?.on("end", () => out.flush());
      child.stderr?.on("end", () => err.flush());
    }
    const result = await child;
    if (result.failed && result.exitCode === undefined) {
      // Not started (ENOENT), timed out or killed: still a result the caller can report.
      return {
        command,
        args,
        exitCode: result.timedOut ? 124 : 127,
        stdout: String(result.stdout ?? ""),
        stderr: `${String(result.stderr ?? "")}${result.shortMessage}\n`,
      };
    }
    return {
      command,
      args,
      exitCode: result.exitCode ?? 1,
      stdout: String(result.stdout ?? ""),
      stderr: String(result.stderr ?? ""),
    };
  },
};
