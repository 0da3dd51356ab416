import { describe, expect, it } from "vitest";
import { issueToken, newNonce, tokenFingerprint, verifyToken } from "./peer-token.js";

const secret = Buffer.alloc(32, 7);
const other = Buffer.alloc(32, 8);
const mac = "52:54:00:12:34:56";

describe("peer tokens", () => {
  it("verifies a token for its MAC in any MAC spelling", () => {
    const token = issueToken(secret, mac, "abcdefgh12345678");
    expect(token).toMatch(/^abcdefgh12345678\.[A-Za-z0-9_-]{43}$/);
    expect(verifyToken(secret, mac, token)).toBe(true);
    expect(verifyToken(secret, "52-54-00-12-34-56", token)).toBe(true);
    expect(verifyToken(secret, "52:54:00:12:34:56".toUpperCase(), token)).toBe(true);
  });

  it("is deterministic for one (secret, mac, nonce) and differs per nonce", () => {
    expect(issueToken(secret, mac, "nonce-0001")).toBe(issueToken(secret, mac, "nonce-0001"));
    expect(issueToken(secret, mac, "nonce-0001")).not.toBe(issueToken(secret, mac, "nonce-0002"));
  });

  it("issues one-word tokens that fit a kernel command line", () => {
    const token = issueToken(secret, mac, newNonce());
    expect(token).toMatch(/^[A-Za-z0-9_.-]+$/);
    expect(token.length).toBeLessThan(80);
  });

  const token = issueToken(secret, mac, "abcdefgh12345678");
  const [nonce, hmac] = token.split(".") as [string, string];
  const flipLast = (text: string) => text.slice(0, -1) + (text.endsWith("A") ? "B" : "A");
  it.each([
    ["another MAC", secret, "52:54:00:12:34:57", token],
    ["another secret", other, mac, token],
    ["a changed nonce", secret, mac, `abcdefgh12345679.${hmac}`],
    ["a changed HMAC", secret, mac, `${nonce}.${flipLast(hmac)}`],
    ["a truncated HMAC", secret, mac, `${nonce}.${hmac.slice(0, -2)}`],
    ["no dot", secret, mac, `${nonce}${hmac}`],
    ["an empty token", secret, mac, ""],
    ["only a dot", secret, mac, "."],
    ["a short nonce", secret, mac, `abc.${hmac}`],
    ["a padded HMAC", secret, mac, `${token}=`],
    ["a huge token", secret, mac, `${nonce}.${"A".repeat(10_000)}`],
    ["a non-MAC", secret, "not-a-mac", token],
  ])("refuses %s", (_name, key, forMac, candidate) => {
    expect(verifyToken(key, forMac, candidate)).toBe(false);
  });

  it("refuses another spelling of the same HMAC bytes", () => {
    // base64url of 32 bytes ends in a character with 2 spare bits; decoding would ignore them.
    const last = hmac.at(-1)!;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const sibling = alphabet[alphabet.indexOf(last) ^ 1]!;
    expect(verifyToken(secret, mac, `${nonce}.${hmac.slice(0, -1)}${sibling}`)).toBe(false);
  });

  it("refuses to issue with a malformed MAC or nonce", () => {
    expect(() => issueToken(secret, "zz", "abcdefgh")).toThrow(TypeError);
    expect(() => issueToken(secret, mac, "has.dot.s")).toThrow(TypeError);
    expect(() => issueToken(secret, mac, "short")).toThrow(TypeError);
  });

  it("fingerprints without revealing", () => {
    const print = tokenFingerprint(token);
    expect(print).toMatch(/^[0-9a-f]{8}$/);
    expect(token).not.toContain(print);
  });
});
