/**
 * The rules every route of the master's HTTP service shares: which MAC a route names
 * (`macParam`), who the client is (`clientIp`, over the review's one client-IP rule), and who
 * may read or act as the admin (`createAdminGuard`, over the review's access rule), which node a
 * peer is (`requireNodeToken`), and which paths no route may see (`refuseTraversal`).
 */
import type { NextFunction, Request, Response } from "express";
import { ReconError } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import { tokenFingerprint, verifyToken } from "../../model/peer-token.js";
import { normalizeMac } from "../../model/net-address.js";
import { clientAddress, decideAccess, isLocalRequest, presentedToken, socketAddress, type AccessNeed } from "../../review/access.js";

/** A route's `:mac` as the canonical MAC, or 400 (any separator, any case). */
export function macParam(text: string | undefined): string {
  const mac = text === undefined ? undefined : normalizeMac(text);
  if (mac === undefined) {
    throw new ReconError("BAD_REQUEST", `'${(text ?? "").slice(0, 40)}' is not a MAC address`, {
      hint: "write it as 52-54-00-12-34-56 or 52:54:00:12:34:56",
    });
  }
  return mac;
}

/**
 * The peer's address (review/access.ts clientAddress: nginx's X-Real-IP only from loopback).
 * For logs, the IP → MAC map and an upload's record, a header that is not an address falls back
 * to the connection's own peer.
 */
export function clientIp(req: Request): string {
  return clientAddress(req) ?? socketAddress(req);
}

/**
 * The header the review UI sends with an action. The admin cookie (SameSite=Strict) rides along
 * on any request the browser makes to the master, including one a page on another port of the
 * same host could send; a custom header it cannot add without a CORS preflight, which the
 * master never answers with permission. So an action carried by the cookie needs this header.
 */
export const UI_ACTION_HEADER = "x-recon-ui";

export interface AdminGuardOptions {
  /** The refusal's message when no token was presented, and the hint of every refusal. */
  missing: (need: AccessNeed) => string;
  hint: string;
  /** An action carried by the session cookie (no Authorization header) needs UI_ACTION_HEADER. */
  cookieActionsNeedUiHeader?: boolean;
}

/** The one admin guard: throws UNAUTHORIZED unless `req` may `need` (review/access.ts decideAccess). */
export function createAdminGuard(adminToken: string, options: AdminGuardOptions): (req: Request, need: AccessNeed) => void {
  return (req, need) => {
    const decision = decideAccess(need, isLocalRequest(req), presentedToken(req), adminToken);
    if (
      decision.allowed &&
      options.cookieActionsNeedUiHeader === true &&
      need === "act" &&
      req.get("authorization") === undefined &&
      req.get(UI_ACTION_HEADER) !== "1"
    ) {
      throw new ReconError("UNAUTHORIZED", "a power action carried by the session cookie must come from the review UI", {
        hint: `send Authorization: Bearer <the admin token>, or the ${UI_ACTION_HEADER}: 1 header the UI sends`,
      });
    }
    if (decision.allowed) return;
    throw new ReconError("UNAUTHORIZED", decision.reason === "token-missing" ? options.missing(need) : "the admin token is not valid", { hint: options.hint });
  };
}

/** 400 for any path that could climb out of a served tree, before a route sees it. */
export function refuseTraversal(req: Request, _res: Response, next: NextFunction): void {
  const raw = req.originalUrl.split("?")[0] ?? "";
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new ReconError("BAD_REQUEST", "the URL is not valid percent-encoding");
  }
  // Decoded, because `%2e%2e` and `%2f` are how traversal hides from a router that matches
  // raw segments; backslashes and NUL because some file APIs treat them specially.
  if (decoded.split("/").some((part) => part === ".." || part === ".") || /[\\\0]/.test(decoded)) {
    throw new ReconError("BAD_REQUEST", "URL paths may not contain '..' or '.' segments, backslashes or NUL (path traversal)");
  }
  next();
}

/** Throws UNAUTHORIZED unless `req` carries `Authorization: Bearer <mac's peer token>` (model/peer-token.ts). */
export function requireNodeToken(req: Request, mac: string, secret: Uint8Array, log: Logger): void {
  const header = req.get("authorization");
  if (header === undefined) {
    throw new ReconError("UNAUTHORIZED", "this request needs the node's token", {
      hint: "send Authorization: Bearer <recon.token from the kernel command line>",
    });
  }
  const match = /^Bearer ([^\s]+)$/.exec(header);
  if (match === null || !verifyToken(secret, mac, match[1]!)) {
    // The fingerprint lets a technician match this to a served script; the token stays secret.
    log.warn("bad token", { mac, ip: clientIp(req), token: match ? tokenFingerprint(match[1]!) : "malformed" });
    throw new ReconError("UNAUTHORIZED", `the token is not valid for ${mac}`, {
      hint: "tokens are per node and per master secret; boot the node from this master again",
    });
  }
}
