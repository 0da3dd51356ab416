import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { adminTokenFingerprint, clientAddress, decideAccess, isLocalRequest, loadOrCreateAdminToken, presentedToken, type AccessRequest } from "./access.js";

const TOKEN = "s3cret-token-abcdefghijkl";

function request(remote: string, local: string, headers: Record<string, string> = {}, behindNginx = false): AccessRequest {
  return {
    socket: { remoteAddress: remote, localAddress: local },
    app: { locals: { behindNginx } },
    get: (name: string) => headers[name.toLowerCase()],
  };
}

describe("decideAccess", () => {
  it.each([
    ["read", true, undefined, true],
    ["read", false, undefined, false],
    ["read", false, TOKEN, true],
    ["read", false, "wrong", false],
    ["read", true, "stale", true],
    ["act", true, undefined, false],
    ["act", true, TOKEN, true],
    ["act", false, "wrong", false],
  ] as const)("%s, local=%s, token=%s → %s", (need, local, presented, allowed) => {
    expect(decideAccess(need, local, presented, TOKEN).allowed).toBe(allowed);
  });

  it("says whether the token was missing or wrong", () => {
    expect(decideAccess("read", false, undefined, TOKEN)).toEqual({ allowed: false, reason: "token-missing" });
    expect(decideAccess("act", false, "x", TOKEN)).toEqual({ allowed: false, reason: "token-invalid" });
  });
});

describe("isLocalRequest", () => {
  it("counts loopback and the master's own address as local, other hosts not", () => {
    expect(isLocalRequest(request("127.0.0.1", "127.0.0.1"))).toBe(true);
    expect(isLocalRequest(request("::1", "::1"))).toBe(true);
    expect(isLocalRequest(request("::ffff:10.0.0.1", "::ffff:10.0.0.1"))).toBe(true);
    expect(isLocalRequest(request("::ffff:10.0.0.7", "::ffff:10.0.0.1"))).toBe(false);
  });

  it("believes X-Real-IP only behind recon's nginx and only from loopback", () => {
    expect(isLocalRequest(request("127.0.0.1", "127.0.0.1", { "x-real-ip": "10.0.0.7" }, true))).toBe(false);
    expect(isLocalRequest(request("127.0.0.1", "127.0.0.1", { "x-real-ip": "127.0.0.1" }, true))).toBe(true);
    // without nginx the header is the client's own claim: ignored
    expect(isLocalRequest(request("127.0.0.1", "127.0.0.1", { "x-real-ip": "10.0.0.7" }, false))).toBe(true);
    expect(isLocalRequest(request("10.0.0.7", "10.0.0.1", { "x-real-ip": "127.0.0.1" }, true))).toBe(false);
  });
});

describe("clientAddress", () => {
  it("is the socket's peer, or nginx's X-Real-IP from loopback behind nginx", () => {
    expect(clientAddress(request("::ffff:10.0.0.7", "::ffff:10.0.0.1", { "x-real-ip": "10.0.0.9" }))).toBe("10.0.0.7");
    expect(clientAddress(request("127.0.0.1", "127.0.0.1", { "x-real-ip": "::ffff:10.0.0.9" }, true))).toBe("10.0.0.9");
    expect(clientAddress(request("127.0.0.1", "127.0.0.1", {}, true))).toBe("127.0.0.1");
    expect(clientAddress(request("10.0.0.7", "10.0.0.1", { "x-real-ip": "10.0.0.9" }, true))).toBe("10.0.0.7");
    // a header that is not an address names nobody, and is not local either
    expect(clientAddress(request("127.0.0.1", "127.0.0.1", { "x-real-ip": "evil host" }, true))).toBeUndefined();
    expect(isLocalRequest(request("127.0.0.1", "127.0.0.1", { "x-real-ip": "evil host" }, true))).toBe(false);
  });
});

describe("presentedToken", () => {
  it("takes the bearer header, else the cookie", () => {
    expect(presentedToken(request("x", "y", { authorization: `Bearer ${TOKEN}` }))).toBe(TOKEN);
    expect(presentedToken(request("x", "y", { cookie: `a=b; recon_admin=${TOKEN}` }))).toBe(TOKEN);
    expect(presentedToken(request("x", "y", {}))).toBeUndefined();
  });
});

describe("admin token file", () => {
  it("is created once with mode 600 and then read back", async () => {
    const dir = await mkdtemp(join(tmpdir(), "recon-admin-token-"));
    try {
      const first = await loadOrCreateAdminToken(dir);
      expect(first.created).toBe(true);
      expect(first.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect((await stat(first.path)).mode & 0o777).toBe(0o600);
      expect((await readFile(first.path, "utf8")).trim()).toBe(first.token);
      const second = await loadOrCreateAdminToken(dir);
      expect(second).toEqual({ ...first, created: false });
      expect(adminTokenFingerprint(first.token)).not.toContain(first.token.slice(0, 8));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
