/**
 * The master's HTTP service for real: listening on 127.0.0.1, a store in a temp dir, tar.gz
 * uploads made with the `tar` package, requests over node:http so hostile paths reach the
 * server unnormalized. Every hostile request must get a clear 4xx JSON error and leave the
 * temp tree (store and http root) exactly as it was.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { Agent } from "node:http";
import { Readable } from "node:stream";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { list } from "tar";
import { createLogger } from "../../src/lib/log.js";
import { issueToken, verifyToken } from "../../src/model/peer-token.js";
import { gzipBomb, packFiles, rawTar, rawTarGz, type RawEntry } from "../helpers/tarballs.js";
import { rawRequest, type RawResponse } from "../helpers/http-request.js";
import { IMAGE_LABEL, makeHttpTree, startTestMaster, type TestMaster } from "../helpers/master-app.js";

const MAC = "52:54:00:12:34:56";
const MAC_HYP = "52-54-00-12-34-56";
const OTHER_MAC_HYP = "52-54-00-00-00-99";
const LIMITS = {
  maxBodyBytes: 512 * 1024,
  upload: { maxEntries: 20, maxEntryBytes: 256 * 1024, maxTotalBytes: 1024 * 1024, maxPathLength: 255, maxDepth: 8 },
  maxConcurrentUploads: 4,
  drainTimeoutMs: 1000,
};

let work: string;
let storeDir: string;
let master: TestMaster;
let iso: Buffer;
let synced: string[] = [];
const logLines: string[] = [];
let inventory: Buffer;
let stored: { id: string; entries: number; bytes: number };

const tokenFor = (mac: string) => issueToken(master.secret, mac, "integration-nonce");
const uploadHeaders = (token = tokenFor(MAC)): Record<string, string> => ({ authorization: `Bearer ${token}`, "content-type": "application/gzip" });
const get = (path: string, headers: Record<string, string> = {}) => rawRequest(master.url, { path, headers });
const upload = (body: Buffer, headers: Record<string, string> = uploadHeaders(), mac = MAC_HYP) =>
  rawRequest(master.url, { method: "POST", path: `/api/v1/nodes/${mac}/inventory`, headers, body });

async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-master-http-"));
  storeDir = join(work, "store");
  ({ iso } = await makeHttpTree(join(work, "http")));
  master = await startTestMaster({
    storeDir,
    httpRoot: join(work, "http"),
    limits: LIMITS,
    onSync: (path) => synced.push(path),
    log: createLogger({}, { write: (line) => logLines.push(line) }),
  });
  inventory = await packFiles(join(work, "agent"), {
    "raw/lshw.json": JSON.stringify({ id: "node", children: Array.from({ length: 50 }, (_, i) => ({ id: `c${i}` })) }),
    "raw/dmidecode.txt": "System Information\n\tManufacturer: QEMU\n",
    "raw/lsblk.json": '{"blockdevices":[]}\n',
    "inventory.json": '{"schema":1}\n',
  });
});

afterAll(async () => {
  await master?.close();
  await rm(work, { recursive: true, force: true });
});

describe("boot scripts", () => {
  it("serves the chain script", async () => {
    const res = await get("/boot.ipxe");
    expect(res.status).toBe(200);
    expect(res.body.toString()).toContain("chain http://127.0.0.1:8080/boot/${mac:hexhyp}.ipxe");
  });

  it("serves a per-MAC script with a fresh token that verifies for that MAC only", async () => {
    const first = await get(`/boot/${MAC_HYP}.ipxe?platform=efi&buildarch=x86_64`);
    expect(first.status).toBe(200);
    expect(first.headers["cache-control"]).toBe("no-store");
    const script = first.body.toString();
    expect(script).toMatch(/^#!ipxe\n/);
    expect(script).toContain(`kernel --name linux http://127.0.0.1:8080/install/${IMAGE_LABEL}/linux`);
    expect(script).toContain("initrd=initrd");
    const token = /recon\.token=(\S+)/.exec(script)![1]!;
    expect(verifyToken(master.secret, MAC, token)).toBe(true);
    expect(verifyToken(master.secret, "52:54:00:12:34:57", token)).toBe(false);
    const second = await get(`/boot/${MAC.toUpperCase()}.ipxe`);
    expect(/recon\.token=(\S+)/.exec(second.body.toString())![1]).not.toBe(token);
    expect(master.events.some((event) => event.type === "script-served" && event.mac === MAC)).toBe(true);
  });

  it("emits kernel and initrd events for the client that fetched the script", async () => {
    expect((await get(`/install/${IMAGE_LABEL}/linux`)).status).toBe(200);
    expect((await get(`/install/${IMAGE_LABEL}/initrd`)).status).toBe(200);
    const types = master.events.filter((event) => "mac" in event && event.mac === MAC).map((event) => event.type);
    expect(types).toContain("kernel-sent");
    expect(types).toContain("initrd-sent");
  });
});

describe("ISO byte ranges", () => {
  it("answers a range with 206, Content-Range and exactly those bytes", async () => {
    const res = await get(`/isos/${IMAGE_LABEL}.iso`, { range: "bytes=1000-1999" });
    expect(res.status).toBe(206);
    expect(res.headers["content-range"]).toBe(`bytes 1000-1999/${iso.length}`);
    expect(res.headers["accept-ranges"]).toBe("bytes");
    expect(res.body.equals(iso.subarray(1000, 2000))).toBe(true);
  });

  it("answers a suffix range and an open range", async () => {
    const tail = await get(`/isos/${IMAGE_LABEL}.iso`, { range: "bytes=-100" });
    expect(tail.status).toBe(206);
    expect(tail.body.equals(iso.subarray(iso.length - 100))).toBe(true);
    const open = await get(`/isos/${IMAGE_LABEL}.iso`, { range: `bytes=${iso.length - 5}-` });
    expect(open.body.equals(iso.subarray(iso.length - 5))).toBe(true);
  });

  it("answers an unsatisfiable range with 416 and the whole file without a range", async () => {
    const bad = await get(`/isos/${IMAGE_LABEL}.iso`, { range: `bytes=${iso.length + 10}-` });
    expect(bad.status).toBe(416);
    expect(bad.headers["content-range"]).toBe(`bytes */${iso.length}`);
    const whole = await get(`/isos/${IMAGE_LABEL}.iso`);
    expect(whole.status).toBe(200);
    expect(whole.body.equals(iso)).toBe(true);
  });

  it("keeps the connection alive across range requests", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const ports = new Set<number>();
      for (const start of [0, 4096, 8192]) {
        const res = await rawRequest(master.url, { path: `/isos/${IMAGE_LABEL}.iso`, headers: { range: `bytes=${start}-${start + 99}` }, agent });
        expect(res.status).toBe(206);
        expect(res.headers.connection).toBe("keep-alive");
        expect(res.body.equals(iso.subarray(start, start + 100))).toBe(true);
      }
      for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) ports.add(socket.localPort!);
      expect(ports.size).toBe(1);
    } finally {
      agent.destroy();
    }
  });
});

describe("inventory upload", () => {
  it("acknowledges with 201 only once the upload is stored and fsynced", async () => {
    synced = [];
    const res = await upload(inventory);
    expect(res.status).toBe(201);
    stored = res.json() as typeof stored;
    expect(stored).toMatchObject({ entries: 4, bytes: inventory.length });
    const dir = join(storeDir, "nodes", MAC_HYP, "uploads", stored.id);
    expect((await readFile(join(dir, "raw.tar.gz"))).equals(inventory)).toBe(true);
    // Nothing is extracted onto the stick: the raw tar is the only copy of the files.
    expect((await readdir(dir)).sort()).toEqual(["meta.json", "raw.tar.gz"]);
    // Synced before the answer: the raw file, meta.json, the new parent.
    for (const suffix of ["/raw.tar.gz", "/meta.json", `/nodes/${MAC_HYP}/uploads`]) {
      expect(
        synced.some((path) => path.endsWith(suffix)),
        suffix,
      ).toBe(true);
    }
    expect(await readdir(join(storeDir, "tmp"))).toEqual([]);
    const entries: string[] = [];
    await list({ file: join(dir, "raw.tar.gz"), onReadEntry: (entry) => entries.push(entry.path) });
    expect(entries.sort()).toEqual(["inventory.json", "raw/dmidecode.txt", "raw/lsblk.json", "raw/lshw.json"]);
  });

  it("accepts the agent's hello", async () => {
    const res = await rawRequest(master.url, { method: "POST", path: `/api/v1/nodes/${MAC_HYP}/hello`, headers: uploadHeaders() });
    expect(res.status).toBe(204);
  });

  it("serves the raw upload read-only and reports fleet state without secrets", async () => {
    const raw = await get(`/nodes/${MAC_HYP}/${stored.id}/raw.tar.gz`);
    expect(raw.status).toBe(200);
    expect(raw.body.equals(inventory)).toBe(true);
    const file = await get(`/nodes/${MAC}/${stored.id}/files/inventory.json`);
    expect(file.body.toString()).toBe('{"schema":1}\n');
    expect(file.headers["x-content-type-options"]).toBe("nosniff");
    const dmi = await get(`/nodes/${MAC_HYP}/${stored.id}/files/raw/dmidecode.txt`);
    expect(dmi.body.toString()).toContain("QEMU");
    expect((await get(`/nodes/${MAC_HYP}/${stored.id}/files/raw/absent.txt`)).status).toBe(404);
    const put = await rawRequest(master.url, { method: "PUT", path: `/nodes/${MAC_HYP}/${stored.id}/raw.tar.gz`, body: Buffer.from("x") });
    expect(put.status).toBe(404);

    const nodes = await get("/api/v1/nodes");
    const one = await get(`/api/v1/nodes/${MAC_HYP}`);
    expect(nodes.json().nodes).toEqual([expect.objectContaining({ mac: MAC, uploads: 1, phase: "uploaded" })]);
    expect(one.json().uploads).toEqual([expect.objectContaining({ id: stored.id, rawBytes: inventory.length })]);
    for (const res of [nodes, one]) {
      const text = res.body.toString();
      expect(text).not.toContain(master.secret.toString("hex"));
      expect(text).not.toContain(master.secret.toString("base64url"));
      expect(text).not.toMatch(/token/i);
    }
    expect((await get(`/api/v1/nodes/${OTHER_MAC_HYP}`)).json().error).toBe("NOT_FOUND");
  });

  it("counts in /metrics", async () => {
    const text = (await get("/metrics")).body.toString();
    expect(text).toContain('recon_nodes{phase="uploaded"} 1');
    expect(text).toMatch(/^recon_uploads_total 1$/m);
    expect(text).toMatch(/^recon_http_bytes_served_total\{tree="isos"\} [1-9]\d*$/m);
  });

  it("answers 404 JSON for /post.tgz when there is no workload, and for unknown routes", async () => {
    const post = await get("/post.tgz");
    expect(post.status).toBe(404);
    expect(post.json()).toMatchObject({ error: "NOT_FOUND", code: "NOT_FOUND" });
    expect(post.json().message).toContain("no peer workload");
    const unknown = await get("/nope");
    expect(unknown.status).toBe(404);
    expect(unknown.json().error).toBe("NOT_FOUND");
  });
});

describe("hostile requests", () => {
  const pwned = join(tmpdir(), `recon-pwned-${randomBytes(4).toString("hex")}`);
  const file = (path: string, extra: Partial<RawEntry> = {}): RawEntry => ({ path, body: Buffer.from("x"), ...extra });
  const link = (type: "SymbolicLink" | "Link", path: string, linkpath: string): RawEntry => ({ path, type, linkpath, size: 0 });

  interface HostileCase {
    name: string;
    request: () => Promise<RawResponse>;
    status: number;
    code: string;
  }
  const cases: HostileCase[] = [
    { name: "'..' path in the tar", request: async () => upload(rawTarGz([file("raw/ok"), file("../../escape.txt")])), status: 422, code: "UPLOAD_REJECTED" },
    { name: "absolute path in the tar", request: async () => upload(rawTarGz([file(pwned)])), status: 422, code: "UPLOAD_REJECTED" },
    { name: "symlink entry", request: async () => upload(rawTarGz([link("SymbolicLink", "raw/shadow", "/etc/shadow")])), status: 422, code: "UPLOAD_REJECTED" },
    {
      name: "symlink then write through it",
      request: async () => upload(rawTarGz([link("SymbolicLink", "d", "/tmp"), file("d/x")])),
      status: 422,
      code: "UPLOAD_REJECTED",
    },
    { name: "hardlink entry", request: async () => upload(rawTarGz([link("Link", "raw/passwd", "/etc/passwd")])), status: 422, code: "UPLOAD_REJECTED" },
    {
      name: "character device",
      request: async () => upload(rawTarGz([{ path: "raw/mem", type: "CharacterDevice", devmaj: 1, devmin: 1 }])),
      status: 422,
      code: "UPLOAD_REJECTED",
    },
    {
      name: "block device",
      request: async () => upload(rawTarGz([{ path: "raw/sda", type: "BlockDevice", devmaj: 8, devmin: 0 }])),
      status: 422,
      code: "UPLOAD_REJECTED",
    },
    { name: "FIFO", request: async () => upload(rawTarGz([{ path: "raw/pipe", type: "FIFO" }])), status: 422, code: "UPLOAD_REJECTED" },
    { name: "setuid file", request: async () => upload(rawTarGz([file("raw/sh", { mode: 0o4755 })])), status: 422, code: "UPLOAD_REJECTED" },
    { name: "duplicate path", request: async () => upload(rawTarGz([file("raw/a"), file("raw/a")])), status: 422, code: "UPLOAD_REJECTED" },
    {
      name: "too many entries",
      request: async () => upload(rawTarGz(Array.from({ length: 21 }, (_, i) => file(`raw/f${i}`)))),
      status: 422,
      code: "UPLOAD_REJECTED",
    },
    { name: "too deep", request: async () => upload(rawTarGz([file("a/b/c/d/e/f/g/h/i/j")])), status: 422, code: "UPLOAD_REJECTED" },
    { name: "control character in a path", request: async () => upload(rawTarGz([file("raw/a\nb")])), status: 422, code: "UPLOAD_REJECTED" },
    { name: "gzip bomb (256 MiB of zeros)", request: async () => upload(await gzipBomb(256 * 1024 * 1024)), status: 422, code: "UPLOAD_REJECTED" },
    { name: "oversize body (Content-Length)", request: async () => upload(randomBytes(LIMITS.maxBodyBytes + 1)), status: 413, code: "PAYLOAD_TOO_LARGE" },
    {
      name: "oversize body (chunked, no length)",
      request: async () =>
        rawRequest(master.url, {
          method: "POST",
          path: `/api/v1/nodes/${MAC_HYP}/inventory`,
          headers: uploadHeaders(),
          chunked: true,
          // A well-formed upload (the checks that run as it arrives pass) that is simply too big.
          body: rawTarGz([0, 1, 2, 3].map((index) => ({ path: `raw/random-${index}.bin`, body: randomBytes(250_000) }))),
        }),
      status: 413,
      code: "PAYLOAD_TOO_LARGE",
    },
    { name: "garbage body", request: async () => upload(randomBytes(4096)), status: 422, code: "UPLOAD_REJECTED" },
    { name: "plain tar without gzip", request: async () => upload(rawTar([file("raw/a")])), status: 422, code: "UPLOAD_REJECTED" },
    { name: "truncated gzip", request: async () => upload(inventory.subarray(0, Math.floor(inventory.length / 2))), status: 422, code: "UPLOAD_REJECTED" },
    { name: "empty body", request: async () => upload(Buffer.alloc(0)), status: 422, code: "UPLOAD_REJECTED" },
    { name: "bad MAC in the URL", request: async () => upload(inventory, uploadHeaders(), "52-54-00-zz-34-56"), status: 400, code: "BAD_REQUEST" },
    { name: "token of another MAC", request: async () => upload(inventory, uploadHeaders(tokenFor(OTHER_MAC_HYP))), status: 401, code: "UNAUTHORIZED" },
    { name: "right token, other MAC in the URL", request: async () => upload(inventory, uploadHeaders(), OTHER_MAC_HYP), status: 401, code: "UNAUTHORIZED" },
    { name: "missing token", request: async () => upload(inventory, { "content-type": "application/gzip" }), status: 401, code: "UNAUTHORIZED" },
    {
      name: "forged token",
      request: async () => upload(inventory, uploadHeaders("integration-nonce.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")),
      status: 401,
      code: "UNAUTHORIZED",
    },
    {
      name: "token in a Basic header",
      request: async () => upload(inventory, { authorization: `Basic ${tokenFor(MAC)}`, "content-type": "application/gzip" }),
      status: 401,
      code: "UNAUTHORIZED",
    },
    {
      name: "token signed by another secret",
      request: async () => upload(inventory, uploadHeaders(issueToken(Buffer.alloc(32, 9), MAC, "integration-nonce"))),
      status: 401,
      code: "UNAUTHORIZED",
    },
    {
      name: "wrong content type",
      request: async () => upload(inventory, { ...uploadHeaders(), "content-type": "application/json" }),
      status: 415,
      code: "UNSUPPORTED_MEDIA_TYPE",
    },
    {
      name: "no content type",
      request: async () => upload(inventory, { authorization: `Bearer ${tokenFor(MAC)}` }),
      status: 415,
      code: "UNSUPPORTED_MEDIA_TYPE",
    },
    {
      name: "Content-Encoding on top",
      request: async () => upload(inventory, { ...uploadHeaders(), "content-encoding": "gzip" }),
      status: 415,
      code: "UNSUPPORTED_MEDIA_TYPE",
    },
    {
      name: "hello with a bad token",
      request: async () => rawRequest(master.url, { method: "POST", path: `/api/v1/nodes/${MAC_HYP}/hello`, headers: uploadHeaders("x.y") }),
      status: 401,
      code: "UNAUTHORIZED",
    },
    { name: "bad MAC in the script URL", request: async () => get("/boot/not-a-mac.ipxe"), status: 400, code: "BAD_REQUEST" },
    { name: "/isos/../ traversal", request: async () => get("/isos/../../../etc/passwd"), status: 400, code: "BAD_REQUEST" },
    { name: "/isos/ %2e%2e traversal", request: async () => get("/isos/%2e%2e/%2e%2e/store/secret"), status: 400, code: "BAD_REQUEST" },
    { name: "/isos/ %2f-hidden traversal", request: async () => get("/isos/..%2f..%2fstore%2fsecret"), status: 400, code: "BAD_REQUEST" },
    { name: "/install/ backslash traversal", request: async () => get("/install/..%5c..%5cstore%5csecret"), status: 400, code: "BAD_REQUEST" },
    {
      name: "/nodes/ traversal to the secret",
      request: async () => get(`/nodes/${MAC_HYP}/${stored.id}/../../../../secret`),
      status: 400,
      code: "BAD_REQUEST",
    },
    {
      name: "/nodes/ %2e%2e traversal",
      request: async () => get(`/nodes/${MAC_HYP}/${stored.id}/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret`),
      status: 400,
      code: "BAD_REQUEST",
    },
    { name: "/nodes/ with a MAC that is a path", request: async () => get(`/nodes/..%2f..%2f/${stored.id}/raw.tar.gz`), status: 400, code: "BAD_REQUEST" },
    { name: "/nodes/ with an id that is not one", request: async () => get(`/nodes/${MAC_HYP}/tmp/raw.tar.gz`), status: 404, code: "NOT_FOUND" },
    { name: "NUL byte in a URL", request: async () => get(`/isos/${IMAGE_LABEL}.iso%00.txt`), status: 400, code: "BAD_REQUEST" },
    { name: "broken percent-encoding", request: async () => get("/isos/%E0%A4%A"), status: 400, code: "BAD_REQUEST" },
  ];

  it("has at least 20 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  it.each(cases.map((c) => [c.name, c] as const))("%s → clear 4xx, nothing written", async (_name, hostile) => {
    const before = await tree(work);
    const res = await hostile.request();
    expect(res.status).toBe(hostile.status);
    const body = res.json();
    expect(body).toMatchObject({ error: hostile.code, code: hostile.code });
    expect(typeof body.message).toBe("string");
    expect(body.message!.length).toBeGreaterThan(5);
    expect(res.body.toString()).not.toMatch(/at .+\.(ts|js):\d+/); // no stack trace
    expect(await tree(work)).toEqual(before);
    expect(existsSync(pwned)).toBe(false);
  });

  it("still serves good uploads after all that", async () => {
    const res = await upload(inventory);
    expect(res.status).toBe(201);
    const text = (await get("/metrics")).body.toString();
    expect(text).toMatch(/^recon_uploads_total 2$/m);
    expect(text).toMatch(/^recon_uploads_rejected_total\{code="UPLOAD_REJECTED"\} \d+$/m);
  });
});

describe("refused upload bodies", () => {
  it("are read to their end before the 4xx, so the connection stays usable (no Connection: close)", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const refused = await rawRequest(master.url, {
        method: "POST",
        path: `/api/v1/nodes/${MAC_HYP}/inventory`,
        headers: uploadHeaders("x.y"),
        body: randomBytes(LIMITS.maxBodyBytes),
        agent,
      });
      expect(refused.status).toBe(401);
      expect(refused.headers.connection).not.toBe("close");
      const bomb = await rawRequest(master.url, {
        method: "POST",
        path: `/api/v1/nodes/${MAC_HYP}/inventory`,
        headers: uploadHeaders(),
        body: await gzipBomb(64 * 1024 * 1024),
        agent,
      });
      expect(bomb.status).toBe(422);
      expect(bomb.headers.connection).not.toBe("close");
      expect((await rawRequest(master.url, { path: "/boot.ipxe", agent })).status).toBe(200);
    } finally {
      agent.destroy();
    }
  });

  it("that never end are given up after the drain time (drainTimeoutMs), not read forever", async () => {
    let sent = 0;
    // 1 KiB every 50 ms for at most 10 s: a client that keeps sending after its refusal.
    const trickle = new Readable({
      read() {
        if (sent >= 200) return void this.push(null);
        sent += 1;
        setTimeout(() => this.push(Buffer.alloc(1024, 1)), 50);
      },
    });
    const started = Date.now();
    const outcome = await rawRequest(master.url, {
      method: "POST",
      path: `/api/v1/nodes/${MAC_HYP}/inventory`,
      headers: uploadHeaders("x.y"),
      body: trickle,
      chunked: true,
      timeoutMs: 15_000,
    }).then(
      (res) => `HTTP ${res.status}`,
      (error: Error) => error.message,
    );
    const elapsed = Date.now() - started;
    trickle.destroy();
    expect(outcome).toMatch(/^(HTTP 401|.*(ECONNRESET|socket hang up|EPIPE).*)$/);
    expect(elapsed).toBeGreaterThanOrEqual(LIMITS.drainTimeoutMs - 100);
    expect(elapsed).toBeLessThan(LIMITS.drainTimeoutMs + 3000);
    expect(sent).toBeLessThan(200);
    expect(logLines.join("")).toMatch(/msg="refused upload not drained; closing" code=UNAUTHORIZED reason=timeout/);
  });
});
