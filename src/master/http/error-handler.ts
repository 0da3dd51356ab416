/**
 * The end of the app (docs/architecture.md, "Routers from their dependencies"): a JSON 404 for every path no route took, and the one
 * error middleware mapping what a route threw to `{error, code, message}`.
 */
import type { NextFunction, Request, Response } from "express";
import { ReconError, isReconError, type ErrorCode } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";

function statusCode(code: string, status: number): ErrorCode | "INTERNAL" | "RANGE_NOT_SATISFIABLE" {
  if (code === "RANGE_NOT_SATISFIABLE" || status === 416) return "RANGE_NOT_SATISFIABLE";
  if (status === 404) return "NOT_FOUND";
  if (status === 413) return "PAYLOAD_TOO_LARGE";
  if (status === 415) return "UNSUPPORTED_MEDIA_TYPE";
  if (status >= 400 && status < 500) return "BAD_REQUEST";
  return "INTERNAL";
}

/** The last route: a JSON 404. */
export function refuseUnknownRoute(req: Request): void {
  throw new ReconError("NOT_FOUND", `no route for ${req.method} ${req.path.slice(0, 200)}`);
}

/**
 * The error middleware. Mounted on the app itself, not in a router: express passes an error by
 * every layer that does not take four arguments, a mounted router among them.
 */
export function createErrorHandler(log: Logger): (error: unknown, req: Request, res: Response, next: NextFunction) => void {
  return (error, req, res, _next) => {
    if (res.headersSent) {
      // Mid-body failure: the only honest signal left is to cut the connection.
      req.socket.destroy();
      return;
    }
    let status: number;
    let code: string;
    let message: string;
    if (isReconError(error)) {
      status = error.httpStatus ?? 500;
      code = error.code;
      message = error.message;
    } else {
      // express/send/body errors carry a status; anything else is our bug and says nothing more.
      const raw = (error ?? {}) as { status?: unknown; statusCode?: unknown; message?: unknown; code?: unknown };
      const given = Number(raw.status ?? raw.statusCode);
      status = given >= 400 && given < 500 ? given : 500;
      code = statusCode(String(raw.code ?? ""), status);
      message = status < 500 && typeof raw.message === "string" ? raw.message : "internal error";
    }
    if (status >= 500) log.error("request failed", { method: req.method, path: req.path, error: (error as Error)?.message });
    else log.info("request refused", { method: req.method, path: req.path.slice(0, 200), status, code });
    // Body bytes still unread (an upload not drained within its bounds): this connection cannot
    // carry another request.
    if (!req.complete) res.set("Connection", "close");
    res.status(status).json({ error: code, code, message });
  };
}
