/**
 * aria2c, the peers' BitTorrent client (Debian's aria2), one module per tool: the pure argument
 * builder a node's agent (its seeder, src/agent/seed.ts), the bench and the tests run, and a pure
 * parser of its log lines. The initrd's URL handler (overlay/…/95recon-torrent/recon-torrent-lib.sh)
 * is shell and runs the same options for a download-only fetch (src/agent/seed.test.ts compares them).
 *
 * The pitfalls it designs out (issue #14 item 5): announce latency on small swarms (a peer
 * re-announces every `announceEveryS`, so one that started before the others learns of them in
 * seconds, not at the tracker's 30-minute interval); a tracker that dies (the connected peers go
 * on trading, the next announce finds the restarted one); seeding that delays power-off forever
 * (seeding ends after `seedTimeS` or at `seedRatio`, whichever comes first). Piece hashes are
 * checked by aria2 itself: a piece whose SHA-1 does not match is thrown away and fetched again.
 */

export interface Aria2cSpec {
  torrentPath: string;
  /** Where the image is written (the node's RAM). */
  dir: string;
  seedTimeS: number;
  seedRatio: number;
  /** Seconds between announces. */
  announceEveryS?: number;
  listenPort?: number;
  /** An existing full copy: check it and seed it (the master-side or a test's seeder). */
  seedExisting?: boolean;
  /** An existing copy seeded as it is, unchecked (only a test's misbehaving seeder does this). */
  seedUnchecked?: boolean;
  /** aria2's info-level log (each piece whose hash failed is there: "we got wrong piece"). */
  logFile?: string;
  /** Stop when no byte arrived for this long (0 = never). */
  stallTimeoutS?: number;
  /**
   * Run when the whole image is there and verified, before seeding (aria2 calls it with the
   * download's GID, its file count and the file's path). Default /bin/echo: the line on stdout
   * says the image is complete (parseAria2cLine) while aria2c goes on seeding, so a node can go on
   * booting from its copy meanwhile.
   */
  onCompleteHook?: string;
  /** Seconds before a web seed that answered 503 (the master's web-seed limit) is asked again; aria2's default 0 never asks again. */
  retryWaitS?: number;
}

/** Default seconds between a peer's announces: small swarms find each other within this. */
export const ANNOUNCE_EVERY_S = 5;

/** aria2c argv (pure). Notice-level log lines on stdout, no progress summary. */
export function aria2cArgs(spec: Aria2cSpec): string[] {
  const args = [
    `--dir=${spec.dir}`,
    // aria2 takes fractional minutes; 0 would mean "no seeding" only with a ratio of 0.
    `--seed-time=${(spec.seedTimeS / 60).toFixed(3)}`,
    `--seed-ratio=${spec.seedRatio}`,
    `--bt-tracker-interval=${spec.announceEveryS ?? ANNOUNCE_EVERY_S}`,
    `--listen-port=${spec.listenPort ?? 6881}`,
    // Private torrents disable these anyway; said here so a public one never leaves the boot network.
    "--enable-dht=false",
    "--enable-dht6=false",
    "--bt-enable-lpd=false",
    "--enable-peer-exchange=false",
    "--file-allocation=none",
    "--summary-interval=0",
    "--enable-color=false",
    `--on-bt-download-complete=${spec.onCompleteHook ?? "/bin/echo"}`,
    "--console-log-level=notice",
    "--download-result=hide",
    "--bt-stop-timeout=" + String(spec.stallTimeoutS ?? 0),
  ];
  if (spec.retryWaitS !== undefined) args.push(`--retry-wait=${spec.retryWaitS}`, "--max-tries=0");
  if (spec.seedExisting) args.push("--check-integrity=true", "--bt-seed-unverified=false");
  if (spec.seedUnchecked) args.push("--bt-seed-unverified=true");
  if (spec.logFile !== undefined) args.push(`--log=${spec.logFile}`, "--log-level=info");
  args.push(spec.torrentPath);
  return args;
}

export type Aria2cEvent =
  { kind: "verified"; path: string } | { kind: "complete"; path: string } | { kind: "seeding-over" } | { kind: "error"; message: string };

/**
 * One of aria2c's lines as an event (pure); undefined for any other line. `verified`: the
 * /bin/echo hook's `<gid> <files> <path>` (every piece in, hashes checked, seeding starts);
 * `complete`: aria2c's own "Download complete", which it prints only when it exits (after seeding).
 */
export function parseAria2cLine(line: string): Aria2cEvent | undefined {
  const hook = /^[0-9a-f]{16} \d+ (\/.+)$/.exec(line);
  if (hook) return { kind: "verified", path: hook[1]!.trim() };
  const complete = /\[NOTICE\] Download complete: (.+)$/.exec(line);
  if (complete) return { kind: "complete", path: complete[1]!.trim() };
  if (/\[NOTICE\] Seeding is over\./.test(line)) return { kind: "seeding-over" };
  const error = /\[ERROR\] (.+)$/.exec(line);
  if (error) return { kind: "error", message: error[1]!.trim() };
  return undefined;
}
