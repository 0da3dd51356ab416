/**
 * Typed errors. Every failure a user can cause or meet carries a stable `code`, a message that
 * says what went wrong and where, and a `hint` that says how to fix it. Only src/cli.ts turns
 * them into output and an exit status.
 */
export type ErrorCode =
  | "USAGE"
  | "RECIPE_NOT_FOUND"
  | "RECIPE_INVALID"
  | "TARGET_UNKNOWN"
  | "PROFILE_UNKNOWN"
  | "APT_SOURCES"
  | "REPOSITORY_UNREACHABLE"
  | "COMMAND_FAILED"
  | "KIWI_FAILED"
  | "BUILD_LEFTOVER"
  | "ARTEFACT_MISSING"
  | "IO"
  | "NETWORK_UNAVAILABLE"
  | "CONFIG_INVALID"
  | "UPLOAD_REJECTED"
  | "NOT_FOUND"
  | "UNAUTHORIZED"
  | "BAD_REQUEST"
  | "PAYLOAD_TOO_LARGE"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "NGINX_FAILED"
  | "LOCKED"
  | "DATA_PARTITION"
  | "NFS_UNAVAILABLE";

/**
 * The status the master's error middleware answers with when a handler throws this code and
 * gives no `httpStatus` of its own. Codes a request cannot cause map to 500 there.
 */
const DEFAULT_HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  UPLOAD_REJECTED: 422,
  NOT_FOUND: 404,
  UNAUTHORIZED: 401,
  BAD_REQUEST: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
};

export interface ReconErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Process exit status when this error reaches the CLI. 2 = usage, 1 = failure. */
  exitCode?: number;
  httpStatus?: number;
}

export class ReconError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly exitCode: number;
  readonly httpStatus: number | undefined;

  constructor(code: ErrorCode, message: string, options: ReconErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ReconError";
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? (code === "USAGE" || code === "TARGET_UNKNOWN" ? 2 : 1);
    this.httpStatus = options.httpStatus ?? DEFAULT_HTTP_STATUS[code];
  }
}

export function isReconError(error: unknown): error is ReconError {
  return error instanceof ReconError;
}
