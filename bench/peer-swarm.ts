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
import { aria2cArgs, parseAria2cLine, type Aria2cSpec } from "../src/lib/aria2c.js";

/**
 * tc argv shaping `dev`'s egress to `rateMbit` (pure). tbf: burst 10 ms of the rate (at least
 * 32 KiB, above rate/HZ), a 100 ms queue so TCP sees loss rather than an endless buffer.
 */
export function tbfArgs(dev: string, rateMbit: number): string[] {
  const burstBytes = Math.max(32 * 1024, Math.round((rateMbit * 1e6) / 8 / 100));
  return ["qdisc", "replace", "dev", dev, "root", "tbf", "rate", `${rateMbit}mbit`, "burst", String(burstBytes), "latency", "100ms"];
}

/**
 * tc argvs shaping `dev`'s egress to `rateMbit` with htb, the tracker's answers (TCP source port
 * `trackerPort`) in a class served first (pure). A plain FIFO at the master's link makes the
 * tracker's answers and its SYN-ACKs wait behind every web-seed stream: at 64 peers the
 * announces were aborted and every peer fell back to the web seed (docs/peer-assist.md). This
 * kernel has no fq_codel/sfq/prio (only htb and tbf), so the priority is explicit: the tracker's
 * answers and ARP.
 */
export function trackerFirstArgs(dev: string, rateMbit: number, trackerPort: number): string[][] {
  const rate = `${rateMbit}mbit`;
  return [
    ["qdisc", "replace", "dev", dev, "root", "handle", "1:", "htb", "default", "20"],
    ["class", "replace", "dev", dev, "parent", "1:", "classid", "1:1", "htb", "rate", rate, "ceil", rate],
    [
      "class",
      "replace",
      "dev",
      dev,
      "parent",
      "1:1",
      "classid",
      "1:10",
      "htb",
      "rate",
      `${Math.max(1, Math.round(rateMbit / 10))}mbit`,
      "ceil",
      rate,
      "prio",
      "0",
    ],
    ["class", "replace", "dev", dev, "parent", "1:1", "classid", "1:20", "htb", "rate", rate, "ceil", rate, "prio", "1"],
    [
      "filter",
      "replace",
      "dev",
      dev,
      "parent",
      "1:",
      "protocol",
      "ip",
      "prio",
      "1",
      "u32",
      "match",
      "ip",
      "sport",
      String(trackerPort),
      "0xffff",
      "flowid",
      "1:10",
    ],
    // ARP too: behind a full queue the master's neighbour probes are dropped and a peer it cannot
    // resolve gets nothing at all (seen at 64 peers: CN:1 DL:0 until --bt-stop-timeout).
    ["filter", "replace", "dev", dev, "parent", "1:", "protocol", "arp", "prio", "2", "u32", "match", "u32", "0", "0", "flowid", "1:10"],
  ];
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

/** Shapes `dev` in `ns` with tbf, or (trackerPort given) with htb and the tracker's answers first. */
export async function shape(ns: string, dev: string, rateMbit: number, trackerPort?: number): Promise<void> {
  for (const args of trackerPort === undefined ? [tbfArgs(dev, rateMbit)] : trackerFirstArgs(dev, rateMbit, trackerPort)) {
    const result = await runInNetns(execaRunner, ns, ["tc", ...args]);
    if (result.exitCode !== 0) throw new Error(`${ns}: tc ${args.join(" ")}: ${result.stderr.trim()}`);
  }
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
  /** At most this many web-seed (aria2) connections at once; the next ones get 503 (src/master/http/nginx.ts does the same). */
  webSeedConnections?: number | undefined;
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
      ...(options.webSeedConnections === undefined
        ? []
        : [
            '  map $http_user_agent $web_seed { "~^aria2" "web-seed"; default ""; }',
            "  limit_conn_zone $web_seed zone=webseed:1m;",
            `  limit_conn webseed ${options.webSeedConnections}; limit_conn_status 503;`,
          ]),
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
  /** Set when aria2c ended (its exit code, or the signal that ended it). */
  exited: string | undefined;
}

/** Starts aria2c in `ns` with `spec`; `onComplete` is called once when it says the download is complete. */
export function startAria2cPeer(ns: string, spec: Aria2cSpec, signal: AbortSignal, onComplete?: (peer: SwarmPeer) => void): SwarmPeer {
  const stop = new AbortController();
  signal.addEventListener("abort", () => stop.abort(), { once: true });
  const [command, ...args] = netnsExecArgv(ns, ["aria2c", ...aria2cArgs(spec)]);
  const child = execa(command!, args, { reject: false, cancelSignal: stop.signal, buffer: false, stdin: "ignore", encoding: "utf8" });
  const peer: SwarmPeer = { ns, completedAt: undefined, errors: [], lines: [], child, stop, exited: undefined };
  void child.then((result) => {
    peer.exited = result.signal ?? `exit ${result.exitCode}`;
  });
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

/** Resolves when every peer completed or ended, or after `timeoutMs` / an abort (then some completedAt stay undefined). */
export async function waitForSwarm(peers: readonly SwarmPeer[], timeoutMs: number, signal: AbortSignal): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!signal.aborted && performance.now() < deadline && peers.some((peer) => peer.completedAt === undefined && peer.exited === undefined)) {
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

/**
 * The kernel's IPv4 neighbour table is one table for every network namespace, its limits
 * (gc_thresh1..3, default 128/512/1024 entries) set only in the host's own namespace. A simulated
 * swarm of N peers, each talking to every other, needs about N² entries in it where a real fleet
 * has N per machine: at 64 peers the 1024 ran out when 32 peers had their 32 each, the kernel said
 * "neighbor table overflow" and every other peer's SYNs waited for an ARP entry that was never
 * made (2026-12-07: half the swarm isolated, fed by the web seed alone). So a bench raises the
 * limits for its run (never lowers them) and puts back what it found.
 */
const NEIGH = "/proc/sys/net/ipv4/neigh/default";

/** The gc_thresh values a swarm of `hosts` namespaces needs, every host talking to every other (pure). */
export function neighbourLimitsFor(hosts: number): { gcThresh1: number; gcThresh2: number; gcThresh3: number } {
  const entries = hosts * hosts + 256;
  return { gcThresh1: 128, gcThresh2: entries, gcThresh3: entries * 2 };
}

export interface NeighbourLimits {
  /** What the host had, and what the run uses. */
  before: Record<"gc_thresh1" | "gc_thresh2" | "gc_thresh3", number>;
  during: Record<"gc_thresh1" | "gc_thresh2" | "gc_thresh3", number>;
  /** Puts back `before` (only the values this call raised). */
  restore: () => Promise<void>;
}

export async function raiseNeighbourLimits(hosts: number): Promise<NeighbourLimits> {
  const wanted = neighbourLimitsFor(hosts);
  const names = ["gc_thresh1", "gc_thresh2", "gc_thresh3"] as const;
  const target = { gc_thresh1: wanted.gcThresh1, gc_thresh2: wanted.gcThresh2, gc_thresh3: wanted.gcThresh3 };
  const before = { gc_thresh1: 0, gc_thresh2: 0, gc_thresh3: 0 };
  for (const name of names) before[name] = Number((await readFile(join(NEIGH, name), "utf8")).trim());
  const during = { ...before };
  const raised: Array<(typeof names)[number]> = [];
  // gc_thresh3 first (raising), so 2 never exceeds 3 on the way.
  for (const name of [...names].reverse()) {
    if (target[name] <= before[name]) continue;
    await writeFile(join(NEIGH, name), String(target[name]));
    during[name] = target[name];
    raised.push(name);
  }
  return {
    before,
    during,
    restore: async () => {
      // Lowering: gc_thresh1 and 2 before 3.
      for (const name of names) if (raised.includes(name)) await writeFile(join(NEIGH, name), String(before[name])).catch(() => undefined);
    },
  };
}
