/**
 * Serving the ISO to many peers at once: recon's HTTP front as the master runs it (its own
 * nginx for the static trees, express behind it; src/master/http/front.ts) against a plain
 * nginx (Debian's nginx-light, sendfile on) on the same file, measured in the same run with 32
 * parallel curl clients on loopback. Also measured: express alone (http.server: node, the
 * fallback when nginx is missing). Prints one JSON object with the ratio recon/nginx.
 * Target in the master issue: >= 0.95. Loopback only; every nginx is ended by PID.
 *   node --import tsx bench/iso-serving.ts [file] [clients]
 */
import { chmod, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { createLogger } from "../src/lib/log.js";
import { parseSiteConfig } from "../src/model/site-config.js";
import { createApp } from "../src/master/http/app.js";
import { startHttpFront } from "../src/master/http/front.js";
import { execaRunner } from "../src/lib/run.js";
import { startHttpServer } from "../src/master/http/server.js";
import { EMPTY_FLEET } from "../src/model/node-state.js";
import { createStore } from "../src/master/store/store.js";

const clients = Number(process.argv[3] ?? 32);
const work = await mkdtemp(join("/var/tmp", "recon-bench-iso-"));
await chmod(work, 0o755);
const http = join(work, "http");
await execa("mkdir", ["-p", join(http, "isos"), join(http, "install", "bench")]);
const iso = join(http, "isos", "bench.iso");
if (process.argv[2]) await execa("cp", [process.argv[2], iso]);
else await execa("dd", ["if=/dev/urandom", `of=${iso}`, "bs=1M", "count=256", "status=none"]);
await chmod(iso, 0o644);
const bytes = (await stat(iso)).size;

async function load(url: string): Promise<{ seconds: number; gbps: number }> {
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: clients }, () => execa("curl", ["--silent", "--fail", "--max-time", "300", "--output", "/dev/null", url])));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { seconds: Math.round(seconds * 100) / 100, gbps: Math.round(((bytes * clients) / seconds / 1e9) * 100) / 100 };
}

const log = createLogger({}, { write: () => {} });
const store = await createStore(join(work, "store"), { log });
const secret = await store.secret();
// Two apps: one bound directly (express alone), one behind the front's nginx.
const makeApp = () =>
  createApp({
    config: parseSiteConfig(""),
    store,
    httpRoot: http,
    server: { address: "127.0.0.1", httpPort: 0, imageLabel: "bench", imageArch: "x86_64", imageKernelArgs: [], arm64Firmware: false },
    fleet: () => EMPTY_FLEET,
    onEvent: () => undefined,
    secret,
    log,
  });
const nodeOnly = await startHttpServer(makeApp(), { host: "127.0.0.1", port: 0 });
const stopFront = new AbortController();
const front = await startHttpFront(makeApp(), {
  wanted: "nginx",
  port: 19000 + (process.pid % 1000),
  httpRoot: http,
  runDir: join(work, "front"),
  maxBodyBytes: 1 << 20,
  runner: execaRunner,
  log,
  signal: stopFront.signal,
});

const nginxPort = 18000 + (process.pid % 1000);
await writeFile(
  join(work, "nginx.conf"),
  `daemon off;\nworker_processes auto;\npid ${work}/nginx.pid;\nerror_log ${work}/nginx.error.log;\nevents { worker_connections 1024; }\n` +
    `http { access_log off; sendfile on; tcp_nopush on; keepalive_timeout 65;\n` +
    `  client_body_temp_path ${work}/ncb; proxy_temp_path ${work}/np; fastcgi_temp_path ${work}/nf; uwsgi_temp_path ${work}/nu; scgi_temp_path ${work}/ns;\n` +
    `  server { listen 127.0.0.1:${nginxPort}; root ${http}; } }\n`,
);
const nginx = execa("nginx", ["-c", join(work, "nginx.conf"), "-p", work], { reject: false });
try {
  for (let i = 0; i < 50; i++) {
    const probe = await execa("curl", ["--silent", "--head", "--max-time", "1", `http://127.0.0.1:${nginxPort}/isos/bench.iso`], { reject: false });
    if (probe.exitCode === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // Warm the page cache once so both read from memory.
  await execa("cat", [iso], { stdout: "ignore" });
  // Interleaved rounds, median of each: the machine is shared, so load drifts during a run.
  const rounds = Number(process.env.ROUNDS ?? 3);
  const runs = {
    nginx: [] as Awaited<ReturnType<typeof load>>[],
    recon: [] as Awaited<ReturnType<typeof load>>[],
    node: [] as Awaited<ReturnType<typeof load>>[],
  };
  for (let round = 0; round < rounds; round++) {
    runs.nginx.push(await load(`http://127.0.0.1:${nginxPort}/isos/bench.iso`));
    runs.recon.push(await load(`http://127.0.0.1:${front.port}/isos/bench.iso`));
    runs.node.push(await load(`http://127.0.0.1:${nodeOnly.port}/isos/bench.iso`));
  }
  const median = (list: Awaited<ReturnType<typeof load>>[]) => [...list].sort((a, b) => a.gbps - b.gbps)[Math.floor(list.length / 2)]!;
  const nginxRun = median(runs.nginx);
  const reconRun = median(runs.recon);
  const nodeRun = median(runs.node);
  console.log(
    JSON.stringify({
      bench: "iso-serving",
      baseline: "nginx 1.22 (sendfile on), same file, same run",
      fileBytes: bytes,
      clients,
      rounds,
      nginx: nginxRun,
      recon: { front: front.server, ...reconRun },
      reconNodeOnly: nodeRun,
      ratioReconToNginx: Math.round((reconRun.gbps / nginxRun.gbps) * 1000) / 1000,
      ratioNodeOnlyToNginx: Math.round((nodeRun.gbps / nginxRun.gbps) * 1000) / 1000,
      target: 0.95,
      at: new Date().toISOString(),
    }),
  );
} finally {
  if (nginx.pid) process.kill(nginx.pid, "SIGTERM");
  await nginx;
  await front.close();
  await nodeOnly.close();
  await store.close();
  await rm(work, { recursive: true, force: true });
}
