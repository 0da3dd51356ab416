/**
 * Peer assist on the node (issue #14 item 5, docs/peer-assist.md): a peer whose initrd fetched the
 * image by BitTorrent (95recon-torrent, into PEER_TORRENT_DIR in RAM) seeds that copy to the peers
 * still booting while it collects, and its post-action waits until seeding is over: at most the
 * master's `recon.seed=` time, or once it sent ratio × the image, whichever comes first, with a hard
 * bound of that time plus a minute; and it ends sooner once the master says the swarm is done (no
 * node it saw lately is still on its way to its image, none left to wake: GET /api/v1/swarm/<label>,
 * asked every 5 s, two answers in a row). The copy stays (the live image was loop-mounted from it; its
 * squashfs is copied into /run, rd.live.ram=1): RAM the node gives back when it powers off.
 *
 * The initrd's aria2c checked every piece against the torrent's SHA-1, so the seeder does not hash
 * the 240 MB again (`--bt-seed-unverified`). Seeding never fails the agent: a seeder that cannot
 * start or ends early is a status line, the upload and the post-action go on.
 */
import { readdir } from "node:fs/promises";
import { get } from "node:http";
import { basename, join } from "node:path";
import { aria2cArgs, parseAria2cLine } from "../lib/aria2c.js";
import type { CommandRunner } from "../lib/run.js";
import { PEER_TORRENT_DIR, type SeedSettings } from "../model/peer-contract.js";

export interface TorrentCopy {
  dir: string;
  torrentPath: string;
  isoPath: string;
}

/** The torrent and the ISO the initrd left in `dir`, or undefined when the image came another way. */
export async function findTorrentCopy(dir = PEER_TORRENT_DIR): Promise<TorrentCopy | undefined> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const iso = names.find((name) => name.endsWith(".iso"));
  if (!names.includes("image.torrent") || iso === undefined) return undefined;
  return { dir, torrentPath: join(dir, "image.torrent"), isoPath: join(dir, iso) };
}

/** The seeder's argv (pure): the RAM copy as it is, seeding bounded, the node's usual BitTorrent port. */
export function seederArgs(copy: TorrentCopy, settings: SeedSettings): string[] {
  return aria2cArgs({ torrentPath: copy.torrentPath, dir: copy.dir, seedTimeS: settings.timeS, seedRatio: settings.ratio, seedUnchecked: true });
}

export interface SeedOutcome {
  ms: number;
  /**
   * "over": aria2c said seeding is over; "swarm-done": the master said no node still needs the image;
   * "ended": it exited otherwise (code); "bound": killed at the hard bound; "stopped": the agent was stopped.
   */
  how: "over" | "swarm-done" | "ended" | "bound" | "stopped";
  exitCode: number;
}

/**
 * Asking whether the swarm is done ("seeds until the swarm is done or a bound passes"): `isDone`
 * every `everyMs`; two answers "done" in a row, after at least `minMs` of seeding, end it. An
 * unanswered question counts as "not done" (the bounds still hold).
 */
export interface SwarmWatch {
  isDone: () => Promise<boolean>;
  everyMs: number;
  minMs: number;
}

/** How often a seeding node asks the master whether the swarm is done, and how long it seeds at least. */
export const SWARM_ASK_EVERY_MS = 5000;
export const SWARM_MIN_SEED_MS = 10_000;

/** The image label of a torrent copy (`<label>.iso`). */
export function copyLabel(copy: TorrentCopy): string {
  return basename(copy.isoPath, ".iso");
}

/** The master's answer to GET /api/v1/swarm/<label> (src/master/http/node-routes.ts): done or not; false on any failure. */
export function askSwarmDone(masterUrl: string, label: string, timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get(`${masterUrl}/api/v1/swarm/${encodeURIComponent(label)}`, { timeout: timeoutMs }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        if (body.length < 4096) body += chunk;
      });
      response.on("end", () => {
        try {
          resolve(response.statusCode === 200 && (JSON.parse(body) as { done?: unknown }).done === true);
        } catch {
          resolve(false);
        }
      });
      response.on("error", () => resolve(false));
    });
    request.on("timeout", () => request.destroy());
    request.on("error", () => resolve(false));
  });
}

/**
 * Starts seeding; the promise it returns settles when seeding is over (never rejects). `status` gets
 * one line at the start and one at the end.
 */
export function startSeeding(
  runner: CommandRunner,
  copy: TorrentCopy,
  settings: SeedSettings,
  status: (line: string) => void,
  signal?: AbortSignal,
  swarm?: SwarmWatch,
): Promise<SeedOutcome> {
  const started = Date.now();
  const boundMs = (settings.timeS + 60) * 1000;
  let over = false;
  let swarmDone = false;
  // One signal for the agent's stop and the swarm being done (AbortSignal.any is not in the image's Node 18).
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  if (signal?.aborted) stop.abort();
  let watching: ReturnType<typeof setTimeout> | undefined;
  if (swarm !== undefined) {
    let doneInRow = 0;
    const ask = async () => {
      watching = undefined;
      if (stop.signal.aborted) return;
      doneInRow = (await swarm.isDone().catch(() => false)) ? doneInRow + 1 : 0;
      if (doneInRow >= 2 && Date.now() - started >= swarm.minMs && !stop.signal.aborted) {
        swarmDone = true;
        stop.abort();
        return;
      }
      if (!stop.signal.aborted) watching = setTimeout(() => void ask(), swarm.everyMs);
    };
    watching = setTimeout(() => void ask(), swarm.everyMs);
  }
  status(
    `seeding the image to the other peers from RAM: at most ${settings.timeS} s or ${settings.ratio} × its size sent (recon.seed)` +
      (swarm === undefined ? "" : ", or once the master says no node still needs it"),
  );
  const done = () => {
    if (watching !== undefined) clearTimeout(watching);
    signal?.removeEventListener("abort", onAbort);
  };
  return runner
    .run("aria2c", seederArgs(copy, settings), {
      timeoutMs: boundMs,
      buffer: false,
      signal: stop.signal,
      onLine: (line) => {
        const event = parseAria2cLine(line);
        if (event?.kind === "seeding-over") over = true;
        if (event?.kind === "error") status(`seeding: aria2c: ${event.message.slice(0, 200)}`);
      },
    })
    .then(
      (result) => {
        done();
        const ms = Date.now() - started;
        const how: SeedOutcome["how"] = signal?.aborted
          ? "stopped"
          : swarmDone
            ? "swarm-done"
            : result.exitCode === 124
              ? "bound"
              : over || result.exitCode === 0
                ? "over"
                : "ended";
        status(
          how === "over"
            ? `seeding over after ${Math.round(ms / 1000)} s`
            : how === "swarm-done"
              ? `seeding over after ${Math.round(ms / 1000)} s: the master says no node still needs the image (the swarm is done)`
              : `seeding ended after ${Math.round(ms / 1000)} s (${how}, aria2c exit ${result.exitCode}); going on`,
        );
        return { ms, how, exitCode: result.exitCode };
      },
      (error: unknown) => {
        done();
        status(`seeding did not run: ${error instanceof Error ? error.message : String(error)}; going on`);
        return { ms: Date.now() - started, how: "ended" as const, exitCode: -1 };
      },
    );
}
