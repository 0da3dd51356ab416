/**
 * nginx in front of recon's HTTP service: the big static files (ISO, kernel, initrd) go out with
 * sendfile(2) from nginx; every other request is proxied, unbuffered, to express on loopback.
 * Node cannot sendfile, and the ISO is most of the bytes a fleet boot moves (bench/iso-serving).
 *
 * One module per tool: the config renderer and the access-log parser are pure; the runner starts
 * nginx in the foreground through the CommandRunner and restarts it with backoff, bounded by a
 * window of restarts (N within M minutes). The access log (one JSON object per static transfer)
 * arrives as syslog over loopback UDP.
 */
import { ReconError } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import { sleep } from "../../lib/abortable-sleep.js";
import type { RestartWindowPolicy } from "../../lib/restart-window.js";
import { superviseRestarts } from "../../lib/supervise.js";
import type { CommandRunner } from "../../lib/run.js";

export interface NginxPlan {
  /** Address and port peers use (the master's public HTTP port). */
  listenPort: number;
  /** express on loopback. */
  upstreamPort: number;
  /** Holds isos/ and install/ (served directly; a missing file falls through to express). */
  httpRoot: string;
  /** nginx's pid file and temp dirs live here. */
  runDir: string;
  /** Worker user when nginx starts as root (it drops privileges like dnsmasq does). */
  workerUser?: string | undefined;
  /** Upload bodies beyond this are refused by express; nginx only must not refuse them first. */
  maxBodyBytes: number;
  /**
   * recon's UDP port on loopback for the access log (nginx's syslog output). A pipe would be
   * simpler but nginx cannot open /dev/stdout when stdout is a socket, as it is under Node.
   */
  accessLogPort: number;
  /** Per worker (src/master/scale.ts: from the expected fleet); absent = 4096. */
  workerConnections?: number | undefined;
}

/**
 * nginx's client_max_body_size for recon's body limit: a little above it, so that express, not
 * nginx, refuses the bodies just over the limit (with its JSON reason); larger ones get nginx's 413.
 */
export function nginxBodyLimit(maxBodyBytes: number): number {
  return maxBodyBytes + 1024 * 1024;
}

/** Quotes a path for nginx.conf; recon's own paths never hold quotes, but refuse if one does. */
function quote(value: string): string {
  if (/["\\\n\r;{}$]/.test(value)) {
    throw new ReconError("CONFIG_INVALID", `path ${JSON.stringify(value)} cannot be written into nginx.conf`, {
      hint: "use a directory path without quotes, backslashes, braces, '$' or ';'",
    });
  }
  return `"${value}"`;
}

/** The complete nginx.conf (pure; full-text snapshot tested). */
export function renderNginxConf(plan: NginxPlan): string {
  const temp = (name: string) => quote(`${plan.runDir}/nginx-${name}`);
  const proxy = [
    `      proxy_pass http://recon;`,
    `      proxy_http_version 1.1;`,
    `      proxy_set_header Connection "";`,
    `      proxy_set_header Host $host;`,
    `      proxy_set_header X-Real-IP $remote_addr;`,
    // Streams both ways: uploads reach express (which fsyncs and acknowledges) as they arrive,
    // and server-sent events reach browsers as they happen.
    `      proxy_request_buffering off;`,
    `      proxy_buffering off;`,
    `      proxy_read_timeout 1h;`,
    `      access_log off;`,
  ];
  const staticTree = (tree: string) => [
    `    location /${tree}/ {`,
    `      access_log syslog:server=127.0.0.1:${plan.accessLogPort},facility=local7,tag=recon,nohostname recon;`,
    `      try_files $uri @recon;`,
    // A file nginx's workers (nobody) may not read is still recon's to send.
    `      error_page 403 = @recon;`,
    `    }`,
  ];
  return [
    `# Written by recon master; regenerated at every start.`,
    `daemon off;`,
    `master_process on;`,
    `worker_processes auto;`,
    `pid ${quote(`${plan.runDir}/nginx.pid`)};`,
    // Marks this nginx's workers as recon's: they outlive a master killed with SIGKILL, and the
    // next start finds them by this working directory (lib/leftover.ts) and ends them.
    `working_directory ${quote(plan.runDir)};`,
    `error_log stderr warn;`,
    ...(plan.workerUser !== undefined ? [`user ${plan.workerUser};`] : []),
    `events { worker_connections ${plan.workerConnections ?? 4096}; }`,
    `http {`,
    `  types { application/octet-stream iso; application/gzip tgz gz; application/json json; text/plain txt; }`,
    `  default_type application/octet-stream;`,
    `  sendfile on;`,
    `  tcp_nopush on;`,
    `  server_tokens off;`,
    // iPXE fetches kernel, initrd, then dracut the ISO: a long keep-alive spares handshakes.
    `  keepalive_timeout 30s;`,
    `  client_max_body_size ${nginxBodyLimit(plan.maxBodyBytes)};`,
    `  client_body_temp_path ${temp("body")};`,
    `  proxy_temp_path ${temp("proxy")};`,
    `  fastcgi_temp_path ${temp("fastcgi")};`,
    `  uwsgi_temp_path ${temp("uwsgi")};`,
    `  scgi_temp_path ${temp("scgi")};`,
    `  log_format recon escape=json '{"remote":"$remote_addr","status":"$status","method":"$request_method","uri":"$uri","bytes":"$body_bytes_sent","complete":"$request_completion"}';`,
    `  access_log off;`,
    `  upstream recon {`,
    `    server 127.0.0.1:${plan.upstreamPort};`,
    `    keepalive 32;`,
    `  }`,
    `  server {`,
    `    listen ${plan.listenPort} reuseport;`,
    `    root ${quote(plan.httpRoot)};`,
    `    disable_symlinks off;`,
    ...staticTree("isos"),
    ...staticTree("install"),
    `    location @recon {`,
    ...proxy,
    `    }`,
    `    location / {`,
    ...proxy,
    `    }`,
    `  }`,
    `}`,
    ``,
  ].join("\n");
}

/** `nginx -c <conf>`: the config says daemon off and logs errors to stderr. */
export function nginxArgs(confFile: string): string[] {
  return ["-c", confFile];
}

export interface StaticTransfer {
  remote: string;
  status: number;
  method: string;
  uri: string;
  bytes: number;
  /** nginx's $request_completion: the whole response was sent. */
  complete: boolean;
}

/**
 * One access-log message (log_format recon, as nginx sends it to syslog: `<190>Nov 22 00:52:06
 * recon: {…}`) → a transfer, or undefined for anything else.
 */
export function parseNginxAccessLine(line: string): StaticTransfer | undefined {
  const start = line.indexOf("{");
  if (start < 0) return undefined;
  const text = line.slice(start).trim();
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const status = Number(raw.status);
  const bytes = Number(raw.bytes);
  if (typeof raw.remote !== "string" || typeof raw.uri !== "string" || typeof raw.method !== "string") return undefined;
  if (!Number.isInteger(status) || !Number.isFinite(bytes)) return undefined;
  return { remote: raw.remote, status, method: raw.method, uri: raw.uri, bytes, complete: raw.complete === "OK" };
}

export interface NginxRun {
  /** Resolves once nginx answers on its port; rejects when it exits first. */
  ready: Promise<void>;
  /** Settles when nginx stopped for good (abort, or too many restarts). */
  done: Promise<void>;
}

/** nginx may be restarted 5 times within 10 minutes; a 6th exit in that window stops the master. */
export const NGINX_RESTARTS: RestartWindowPolicy = { maxRestarts: 5, windowMs: 10 * 60_000 };
/** 0.5 s before the first restart in the window, doubling, at most 10 s. */
const NGINX_BACKOFF = { initialMs: 500, maxMs: 10_000 };

/**
 * Runs nginx in the foreground until `signal` aborts, restarting it with exponential backoff
 * (by the restarts in the window) until more than `restarts.maxRestarts` fall within
 * `restarts.windowMs` (restart-window.ts; older ones are forgotten). stderr lines are logged.
 * Readiness is probed by `probe` (the caller connects to the port), bounded.
 */
export function superviseNginx(options: {
  runner: CommandRunner;
  confFile: string;
  log: Logger;
  signal: AbortSignal;
  probe: () => Promise<boolean>;
  restarts?: RestartWindowPolicy;
  /** The clock for the restart window (ms); tests inject one. */
  now?: () => number;
  binary?: string;
  /** Before each restart: an nginx master that died by SIGKILL leaves workers holding the port. */
  beforeRestart?: () => Promise<unknown>;
  /**
   * Whether nginx's master still runs. Its workers keep our stdout/stderr pipes open, so after a
   * SIGKILL of the master the run does not end until they do: the watch ends them instead.
   */
  masterAlive?: () => Promise<boolean>;
  watchEveryMs?: number;
}): NginxRun {
  const { runner, log, signal } = options;
  const policy = options.restarts ?? NGINX_RESTARTS;
  const now = options.now ?? Date.now;
  let markReady!: () => void;
  let failReady!: (error: unknown) => void;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  ready.catch(() => {});
  let isReady = false;

  const onLine = (line: string) => {
    if (line.trim() !== "") log.warn("nginx", { line: line.slice(0, 500) });
  };

  const runOnce = async () => {
    const child = runner.run(options.binary ?? "nginx", nginxArgs(options.confFile), { signal, onLine, buffer: false });
    // Readiness: bounded polling of the port while the process lives.
    let exited = false;
    const finished = child.then((result) => {
      exited = true;
      return result;
    });
    if (!isReady) {
      for (let attempt = 0; attempt < 100 && !exited && !signal.aborted; attempt += 1) {
        if (await options.probe()) {
          isReady = true;
          markReady();
          log.info("nginx serving static files", { conf: options.confFile });
          break;
        }
        await sleep(50, signal);
      }
    }
    if (options.masterAlive !== undefined && isReady) {
      const masterAlive = options.masterAlive;
      while (!exited && !signal.aborted) {
        const watchStop = new AbortController();
        await Promise.race([finished, sleep(options.watchEveryMs ?? 1000, watchStop.signal)]);
        watchStop.abort();
        if (exited || signal.aborted) break;
        if (!(await masterAlive())) {
          log.error("nginx's master process is gone; its workers still hold the port", { conf: options.confFile });
          await options.beforeRestart?.();
          break;
        }
      }
    }
    return finished;
  };

  const done = superviseRestarts({
    signal,
    policy: { ...NGINX_BACKOFF, ...policy },
    now,
    runOnce: async () => {
      const result = await runOnce();
      if (!signal.aborted && !isReady) {
        const error = new ReconError("NGINX_FAILED", `nginx did not start (exit ${result.exitCode})`, {
          hint: `check ${options.confFile} and the nginx lines above; set http.server: node in the site config to serve without nginx`,
        });
        failReady(error);
        throw error;
      }
      return result;
    },
    onRestart: (result, { inWindow, delayMs }) => {
      log.warn("nginx exited; restarting", { exitCode: result.exitCode, restartsInWindow: inWindow, windowMin: Math.round(policy.windowMs / 60_000), delayMs });
    },
    giveUp: (_result, { inWindow }) =>
      new ReconError("NGINX_FAILED", `nginx exited ${inWindow} times within ${Math.round(policy.windowMs / 60_000)} min; giving up`, {
        hint: "see the nginx lines above; set http.server: node in the site config to serve without nginx",
      }),
    beforeRestart: options.beforeRestart,
  });
  return { ready, done };
}
