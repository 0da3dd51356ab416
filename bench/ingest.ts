/**
 * Inventory ingest throughput and latency, with fsync, over loopback:
 *   node --import tsx bench/ingest.ts [--n 1000] [--c 16] [--dir /var/tmp] [--threadpool 16]
 * The master runs in its own process (so the client's CPU is not counted against it) on a fresh
 * store under --dir. Baseline, same run, same bytes, same N and concurrency: open + write +
 * fsync + close of one file per upload, i.e. the least a durable ingest could cost.
 * Prints one JSON object. Targets: ≥200 uploads/s, p99 < 100 ms.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, open, rm } from "node:fs/promises";
import { Agent, request } from "node:http";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { readFile } from "node:fs/promises";
import { issueToken } from "../src/model/peer-token.js";
import { macDirName } from "../src/model/store-layout.js";
import { spawnMaster } from "../test/helpers/spawn-master.js";
import { packFiles } from "../test/helpers/tarballs.js";

function flag(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && process.argv[index + 1] !== undefined ? process.argv[index + 1]! : fallback;
}
const N = Number(flag("n", "1000"));
const C = Number(flag("c", "16"));
const BASE = flag("dir", tmpdir());
// libuv's pool (default 4) runs every fs call and fsync; the master's unit may raise it.
const THREADPOOL = flag("threadpool", "");

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Runs `task(i)` for i < n with at most c at once; returns per-task ms and the wall time. */
async function runPool(n: number, c: number, task: (index: number) => Promise<void>) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(c, n) }, async () => {
      while (next < n) {
        const index = next++;
        const t0 = performance.now();
        await task(index);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const wallMs = performance.now() - started;
  latencies.sort((a, b) => a - b);
  const round = (value: number) => Math.round(value * 100) / 100;
  return {
    perSec: round((n / wallMs) * 1000),
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
    maxMs: round(latencies.at(-1)!),
    wallMs: round(wallMs),
  };
}

/** Text like an agent's raw outputs: ~20 files, ~60 KB, compressing about as well as real ones. */
function inventoryFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  const words = ["vendor", "product", "serial", "size", "speed", "Mbps", "GiB", "capabilities", "driver", "firmware"];
  for (let file = 0; file < 20; file += 1) {
    const lines: string[] = [];
    for (let line = 0; line < 100; line += 1) {
      lines.push(`${words[(file + line) % words.length]}: ${randomBytes(6).toString("hex")} ${line * 37 + file}`);
    }
    files[`raw/tool-${file}.txt`] = `${lines.join("\n")}\n`;
  }
  return files;
}

const work = await mkdtemp(join(BASE, "recon-bench-ingest-"));
const master = await spawnMaster(join(work, "store"), join(work, "http"), {
  maxConcurrentUploads: C,
  ...(THREADPOOL !== "" && { env: { UV_THREADPOOL_SIZE: THREADPOOL } }),
});
try {
  const body = await packFiles(join(work, "agent"), inventoryFiles());
  const secret = await readFile(join(work, "store", "secret"));
  const macs = Array.from({ length: 256 }, (_, index) => `52:54:00:be:00:${index.toString(16).padStart(2, "0")}`);
  const headers = macs.map((mac) => ({
    authorization: `Bearer ${issueToken(secret, mac, "bench-nonce-1")}`,
    "content-type": "application/gzip",
    "content-length": String(body.length),
  }));
  const agent = new Agent({ keepAlive: true, maxSockets: C });
  const upload = (index: number) =>
    new Promise<void>((resolve, reject) => {
      const slot = index % macs.length;
      const req = request(
        { host: "127.0.0.1", port: master.port, method: "POST", path: `/api/v1/nodes/${macDirName(macs[slot]!)}/inventory`, headers: headers[slot], agent },
        (res) => {
          res.resume();
          res.on("end", () => (res.statusCode === 201 ? resolve() : reject(new Error(`upload ${index}: HTTP ${res.statusCode}`))));
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error("timeout")));
      req.on("error", reject);
      req.end(body);
    });

  await runPool(Math.min(50, N), C, (index) => upload(N + index)); // warm-up: JIT, sockets, dirs
  const ingest = await runPool(N, C, upload);
  agent.destroy();

  const baselineDir = join(work, "baseline");
  await mkdir(baselineDir);
  const baseline = await runPool(N, C, async (index) => {
    const handle = await open(join(baselineDir, `${index}.tar.gz`), "w");
    try {
      await handle.writeFile(body);
      await handle.sync();
    } finally {
      await handle.close();
    }
  });

  console.log(
    JSON.stringify({
      bench: "ingest",
      n: N,
      concurrency: C,
      uvThreadpoolSize: THREADPOOL === "" ? "default (4)" : Number(THREADPOOL),
      loadAverage1m: loadavg()[0],
      uploadBytes: body.length,
      entries: Object.keys(inventoryFiles()).length,
      storeDir: work,
      ingest,
      baselineWriteFsync: baseline,
      ratio: {
        throughput: Math.round((ingest.perSec / baseline.perSec) * 1000) / 1000,
        p99: Math.round((ingest.p99Ms / baseline.p99Ms) * 100) / 100,
      },
      target: { uploadsPerSec: 200, p99Ms: 100, met: ingest.perSec >= 200 && ingest.p99Ms < 100 },
    }),
  );
} finally {
  await master.kill("SIGKILL");
  await rm(work, { recursive: true, force: true });
}
