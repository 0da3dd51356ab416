/**
 * The review's HTTP side for real (issue #6): createApp with the review mounted, over a store in
 * a temp dir holding the sample fleet's inventory.json files plus a real captured raw upload
 * (test/fixtures/inventory) sent through the upload API, on 127.0.0.1. Network clients are
 * simulated the way recon's nginx presents them (loopback + X-Real-IP, app.locals.behindNginx).
 */
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueToken } from "../../src/model/peer-token.js";
import type { LinkBudget } from "../../src/review/link-budget.js";
import { HOSTILE_TEXT, sampleEvents, sampleFleet } from "../../src/review/sample-fleet.js";
import { readFixtureFiles } from "../fixtures/inventory/fixtures.js";
import { rawRequest } from "../helpers/http-request.js";
import { startReviewMaster, type ReviewMaster } from "../helpers/review-master.js";
import { writeReviewStore } from "../helpers/review-store.js";
import { packFiles } from "../helpers/tarballs.js";

const REAL_MAC = "52:54:00:5e:00:01";
const NETWORK = { "x-real-ip": "10.9.9.9" };

let work: string;
let master: ReviewMaster;
let url: string;
let adminToken: string;
let secret: Buffer;
const nodes = sampleFleet();

const get = (path: string, headers: Record<string, string> = {}) => rawRequest(url, { path, headers });
const bearer = () => ({ authorization: `Bearer ${adminToken}` });

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-ui-api-"));
  const dataDir = join(work, "data");
  await writeReviewStore(dataDir, nodes, sampleEvents(nodes));
  // The link budget's inputs as main.ts would hand them over: the served ISO (sparse, the diet
  // image's 327,000,000 bytes) and the boot interface, whose sysfs speed file says 10 Gbit/s.
  await mkdir(join(work, "isos"));
  await writeFile(join(work, "isos", "debian-12.iso"), "");
  await truncate(join(work, "isos", "debian-12.iso"), 327_000_000);
  await mkdir(join(work, "sys/class/net/eno1"), { recursive: true });
  await writeFile(join(work, "sys/class/net/eno1/speed"), "10000\n");
  const linkBudget = { image: { label: "debian-12", isoPath: join(work, "isos", "debian-12.iso") }, bootInterface: "eno1", sysRoot: work };
  // As behind recon's nginx: X-Real-IP names the client (absent = the master's own console).
  master = await startReviewMaster({ dataDir, work, behindNginx: true, rescanDelaysMs: [50, 300], linkBudget });
  ({ url, secret } = master);
  adminToken = (await readFile(join(dataDir, "admin-token"), "utf8")).trim();
});

afterAll(async () => {
  await master?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("access", () => {
  it("serves the UI shell to anyone, with a CSP that forbids inline script", async () => {
    const res = await get("/", NETWORK);
    expect(res.status).toBe(200);
    expect(res.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(res.body.toString()).toContain('<script type="module" src="/ui/app.js">');
    expect((await get("/ui/app.js")).headers["content-type"]).toMatch(/javascript/);
  });

  it("reads without a token from the master itself, needs the admin token from the network", async () => {
    expect((await get("/api/v1/fleet")).status).toBe(200);
    const refused = await get("/api/v1/fleet", NETWORK);
    expect(refused.status).toBe(401);
    expect(refused.json().code).toBe("UNAUTHORIZED");
    expect((await get("/api/v1/fleet", { ...NETWORK, authorization: "Bearer wrong-token-1234567" })).status).toBe(401);
    expect((await get("/api/v1/fleet", { ...NETWORK, ...bearer() })).status).toBe(200);
    for (const path of ["/api/v1/classes", "/export/csv", "/api/v1/events", `/api/v1/nodes/${nodes[0]!.mac.replace(/:/g, "-")}/inventory`]) {
      expect((await get(path, NETWORK)).status, path).toBe(401);
    }
  });

  it("turns a valid token into an HttpOnly SameSite cookie (for EventSource and downloads)", async () => {
    expect((await rawRequest(url, { method: "POST", path: "/api/v1/session", headers: NETWORK })).status).toBe(401);
    const res = await rawRequest(url, { method: "POST", path: "/api/v1/session", headers: { ...NETWORK, ...bearer() } });
    expect(res.status).toBe(204);
    const cookie = String(res.headers["set-cookie"]);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const pair = cookie.split(";")[0]!;
    expect((await get("/api/v1/fleet", { ...NETWORK, cookie: pair })).status).toBe(200);
    const access = (await get("/api/v1/access", { ...NETWORK, cookie: pair })).json();
    expect(access).toEqual({ local: false, token: true });
    expect((await get("/api/v1/access", NETWORK)).json()).toEqual({ local: false, token: false });
    expect((await get("/api/v1/access")).json()).toEqual({ local: true, token: false });
  });
});

describe("read API", () => {
  it("lists every node with state, hardware, class and findings; gzip when asked", async () => {
    const res = await get("/api/v1/fleet", { "accept-encoding": "gzip" });
    expect(res.headers["content-encoding"]).toBe("gzip");
    const fleetView = JSON.parse(gunzipSync(res.body).toString()) as {
      rows: Array<Record<string, unknown>>;
      summary: { total: number; outliers: number; critical: number };
      classes: unknown[];
    };
    expect(fleetView.rows).toHaveLength(nodes.length);
    expect(fleetView.summary.total).toBe(nodes.length);
    // The missing DIMM and the old BIOS are outliers; the failed disk is a critical health finding.
    expect(fleetView.summary.outliers).toBe(2);
    expect(fleetView.summary.critical).toBe(1);
    const missingDimm = fleetView.rows.find((row) => row.mac === "52:54:00:01:00:02")!;
    expect(missingDimm).toMatchObject({ phase: "uploaded", outlier: "warning", vendor: "Lenovo" });
    expect((missingDimm.reasons as Array<{ kind: string }>)[0]!.kind).toBe("missing-dimm");
    expect(fleetView.classes.length).toBeGreaterThanOrEqual(3);
  });

  it("estimates the link budget: nodes × the served ISO ÷ the boot interface's speed, per transport, peer sharing labelled as an estimate beside what was measured (#14 item 4)", async () => {
    expect((await get("/api/v1/fleet/link-budget", NETWORK)).status).toBe(401);
    const res = await get("/api/v1/fleet/link-budget");
    expect(res.status).toBe(200);
    const budget = res.json() as unknown as LinkBudget;
    const known = (JSON.parse((await get("/api/v1/fleet")).body.toString()) as { rows: unknown[] }).rows.length;
    expect(budget.nodes).toEqual({ count: known, source: "nodes known" });
    expect(budget.image).toEqual({ label: "debian-12", isoBytes: 327_000_000, source: "iso" });
    expect(budget.link).toEqual({ interface: "eno1", mbit: 10_000, source: "sysfs", note: "eno1 reports 10000 Mbit/s" });
    // 327 MB a node at 1250 MB/s; nbd moves 0.24 of it.
    expect(budget.transports.map((t) => [t.transport, t.bytesPerNode, t.seconds])).toEqual([
      ["http", 327_000_000, Math.round(((known * 327e6) / 1.25e9) * 10) / 10],
      ["nbd", 78_480_000, Math.round(((known * 78.48e6) / 1.25e9) * 10) / 10],
    ]);
    // This review is given no site config (test/helpers/review-master.ts): whether peer assist is on is
    // not known to it (null); no node booted by torrent.
    expect(budget.peerSharing).toMatchObject({
      enabled: null,
      speedup: Math.round((known / Math.log2(known)) * 100) / 100,
      measured: { torrentNodes: 0, arrivedNodes: 0, fromMasterBytes: 0, fromPeersBytes: 0 },
    });
    expect(budget.peerSharing.note).toBe("estimate: peers sharing the image (peer assist, BitTorrent), ideally N / log2 N faster");
  });

  it("gives a node's detail with messages, and 404 for an unknown one", async () => {
    const detail = (await get("/api/v1/nodes/52-54-00-01-00-04/inventory")).json() as unknown as {
      reasons: Array<{ kind: string; message: string }>;
      row: { health: string | null; findings_critical: number };
      inventory: { system_vendor: { serial_number: string }; findings: Array<{ category: string; severity: string; message: string }> };
      class: { id: string; findings: { critical: string[] } };
    };
    // A failed disk is a health finding (the inventory's findings), not an outlier reason.
    expect(detail.reasons).toEqual([]);
    expect(detail.inventory.findings).toEqual([
      expect.objectContaining({ category: "disk", severity: "critical", message: expect.stringMatching(/SMART .*FAILED/) }),
    ]);
    expect(detail.row).toMatchObject({ health: "critical", findings_critical: 1 });
    expect(detail.class.findings.critical).toEqual(["52:54:00:01:00:04"]);
    expect(detail.inventory.system_vendor.serial_number).toBe("SN010004");
    expect(detail.class.id).toMatch(/^c-/);
    expect((await get("/api/v1/nodes/52-54-00-77-77-77/inventory")).status).toBe(404);
    expect((await get("/api/v1/nodes/not-a-mac/inventory")).status).toBe(400);
  });

  it("normalizes a real raw upload that has no inventory.json yet, and streams the node's progress live", async () => {
    const events = await openEventStream();
    try {
      const token = issueToken(secret, REAL_MAC, "uiapinonce");
      const hello = await rawRequest(url, {
        method: "POST",
        path: `/api/v1/nodes/${REAL_MAC.replace(/:/g, "-")}/hello`,
        headers: { authorization: `Bearer ${token}` },
      });
      expect(hello.status).toBe(204);
      const helloEvent = await events.next("node");
      expect(helloEvent).toMatchObject({ type: "node", event: "agent-hello", row: { mac: REAL_MAC, phase: "agent", has_inventory: false } });

      const files = Object.fromEntries([...readFixtureFiles("vm-bios-dell")].map(([path, bytes]) => [path, bytes]));
      const body = await packFiles(join(work, "agent"), files);
      const upload = await rawRequest(url, {
        method: "POST",
        path: `/api/v1/nodes/${REAL_MAC.replace(/:/g, "-")}/inventory`,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/gzip" },
        body,
      });
      expect(upload.status).toBe(201);
      expect(await events.next("node")).toMatchObject({ event: "upload-stored", row: { phase: "uploaded" } });
      const inventoryEvent = (await events.next("inventory")) as { rows: Array<{ mac: string; has_inventory: boolean; vendor: string | null }> };
      const row = inventoryEvent.rows.find((r) => r.mac === REAL_MAC)!;
      expect(row.has_inventory).toBe(true);
      const detail = (await get(`/api/v1/nodes/${REAL_MAC.replace(/:/g, "-")}/inventory`)).json() as unknown as {
        inventory: { system_vendor: { manufacturer: string | null }; disks: unknown[] };
        uploads: Array<{ id: string; files: Array<{ path: string }> }>;
      };
      expect(detail.inventory.system_vendor.manufacturer).toMatch(/Dell/);
      expect(detail.inventory.disks.length).toBeGreaterThan(0);
      expect(detail.uploads).toHaveLength(1);
      expect(detail.uploads[0]!.files.map((f) => f.path)).toContain("raw/lshw.json");
      // The UI's raw download link works, and needs the token from the network.
      const link = `/nodes/${REAL_MAC.replace(/:/g, "-")}/${detail.uploads[0]!.id}/files/raw/dmidecode.txt`;
      expect((await get(link)).body.toString()).toContain("Dell");
      expect((await get(link, NETWORK)).status).toBe(401);
      expect((await get(link, { ...NETWORK, ...bearer() })).status).toBe(200);
    } finally {
      events.close();
    }
  });
});

describe("exports", () => {
  it("downloads JSON, CSV and Ansible as attachments and lists the NetBox files", async () => {
    const json = await get("/export/json");
    expect(json.headers["content-disposition"]).toMatch(/attachment; filename="recon-fleet-\d{8}T\d{6}Z\.json"/);
    expect((JSON.parse(json.body.toString()) as { nodes: unknown[] }).nodes.length).toBeGreaterThanOrEqual(nodes.length);
    const csv = await get("/export/csv");
    expect(csv.headers["content-type"]).toMatch(/text\/csv/);
    expect(csv.body.toString()).toContain(`'=HYPERLINK(`);
    expect((await get("/export/ansible")).body.toString()).toContain("recon_outliers:");
    const index = (await get("/export/netbox?site=DC%201")).json() as unknown as { files: Array<{ name: string; url: string }> };
    expect(index.files.map((f) => f.name)).toContain("05-devices.csv");
    const devices = await get(index.files.find((f) => f.name === "05-devices.csv")!.url);
    expect(devices.body.toString()).toMatch(/^name,role,manufacturer,device_type,status,site,serial/);
    expect(devices.body.toString()).toContain(",DC 1,");
    expect((await get("/export/xml")).status).toBe(404);
    expect((await get("/export/netbox?status=bogus")).status).toBe(400);
  });

  it("never returns the admin token", async () => {
    for (const path of ["/api/v1/fleet", "/api/v1/classes", "/export/json", "/export/csv", "/export/ansible", "/api/v1/access", "/", "/ui/app.js"]) {
      expect((await get(path)).body.toString(), path).not.toContain(adminToken);
    }
    expect((await get("/api/v1/fleet")).body.toString()).toContain(HOSTILE_TEXT);
  });
});

/** A live /api/v1/events reader: next(type) resolves with the next event of that type (bounded wait). */
async function openEventStream() {
  const queue: Array<{ event: string; data: unknown }> = [];
  const waiters: Array<() => void> = [];
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest(`${url}/api/v1/events`, { headers: { accept: "text/event-stream" } }, resolve);
    req.on("error", reject);
    req.end();
  });
  expect(response.statusCode).toBe(200);
  expect(response.headers["content-type"]).toMatch(/text\/event-stream/);
  let buffer = "";
  response.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.+)$/m.exec(block)?.[1];
      const data = /^data: (.+)$/m.exec(block)?.[1];
      if (event && data) queue.push({ event, data: JSON.parse(data) });
      waiters.splice(0).forEach((wake) => wake());
    }
  });
  return {
    async next(type: string, timeoutMs = 10_000): Promise<unknown> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const at = queue.findIndex((item) => item.event === type);
        if (at >= 0) return queue.splice(at, 1)[0]!.data;
        if (Date.now() > deadline) throw new Error(`no '${type}' event within ${timeoutMs} ms; got ${queue.map((q) => q.event).join(", ")}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
    },
    close: () => response.destroy(),
  };
}
