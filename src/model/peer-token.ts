/**
 * Per-boot peer tokens. Stateless: `<nonce>.<hmac>` where the HMAC-SHA256 (master secret) covers
 * the node's MAC and the nonce, so the master keeps no token table that a restart would lose and
 * a token minted for one MAC is worthless for another. The token rides on the peer's kernel
 * command line (planBoot), so it is one word of URL-safe base64 characters.
 *
 * A token is a credential: never log it, never put it in a response other than the iPXE script
 * of the node it belongs to. `tokenFingerprint` is what logs may carry.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { normalizeMac } from "./net-address.js";

const NONCE = /^[A-Za-z0-9_-]{8,64}$/;
// Domain separation: the same secret may sign other things later (e.g. session cookies), and
// those must never verify as peer tokens.
const CONTEXT = "recon-peer-token-v1";

/** 12 random bytes (96 bits) as base64url: unguessable, and short on the kernel command line. */
export function newNonce(): string {
  return randomBytes(12).toString("base64url");
}

function hmacOf(secret: Uint8Array, mac: string, nonce: string): Buffer {
  // NUL separators: neither a normalized MAC nor a nonce can contain one, so no two
  // (mac, nonce) pairs produce the same input.
  return createHmac("sha256", secret).update(`${CONTEXT}\0${mac}\0${nonce}`).digest();
}

export function issueToken(secret: Uint8Array, mac: string, nonce: string): string {
  const normalized = normalizeMac(mac);
  if (normalized === undefined) throw new TypeError("issueToken: not a MAC address");
  if (!NONCE.test(nonce)) throw new TypeError("issueToken: the nonce must be 8–64 base64url characters");
  return `${nonce}.${hmacOf(secret, normalized, nonce).toString("base64url")}`;
}

/** True when `token` was issued by this master for this MAC. Constant time in the HMAC compare. */
export function verifyToken(secret: Uint8Array, mac: string, token: string): boolean {
  const normalized = normalizeMac(mac);
  if (normalized === undefined || token.length > 200) return false;
  const dot = token.indexOf(".");
  if (dot < 0) return false;
  const nonce = token.slice(0, dot);
  const given = token.slice(dot + 1);
  if (!NONCE.test(nonce)) return false;
  // Compare the base64url text rather than decoded bytes: decoding ignores a last character's
  // spare bits, which would let several spellings of one token verify.
  const expected = Buffer.from(hmacOf(secret, normalized, nonce).toString("base64url"));
  const givenBytes = Buffer.from(given);
  return givenBytes.length === expected.length && timingSafeEqual(givenBytes, expected);
}

/** A short, one-way tag to correlate log lines about one token without revealing it. */
export function tokenFingerprint(token: string): string {
  return createHash("sha256").update(token).digest("hex").slice(0, 8);
}
