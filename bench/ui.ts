/**
 * The review with 5,000 synthetic, schema-valid nodes (src/inventory/synthetic.ts): API list
 * latency and UI first paint in Debian's chromium (playwright-core), each against a baseline
 * measured in the same run on the same host:
 *   - API: GET /api/v1/fleet from the master's review vs a plain node:http server that reads
 *     the same JSON bytes from a file per request (what serving a precomputed file costs).
 *   - UI: first contentful paint and "table ready" of the review at / vs a static HTML page of
 *     the same rows (a plain <table> of 5,000 rows) from that plain server: FCP and load end.
 *   node --import tsx bench/ui.ts [--nodes 5000] [--runs 5]
 * Everything listens on 127.0.0.1 only. Prints one JSON object.
 */
import { mkdtemp, rm, writeFile, readFile } from "node:fs/promises";
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { syntheticInventory } from "../src/inventory/synthetic.js";
import type { NodeEvent } from "../src/model/node-state.js";
import { startReviewMaster } from "../test/helpers/review-master.js";
import { writeReviewStore } from "../test/helpers/review-store.js";

function flag(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && process.argv[index + 1] !== undefined ? process.argv[index + 1]! : fallback;
}
const NODES = Number(flag("nodes", "5000"));
const RUNS = Number(flag("runs", "5"));
const API_REQUESTS = 30;

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]! * 10) / 10;
};
const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;

/** One GET, body read to the end; resolves with milliseconds and bytes. */
function timedGet(url: string, headers: Record<string, string> = {}): Promise<{ ms: number; bytes: number; status: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers, agent: false }, (res) => {
      let bytes = 0;
      res.on("data", (chunk: Buffer) => (bytes += chunk.length));
      res.on("end", () => resolve({ ms: performance.now() - started, bytes, status: res.statusCode ?? 0 }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

const escapeHtml = (text: string) => text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

const work = await mkdtemp(join(tmpdir(), "recon-bench-ui-"));
const closers: Array<() => Promise<void> | void> = [];
try {
  // ---- the store: 5,000 nodes, each with an inventory and a boot history --------------------
  const nodes = Array.from({ length: NODES }, (_, i) => {
    const inventory = syntheticInventory(i);
    return { mac: inventory.boot_mac!, inventory };
  });
  const events: NodeEvent[] = nodes.flatMap((node, i) => {
    const at = new Date(Date.UTC(2026, 10, 21, 12, 0, 0, i)).toISOString();
    return [
      { type: "dhcp-ack", at, mac: node.mac, ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` },
      { type: "agent-hello", at, mac: node.mac },
      { type: "upload-stored", at, mac: node.mac, uploadId: "20261121T120000.000Z-00000000" },
    ] satisfies NodeEvent[];
  });
  const dataDir = join(work, "data");
  await writeReviewStore(dataDir, nodes, events);

  // ---- the master's HTTP service with the review ---------------------------------------------
  const master = await startReviewMaster({ dataDir, work });
  closers.push(() => master.close());
  const reconUrl = master.url;

  // ---- the baseline server: a precomputed file read and sent per request -------------------
  // The first list after start waits for the store scan (every inventory.json parsed and
  // validated), the class analysis and the serialization.
  const startedCold = performance.now();
  const fleetBody = (await timedGetBody(`${reconUrl}/api/v1/fleet`)).toString();
  const coldMs = performance.now() - startedCold;
  const fleetJson = JSON.parse(fleetBody) as { rows: Array<Record<string, unknown>> };
  await writeFile(join(work, "fleet.json"), fleetBody);
  const columns = ["mac", "name", "vendor", "model", "serial", "cpu", "memory", "disks", "nics", "bmc_address", "phase", "outlier"];
  const staticPage = [
    "<!doctype html><html><head><meta charset=utf-8><title>static</title></head><body><h1>fleet</h1><table>",
    `<tr>${columns.map((c) => `<th>${c}</th>`).join("")}</tr>`,
    ...fleetJson.rows.map((row) => `<tr>${columns.map((c) => `<td>${escapeHtml(String(row[c] ?? "—"))}</td>`).join("")}</tr>`),
    "</table></body></html>",
  ].join("\n");
  await writeFile(join(work, "static.html"), staticPage);
  const plain = createServer((req, res) => {
    const file = req.url === "/static.html" ? "static.html" : "fleet.json";
    readFile(join(work, file)).then(
      (body) => res.writeHead(200, { "content-type": file.endsWith(".html") ? "text/html" : "application/json", "content-length": body.length }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
  closers.push(() => new Promise<void>((resolve) => plain.close(() => resolve())));
  const plainUrl = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;

  // ---- API list latency ------------------------------------------------------------------------
  const series = async (url: string, headers: Record<string, string> = {}, before?: (i: number) => Promise<void>) => {
    await timedGet(url, headers); // warm
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < API_REQUESTS; i++) {
      await before?.(i);
      const result = await timedGet(url, headers);
      if (result.status !== 200) throw new Error(`${url} answered ${result.status}`);
      times.push(result.ms);
      bytes = result.bytes;
    }
    return { p50: percentile(times, 50), p95: percentile(times, 95), bytes };
  };
  const reconApi = await series(`${reconUrl}/api/v1/fleet`);
  const reconGzip = await series(`${reconUrl}/api/v1/fleet`, { "accept-encoding": "gzip" });
  const plainApi = await series(`${plainUrl}/fleet.json`);
  // Worst case: a boot event before every request, so the list is rebuilt and serialized each time.
  const reconRebuilt = await series(`${reconUrl}/api/v1/fleet`, { "accept-encoding": "gzip" }, (i) =>
    master.emit({ type: "agent-hello", at: new Date(Date.UTC(2026, 10, 21, 13, 0, i)).toISOString(), mac: nodes[i]!.mac }),
  );

  // ---- UI first paint ------------------------------------------------------------------------
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
  closers.unshift(() => browser.close());
  const paint = async (url: string, readySelector: string) => {
    const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    try {
      await page.goto(url, { waitUntil: "load" });
      await page.waitForSelector(readySelector, { timeout: 60_000 });
      return await page.evaluate(() => {
        const fcp = performance.getEntriesByType("paint").find((entry) => entry.name === "first-contentful-paint")?.startTime ?? NaN;
        const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
        return { fcp, load: nav.loadEventEnd, ready: performance.now() };
      });
    } finally {
      await page.close();
    }
  };
  const reconUi: Array<{ fcp: number; load: number; ready: number }> = [];
  const staticUi: Array<{ fcp: number; load: number; ready: number }> = [];
  for (let run = 0; run < RUNS; run++) {
    reconUi.push(await paint(`${reconUrl}/`, "body[data-ready=yes]"));
    staticUi.push(await paint(`${plainUrl}/static.html`, "table tr:last-child"));
  }
  // Search: one keystroke's filter + render over every node, measured inside the page.
  const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
  await page.goto(`${reconUrl}/`);
  await page.waitForSelector("body[data-ready=yes]");
  const searchMs: number[] = [];
  for (const term of ["dell", "r640", "xeon gold", "52:54:00:00:1", "node-0000", "lenovo", "", "hpe"]) {
    searchMs.push(
      await page.evaluate(async (value) => {
        const input = document.getElementById("search") as HTMLInputElement;
        const started = performance.now();
        input.value = value;
        input.dispatchEvent(new Event("input"));
        await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
        return performance.now() - started;
      }, term),
    );
  }
  const domRows = await page.locator(".rows .row").count();
  await page.close();

  const median = (values: number[]) => percentile(values, 50);
  const result = {
    bench: "ui",
    nodes: NODES,
    runs: RUNS,
    cold_first_list_ms: Math.round(coldMs),
    classes: (fleetJson as unknown as { classes: unknown[] }).classes.length,
    api_list: {
      recon_p50_ms: reconApi.p50,
      recon_p95_ms: reconApi.p95,
      recon_body_bytes: reconApi.bytes,
      recon_gzip_p50_ms: reconGzip.p50,
      recon_gzip_body_bytes: reconGzip.bytes,
      recon_rebuilt_after_event_gzip_p50_ms: reconRebuilt.p50,
      recon_rebuilt_after_event_gzip_p95_ms: reconRebuilt.p95,
      baseline_plain_file_p50_ms: plainApi.p50,
      baseline_plain_file_p95_ms: plainApi.p95,
      ratio_p50: ratio(reconApi.p50, plainApi.p50),
      ratio_rebuilt_p50: ratio(reconRebuilt.p50, plainApi.p50),
    },
    ui_first_paint: {
      recon_fcp_ms: median(reconUi.map((r) => r.fcp)),
      recon_table_ready_ms: median(reconUi.map((r) => r.ready)),
      baseline_static_fcp_ms: median(staticUi.map((r) => r.fcp)),
      baseline_static_load_ms: median(staticUi.map((r) => r.load)),
      ratio_fcp: ratio(median(reconUi.map((r) => r.fcp)), median(staticUi.map((r) => r.fcp))),
      ratio_ready_vs_static_load: ratio(median(reconUi.map((r) => r.ready)), median(staticUi.map((r) => r.load))),
      rows_in_dom: domRows,
      static_page_bytes: Buffer.byteLength(staticPage),
    },
    search_keystroke_ms: { p50: median(searchMs), max: Math.round(Math.max(...searchMs) * 10) / 10 },
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  for (const close of closers) await Promise.resolve(close()).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
}

async function timedGetBody(url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    httpRequest(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve(Buffer.concat(chunks)));
      res.on("error", reject);
    })
      .on("error", reject)
      .end();
  });
}
