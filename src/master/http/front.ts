/**
 * The master's public HTTP port: nginx in front of express (static trees by sendfile, the rest
 * proxied) or express alone. `decideHttpFront` is pure; `startHttpFront` does the I/O.
 */
import { mkdir, stat, writeFile } from "node:fs/promises";
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { dirname, join, resolve } from "node:path";
import { ReconError } from "../../lib/errors.js";
import { programRuns, stopLeftover, stopLeftoverWorkers } from "../../lib/leftover.js";
import type { Logger } from "../../lib/log.js";
import type { CommandRunner } from "../../lib/run.js";
import type { ReconApp } from "./app.js";
import { parseNginxAccessLine, renderNginxConf, superviseNginx } from "./nginx.js";
import { startHttpServer } from "./server.js";

export type FrontChoice = { server: "nginx" } | { server: "node"; reason: string };

export interface FrontFacts {
  wanted: "auto" | "nginx" | "node";
  nginxInstalled: boolean;
  /** nginx's workers (nobody) can reach the http root: every ancestor o+x, the root o+rx. */
  rootReadableByWorkers: boolean;
}

/** auto takes nginx only when it can work; an explicit nginx that cannot work is an error. */
export function decideHttpFront(facts: FrontFacts): FrontChoice {
  if (facts.wanted === "node") return { server: "node", reason: "the site config says http.server: node" };
  const problem = !facts.nginxInstalled
    ? "nginx is not installed"
    : !facts.rootReadableByWorkers
      ? "nginx's workers (user nobody) cannot read the http root"
      : undefined;
  if (problem === undefined) return { server: "nginx" };
  if (facts.wanted === "nginx") {
    throw new ReconError("CONFIG_INVALID", `http.server is nginx but ${problem}`, {
      hint: "install nginx-light and make the http root world-readable, or set http.server: auto",
    });
  }
  return { server: "node", reason: problem };
}

/** Every directory from / to `dir` traversable by others, and `dir` itself readable. */
async function worldReadable(dir: string): Promise<boolean> {
  let current = resolve(dir);
  const leaf = await stat(current).catch(() => undefined);
  if (leaf === undefined || (leaf.mode & 0o005) !== 0o005) return false;
  while (current !== dirname(current)) {
    current = dirname(current);
    const info = await stat(current).catch(() => undefined);
    if (info === undefined || (info.mode & 0o001) === 0) return false;
  }
  return true;
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: "127.0.0.1", port });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.once("connect", () => finish(true));
    socket.once("error", () => finish(false));
    socket.setTimeout(500, () => finish(false));
  });
}

export interface HttpFront {
  server: "nginx" | "node";
  port: number;
  /** Rejects when nginx gives up (the master then stops). */
  done: Promise<void>;
  close(): Promise<void>;
}

export async function startHttpFront(
  app: ReconApp,
  options: {
    wanted: "auto" | "nginx" | "node";
    port: number;
    httpRoot: string;
    runDir: string;
    maxBodyBytes: number;
    /** nginx's worker_connections (src/master/scale.ts); absent = 4096. */
    workerConnections?: number | undefined;
    runner: CommandRunner;
    log: Logger;
    signal: AbortSignal;
  },
): Promise<HttpFront> {
  const { runner, log } = options;
  const nginxInstalled =
    options.wanted !== "node" &&
    (await runner.run("nginx", ["-v"]).then(
      (r) => r.exitCode === 0,
      () => false,
    ));
  const asRoot = process.getuid?.() === 0;
  const choice = decideHttpFront({
    wanted: options.wanted,
    nginxInstalled,
    rootReadableByWorkers: !asRoot || (await worldReadable(options.httpRoot)),
  });
  if (choice.server === "node") {
    const http = await startHttpServer(app, { host: "0.0.0.0", port: options.port });
    log.info("http served by node", { reason: choice.reason, port: http.port });
    return { server: "node", port: http.port, done: new Promise(() => {}), close: () => http.close() };
  }

  app.locals.behindNginx = true;
  const upstream = await startHttpServer(app, { host: "127.0.0.1", port: 0 });
  // nginx's access log, as syslog datagrams on loopback: one per finished static transfer.
  const accessLog = createSocket("udp4");
  accessLog.on("message", (message) => {
    const transfer = parseNginxAccessLine(message.toString("utf8"));
    const match = transfer === undefined ? null : /^\/(isos|install)(\/.*)$/.exec(transfer.uri);
    if (transfer === undefined || match === null) return;
    app.recordTransfer({
      tree: match[1] as "isos" | "install",
      path: match[2]!,
      ip: transfer.remote,
      status: transfer.status,
      method: transfer.method,
      bytes: transfer.bytes,
      complete: transfer.complete,
    });
  });
  await new Promise<void>((done, fail) => {
    accessLog.once("error", fail);
    accessLog.bind(0, "127.0.0.1", () => {
      accessLog.off("error", fail);
      done();
    });
  });
  accessLog.on("error", (error) => log.warn("nginx access log socket", { error: error.message }));
  const confFile = join(options.runDir, "nginx.conf");
  await mkdir(options.runDir, { recursive: true });
  // A master killed with -9 leaves its nginx holding the port: end it (by its pid file).
  await stopLeftover(join(options.runDir, "nginx.pid"), "nginx", log);
  await writeFile(
    confFile,
    renderNginxConf({
      listenPort: options.port,
      upstreamPort: upstream.port,
      httpRoot: resolve(options.httpRoot),
      runDir: resolve(options.runDir),
      workerUser: asRoot ? "nobody nogroup" : undefined,
      maxBodyBytes: options.maxBodyBytes,
      accessLogPort: accessLog.address().port,
      workerConnections: options.workerConnections,
    }),
  );
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal.addEventListener("abort", onAbort, { once: true });
  const run = superviseNginx({
    runner,
    confFile,
    log,
    signal: stop.signal,
    probe: () => portAnswers(options.port),
    beforeRestart: () => stopLeftoverWorkers("nginx", options.runDir, log),
    masterAlive: () => programRuns(join(options.runDir, "nginx.pid"), "nginx"),
  });
  // The master watches `done`; until it does, a failed start must not be an unhandled rejection.
  run.done.catch(() => undefined);
  try {
    await run.ready;
  } catch (error) {
    accessLog.close();
    await upstream.close();
    throw error;
  }
  log.info("http served by nginx", { port: options.port, upstream: `127.0.0.1:${upstream.port}`, conf: confFile });
  return {
    server: "nginx",
    port: options.port,
    done: run.done,
    async close() {
      stop.abort();
      options.signal.removeEventListener("abort", onAbort);
      await run.done.catch(() => undefined);
      accessLog.close();
      await upstream.close();
    },
  };
}
