/**
 * Peer assist on the node (issue #14 item 5, docs/peer-assist.md): a peer whose initrd fetched the
 * image by BitTorrent (95recon-torrent, into PEER_TORRENT_DIR in RAM) seeds that copy to the peers
 * still booting while it collects, and its post-action waits until seeding is over: at most the
 * master's `recon.seed=` time, or once it sent ratio × the image, whichever comes first, with a hard
 * bound of that time plus a minute. The copy stays (the live image was loop-mounted from it; its
 * squashfs is copied into /run, rd.live.ram=1): RAM the node gives back when it powers off.
 *
 * The initrd's aria2c checked every piece against the torrent's SHA-1, so the seeder does not hash
 * the 240 MB again (`--bt-seed-unverified`). Seeding never fails the agent: a seeder that cannot
 * start or ends early is a status line, the upload and the post-action go on.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
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
  /** "over": aria2c said seeding is over; "ended": it exited otherwise (code); "bound": killed at the hard bound; "stopped": the agent was stopped. */
  how: "over" | "ended" | "bound" | "stopped";
  exitCode: number;
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
): Promise<SeedOutcome> {
  const started = Date.now();
  const boundMs = (settings.timeS + 60) * 1000;
  let over = false;
  status(`seeding the image to the other peers from RAM: at most ${settings.timeS} s or ${settings.ratio} × its size sent (recon.seed)`);
  return runner
    .run("aria2c", seederArgs(copy, settings), {
      timeoutMs: boundMs,
      buffer: false,
      ...(signal === undefined ? {} : { signal }),
      onLine: (line) => {
        const event = parseAria2cLine(line);
        if (event?.kind === "seeding-over") over = true;
        if (event?.kind === "error") status(`seeding: aria2c: ${event.message.slice(0, 200)}`);
      },
    })
    .then(
      (result) => {
        const ms = Date.now() - started;
        const how: SeedOutcome["how"] = signal?.aborted ? "stopped" : result.exitCode === 124 ? "bound" : over || result.exitCode === 0 ? "over" : "ended";
        status(
          how === "over"
            ? `seeding over after ${Math.round(ms / 1000)} s`
            : `seeding ended after ${Math.round(ms / 1000)} s (${how}, aria2c exit ${result.exitCode}); going on`,
        );
        return { ms, how, exitCode: result.exitCode };
      },
      (error: unknown) => {
        status(`seeding did not run: ${error instanceof Error ? error.message : String(error)}; going on`);
        return { ms: Date.now() - started, how: "ended" as const, exitCode: -1 };
      },
    );
}
