/**
 * The pieces bench/peer-assist.ts and test/integration/peer-assist.test.ts share: a shaped link
 * (tc tbf, pure argv), a plain nginx as the master's HTTP (web seed and master-only baseline, an
 * access log of bytes sent per client), aria2c peers in their namespaces (src/master/torrent/
 * aria2c.ts argv; each peer's completion time taken from its own "Download complete" line), a
 * link's byte counters (ip -s -j link, pure parser). Every child is ended by its own PID through
 * execa's cancel signal; nothing is a shell string.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { netnsExecArgv, runInNetns } from "../src/lab/netns.js";
import { execaRunner } from "../src/lib/run.js";
import { aria2cArgs, parseAria2cLine, type Aria2cSpec } from "../src/master/torrent/aria2c.js";

/**
 * tc argv shaping `dev`'s egress to `rateMbit` (pure). tbf: burst 10 ms of the rate (at least
 * 32 KiB, above rate/HZ), a 100 ms queue so TCP sees loss rather than an endless buffer.
 */
export function tbfArgs(dev: string, rateMbit: number): string[] {
  const burstBytes = Math.max(32 * 1024, Math.round((rateMbit * 1e6) / 8 / 100));
  return ["qdisc", "replace", "dev", dev, "root", "tbf", "rate", `${rateMbit}mbit`, "burst", String(burstBytes), "latency", "100ms"];
}

/** `ip -s -j link show dev X` → its rx/tx byte counters (pure). */
export function parseLinkBytes(json: string): { rxBytes: number; txBytes: number } {
  const [link] = JSON.parse(json) as Array<{ stats64?: { rx?: { bytes?: number }; tx?: { bytes?: number } } }>;
  const rx = link?.stats64?.rx?.bytes;
  const tx = link?.stats64?.tx?.bytes;
  if (typeof rx !== "number" || typeof tx !== "number") throw new Error("ip -s -j link: no stats64 byte counters");
  return { rxBytes: rx, txBytes: tx };
}

export async function linkBytes(ns: string, dev: string): Promise<{ rxBytes: number; txBytes: number }> {
  const result = await runInNetns(execaRunner, ns, ["ip", "-s", "-j", "link", "show", "dev", dev]);
  if (result.exitCode !== 0) throw new Error(`${ns}: ip -s link ${dev}: ${result.stderr.trim()}`);
  return parseLinkBytes(result.stdout);
}

export async function shape(ns: string, dev: string, rateMbit: number): Promise<void> {
  const result = await runInNetns(execaRunner, ns, ["tc", ...tbfArgs(dev, rateMbit)]);
  if (result.exitCode !== 0) throw new Error(`${ns}: tc on ${dev}: ${result.stderr.trim()}`);
}

/** nginx access log lines `<client> <bytes sent> <status>` → bytes per client (pure). */
export function parseNginxBytes(log: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const line of log.split("\n")) {
    const match = /^(\S+) (\d+) \d+$/.exec(line);
    if (match) sums.set(match[1]!, (sums.get(match[1]!) ?? 0) + Number(match[2]));
  }
  return sums;
}

export interface PlainNginx {
  child: ResultPromise;
  accessLog: string;
}

/** A plain nginx (sendfile) serving `root` on address:port inside `ns`; resolves once a HEAD from `probeNs` gets `probePath`. */
export async function startPlainNginx(options: {
  ns: string;
  dir: string;
  root: string;
  address: string;
  port: number;
  probeNs: string;
  probePath: string;
  signal: AbortSignal;
}): Promise<PlainNginx> {
  const { dir } = options;
  await mkdir(dir, { recursive: true });
  const accessLog = join(dir, "access.log");
  await writeFile(accessLog, "");
  await writeFile(
    join(dir, "nginx.conf"),
    [
      "daemon off;",
      "worker_processes 2;",
      `pid ${dir}/nginx.pid;`,
      "error_log stderr warn;",
      "events { worker_connections 4096; }",
      "http {",
      "  log_format bytes '$remote_addr $bytes_sent $status';",
      `  access_log ${accessLog} bytes; sendfile on; tcp_nopush on; keepalive_timeout 30s;`,
      `  client_body_temp_path ${dir}/b; proxy_temp_path ${dir}/p; fastcgi_temp_path ${dir}/f; uwsgi_temp_path ${dir}/u; scgi_temp_path ${dir}/s;`,
      `  server { listen ${options.address}:${options.port}; root ${options.root}; }`,
      "}",
      "",
    ].join("\n"),
  );
  const [command, ...args] = netnsExecArgv(options.ns, ["nginx", "-c", join(dir, "nginx.conf"), "-p", dir]);
  const child = execa(command!, args, { reject: false, all: true, cancelSignal: options.signal });
  const url = `http://${options.address}:${options.port}${options.probePath}`;
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const probe = await runInNetns(execaRunner, options.probeNs, ["curl", "--silent", "--head", "--fail", "--max-time", "1", url]);
    if (probe.exitCode === 0) return { child, accessLog };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the plain nginx did not answer ${url} within 5 s: ${String((child as unknown as { all?: string }).all ?? "")}`);
}

export async function readNginxBytes(nginx: PlainNginx, fromOffset = 0): Promise<{ perClient: Map<string, number>; offset: number }> {
  const text = await readFile(nginx.accessLog, "utf8");
  return { perClient: parseNginxBytes(text.slice(fromOffset)), offset: text.length };
}

export interface SwarmPeer {
  ns: string;
  /** ms (performance.now) when aria2c's hook said the image is complete and verified; undefined until then. */
  completedAt: number | undefined;
  errors: string[];
  /** The child's lines (the last 200), for a failure report. */
  lines: string[];
  child: ResultPromise;
  stop: AbortController;
}

/** Starts aria2c in `ns` with `spec`; `onComplete` is called once when it says the download is complete. */
export function startAria2cPeer(ns: string, spec: Aria2cSpec, signal: AbortSignal, onComplete?: (peer: SwarmPeer) => void): SwarmPeer {
  const stop = new AbortController();
  signal.addEventListener("abort", () => stop.abort(), { once: true });
  const [command, ...args] = netnsExecArgv(ns, ["aria2c", ...aria2cArgs(spec)]);
  const child = execa(command!, args, { reject: false, cancelSignal: stop.signal, buffer: false, stdin: "ignore", encoding: "utf8" });
  const peer: SwarmPeer = { ns, completedAt: undefined, errors: [], lines: [], child, stop };
  const onLine = (chunk: string) => {
    for (const line of chunk.split("\n")) {
      if (!line.trim()) continue;
      peer.lines.push(line);
      if (peer.lines.length > 200) peer.lines.shift();
      const event = parseAria2cLine(line);
      if (event?.kind === "verified" && peer.completedAt === undefined) {
        peer.completedAt = performance.now();
        onComplete?.(peer);
      } else if (event?.kind === "error") peer.errors.push(event.message);
    }
  };
  child.stdout?.setEncoding("utf8");
  child.stderr?.setEncoding("utf8");
  child.stdout?.on("data", onLine);
  child.stderr?.on("data", onLine);
  return peer;
}

/** Resolves when every peer completed, or after `timeoutMs` / an abort (then some completedAt stay undefined). */
export async function waitForSwarm(peers: readonly SwarmPeer[], timeoutMs: number, signal: AbortSignal): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!signal.aborted && performance.now() < deadline && peers.some((peer) => peer.completedAt === undefined)) {
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Ends every peer (SIGTERM by PID, through execa) and waits for them. */
export async function stopPeers(peers: readonly SwarmPeer[]): Promise<void> {
  for (const peer of peers) peer.stop.abort();
  await Promise.all(peers.map((peer) => peer.child));
}

/** sha256 of a file via openssl (uses the CPU's SHA extensions), in the bench's host namespace. */
export async function sha256File(path: string): Promise<string> {
  const result = await execa("openssl", ["dgst", "-sha256", "-r", path], { reject: false, encoding: "utf8" });
  return /^([0-9a-f]{64}) /.exec(String(result.stdout))?.[1] ?? `openssl failed: ${String(result.stderr)}`;
}
