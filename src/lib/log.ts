/**
 * Structured logging as logfmt lines (`ts=… level=info component=build msg="…" key=value`):
 * one event per line, greppable on a serial console and parseable by machines.
 * Secrets must never be passed as fields; values are printed as given.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Quotes a logfmt value when it holds spaces, quotes, `=` or is empty. */
export function formatLogValue(value: string | number | boolean | null): string {
  const text = value === null ? "null" : String(value);
  if (text === "" || /[\s"=\\]/.test(text)) {
    return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
  }
  return text;
}

export function formatLogLine(ts: Date, level: LogLevel, msg: string, fields: LogFields): string {
  const parts = [`ts=${ts.toISOString()}`, `level=${level}`];
  const { component, ...rest } = fields;
  if (component !== undefined) parts.push(`component=${formatLogValue(component)}`);
  parts.push(`msg=${formatLogValue(msg)}`);
  for (const [key, value] of Object.entries(rest)) {
    if (value === undefined) continue;
    parts.push(`${key}=${formatLogValue(value)}`);
  }
  return parts.join(" ");
}

export interface LoggerOptions {
  level?: LogLevel;
  write?: (line: string) => void;
  now?: () => Date;
}

export function createLogger(base: LogFields = {}, options: LoggerOptions = {}): Logger {
  const min = LEVELS[options.level ?? "info"];
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (LEVELS[level] < min) return;
    write(formatLogLine(now(), level, msg, { ...base, ...fields }));
  };
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    child: (fields) => createLogger({ ...base, ...fields }, options),
  };
}
