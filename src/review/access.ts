/**
 * Who may read the review and who may act. Read-only access needs no token from the master
 * itself (loopback, or a connection from one of the master's own addresses: its console
 * browser); from the network every review request needs the admin token. Actions (power) need
 * the token always, wherever they come from.
 *
 * The admin token lives in <store>/admin-token (mode 600) so it leaves with the stick and
 * survives restarts; it is created at the first master start and shown on the console, never
 * logged (only its fingerprint) and never sent by any API.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../lib/atomic-write.js";

export const ADMIN_TOKEN_FILE = "admin-token";
export const ADMIN_COOKIE = "recon_admin";

export type AccessNeed = "read" | "act";
export type AccessDecision = { allowed: true; via: "local" | "token" } | { allowed: false; reason: "token-missing" | "token-invalid" };

/**
 * What the rule reads of an HTTP request; an express Request is one. Structural, so the review
 * stays a library without express (the master's routes pass their requests in).
 */
export interface AccessRequest {
  socket: { remoteAddress?: string | undefined; localAddress?: string | undefined };
  app?: { locals?: Record<string, unknown> } | undefined;
  get(name: string): string | undefined;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1)$/;

/** Pure: the rule above. */
export function decideAccess(need: AccessNeed, local: boolean, presented: string | undefined, adminToken: string): AccessDecision {
  if (presented !== undefined && tokenMatches(presented, adminToken)) return { allowed: true, via: "token" };
  // A stale cookie must not lock the master's own console out of reading.
  if (need === "read" && local) return { allowed: true, via: "local" };
  return { allowed: false, reason: presented === undefined ? "token-missing" : "token-invalid" };
}

export function tokenMatches(presented: string, adminToken: string): boolean {
  const a = createHash("sha256").update(presented).digest();
  const b = createHash("sha256").update(adminToken).digest();
  return timingSafeEqual(a, b);
}

/** Safe to log: identifies the token without revealing it. */
export function adminTokenFingerprint(token: string): string {
  return createHash("sha256").update(`recon-admin:${token}`).digest("hex").slice(0, 12);
}

function stripMapped(address: string | undefined): string {
  return (address ?? "").replace(/^::ffff:/, "");
}

/** An address as nginx's $remote_addr writes it (IPv4 or IPv6 text), nothing else. */
const ADDRESS_TEXT = /^[0-9a-fA-F.:]{2,45}$/;

/**
 * The connection's peer. Requests arrive on an IPv6 socket as `::ffff:10.20.0.5`; leases and
 * TFTP logs say `10.20.0.5`, so the mapped prefix goes.
 */
export function socketAddress(req: AccessRequest): string {
  return stripMapped(req.socket.remoteAddress);
}

/**
 * The one client-IP rule: the socket's peer, except behind recon's own nginx (the app's
 * `locals.behindNginx`) on a loopback connection, where it is nginx's X-Real-IP. The header is
 * believed only there, so a peer cannot claim another's address. `client` is undefined when that
 * header is not an address (nobody can say who the client is); `proxied` says nginx named it.
 */
function believedClient(req: AccessRequest): { client: string | undefined; proxied: boolean } {
  const remote = socketAddress(req);
  if (req.app?.locals?.behindNginx !== true || !LOOPBACK.test(remote)) return { client: remote, proxied: false };
  const real = req.get("x-real-ip")?.trim();
  if (real === undefined) return { client: remote, proxied: true };
  return { client: ADDRESS_TEXT.test(real) ? stripMapped(real) : undefined, proxied: true };
}

/** The client's address by the rule above; undefined when nginx's header is not an address. */
export function clientAddress(req: AccessRequest): string | undefined {
  return believedClient(req).client;
}

/** Whether the request comes from the master itself (its client by the rule above). */
export function isLocalRequest(req: AccessRequest): boolean {
  const { client, proxied } = believedClient(req);
  if (client === undefined) return false;
  // nginx listens on the master's addresses; only a loopback client of nginx is the master's own.
  if (proxied) return LOOPBACK.test(client);
  return LOOPBACK.test(client) || (client !== "" && client === stripMapped(req.socket.localAddress));
}

/** The token a request presents: `Authorization: Bearer …`, else the session cookie. */
export function presentedToken(req: AccessRequest): string | undefined {
  const header = req.get("authorization");
  const bearer = header === undefined ? undefined : /^Bearer\s+(\S+)$/i.exec(header)?.[1];
  if (bearer !== undefined) return bearer;
  for (const part of (req.get("cookie") ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === ADMIN_COOKIE && value.length > 0) return decodeURIComponent(value.join("="));
  }
  return undefined;
}

/** Reads <dataDir>/admin-token, creating it (mode 600) when absent. */
export async function loadOrCreateAdminToken(dataDir: string): Promise<{ token: string; created: boolean; path: string }> {
  const path = join(dataDir, ADMIN_TOKEN_FILE);
  try {
    const token = (await readFile(path, "utf8")).trim();
    if (/^[A-Za-z0-9_-]{16,}$/.test(token)) return { token, created: false, path };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const token = randomBytes(24).toString("base64url");
  await writeFileAtomic(path, `${token}\n`, 0o600);
  return { token, created: true, path };
}
