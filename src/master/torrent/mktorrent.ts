/**
 * mktorrent, one module per tool: the pure argument builder (piece size from the ISO's size, the
 * master's tracker as announce, the master's own HTTP URL of the ISO as web seed — BEP 19 — so a
 * node that finds no peer still boots from the master alone, and the private flag so peers use
 * recon's tracker only: no DHT, no peer exchange), a pure reader of the made torrent's info hash
 * (the tracker's whitelist), and a thin runner through the injected CommandRunner.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { ReconError } from "../../lib/errors.js";
import { runChecked, type CommandRunner } from "../../lib/run.js";

/** 2^15 (32 KiB, two BitTorrent blocks) … 2^24 (16 MiB): mktorrent's -l takes the exponent. */
export const MIN_PIECE_EXPONENT = 15;
export const MAX_PIECE_EXPONENT = 24;
/**
 * At most this many pieces: few enough that the piece list (20 bytes each) stays small in the
 * torrent and in each peer's bitfield, many enough that a swarm of a few hundred peers has
 * different pieces to trade from the first seconds (a 426 MB ISO: 813 pieces of 512 KiB).
 */
export const MAX_PIECES = 1024;

/** The smallest piece exponent whose piece count stays at or below MAX_PIECES (pure). */
export function pieceExponentFor(sizeBytes: number): number {
  for (let exponent = MIN_PIECE_EXPONENT; exponent < MAX_PIECE_EXPONENT; exponent++) {
    if (Math.ceil(sizeBytes / 2 ** exponent) <= MAX_PIECES) return exponent;
  }
  return MAX_PIECE_EXPONENT;
}

export interface TorrentSpec {
  /** The file the torrent describes (the image's ISO). */
  source: string;
  /** Where the .torrent goes. */
  output: string;
  /** The name peers save it under (the ISO's file name). */
  name: string;
  announceUrl: string;
  webSeedUrl: string;
  sizeBytes: number;
}

/** mktorrent argv (pure). No creation date (-d): the same ISO always gives the same torrent. */
export function mktorrentArgs(spec: TorrentSpec): string[] {
  return [
    "--no-date",
    "--private",
    "--piece-length",
    String(pieceExponentFor(spec.sizeBytes)),
    "--announce",
    spec.announceUrl,
    "--web-seed",
    spec.webSeedUrl,
    "--name",
    spec.name,
    "--threads",
    "1",
    "--output",
    spec.output,
    spec.source,
  ];
}

/** The end offset of the bencoded value starting at `at` (pure; throws on malformed input). */
function skipBencode(data: Buffer, at: number): number {
  const c = data[at];
  if (c === 0x69 /* i */) {
    const end = data.indexOf(0x65 /* e */, at);
    if (end < 0) throw new Error("unterminated integer");
    return end + 1;
  }
  if (c === 0x6c /* l */ || c === 0x64 /* d */) {
    let next = at + 1;
    while (data[next] !== 0x65) {
      if (next >= data.length) throw new Error("unterminated list or dictionary");
      next = skipBencode(data, next);
    }
    return next + 1;
  }
  const colon = data.indexOf(0x3a /* : */, at);
  const length = Number(data.subarray(at, colon).toString("latin1"));
  if (colon < 0 || !Number.isInteger(length) || length < 0) throw new Error(`bad string at offset ${at}`);
  return colon + 1 + length;
}

/** The keys and value ranges of the bencoded dictionary starting at `at` (pure; throws on malformed input). */
function dictionaryEntries(data: Buffer, at: number): Array<{ key: string; start: number; end: number }> {
  if (data[at] !== 0x64) throw new Error("not a dictionary");
  const entries: Array<{ key: string; start: number; end: number }> = [];
  let next = at + 1;
  while (next < data.length && data[next] !== 0x65) {
    const keyEnd = skipBencode(data, next);
    const key = data.subarray(data.indexOf(0x3a, next) + 1, keyEnd).toString("latin1");
    const valueEnd = skipBencode(data, keyEnd);
    entries.push({ key, start: keyEnd, end: valueEnd });
    next = valueEnd;
  }
  if (next >= data.length) throw new Error("unterminated dictionary");
  return entries;
}

function infoEntry(torrent: Buffer): { start: number; end: number } {
  const info = dictionaryEntries(torrent, 0).find((entry) => entry.key === "info");
  if (info === undefined) throw new Error("no info dictionary");
  return info;
}

function notATorrent(error: unknown): ReconError {
  return new ReconError("ARTEFACT_MISSING", `not a torrent: ${(error as Error).message}`, { hint: "remake it (mktorrent)" });
}

/** A torrent's info hash (SHA-1 of its bencoded `info` dictionary), as 40 lowercase hex (pure). */
export function torrentInfoHash(torrent: Buffer): string {
  try {
    const info = infoEntry(torrent);
    return createHash("sha1").update(torrent.subarray(info.start, info.end)).digest("hex");
  } catch (error) {
    throw notATorrent(error);
  }
}

/** A single-file torrent's length in bytes (its info dictionary's `length`: the image's size), pure. */
export function torrentLength(torrent: Buffer): number {
  try {
    const info = infoEntry(torrent);
    const length = dictionaryEntries(torrent, info.start).find((entry) => entry.key === "length");
    if (length === undefined) throw new Error("no length: not a single-file torrent");
    const text = torrent.subarray(length.start, length.end).toString("latin1");
    const value = /^i(0|[1-9][0-9]*)e$/.test(text) ? Number(text.slice(1, -1)) : NaN;
    if (!Number.isSafeInteger(value)) throw new Error(`length is not a byte count: ${text.slice(0, 24)}`);
    return value;
  } catch (error) {
    throw notATorrent(error);
  }
}

/** Makes the torrent (an earlier one at `output` is replaced: mktorrent refuses to overwrite) and returns its info hash. */
export async function makeTorrent(runner: CommandRunner, spec: TorrentSpec, binary = "mktorrent"): Promise<string> {
  await mkdir(dirname(spec.output), { recursive: true });
  await rm(spec.output, { force: true });
  await runChecked(runner, binary, mktorrentArgs(spec), {
    timeoutMs: 10 * 60_000,
    hint: `mktorrent hashes ${spec.source} once (SHA-1 per piece); check that it is readable and that ${dirname(spec.output)} has space`,
  });
  return torrentInfoHash(await readFile(spec.output));
}
