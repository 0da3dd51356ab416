/**
 * An uploaded tar.gz, checked as it arrives and read back from the store.
 *
 * The raw upload is the evidence; nothing is extracted onto the data partition. The checks of
 * tar-entry-check.ts run in the same pass that receives the body (gunzip → tar parser, no writes),
 * so accepting an upload costs one decompression and the fsyncs, not an extraction plus an fsync
 * per file. Readers (file downloads, normalization) parse the stored tar again; it is small.
 */
import { createReadStream } from "node:fs";
import { createGunzip, type Gunzip } from "node:zlib";
import { Parser, type ReadEntry } from "tar";
import { ReconError } from "../errors.js";
import { checkUploadEntry, DEFAULT_UPLOAD_LIMITS, EMPTY_TALLY, normalizeEntryPath, type UploadLimits, type UploadTally } from "./tar-entry-check.js";

export interface UploadListing {
  /** Entries accepted (files and directories). */
  entries: number;
  /** Sum of the files' sizes. */
  totalBytes: number;
  /** Regular files: normalized path and size, in archive order. */
  files: { path: string; size: number }[];
}

/**
 * Gzip expansion allowed for an upload: the entries' content limit plus tar's own overhead
 * (a 512-byte header and up to 511 bytes of padding per entry, PAX headers, the end blocks).
 */
export function maxExpandedBytes(limits: UploadLimits): number {
  return limits.maxTotalBytes + limits.maxEntries * 2048 + 64 * 1024;
}

export function uploadRejected(message: string, cause?: unknown): ReconError {
  return new ReconError("UPLOAD_REJECTED", message, {
    hint: "the agent sends one gzip-compressed tar of regular files and directories",
    cause,
  });
}

const FILE_TYPES = new Set(["File", "OldFile", "ContiguousFile"]);

/**
 * gunzip → tar parser, fed chunk by chunk. Every entry goes through checkUploadEntry; the first
 * refusal, a decompression beyond the bound, bad gzip or a bad tar ends it with UPLOAD_REJECTED.
 * `onEntry` sees each accepted file entry (with its content stream) when a reader wants content.
 */
class TarCheck {
  readonly #gunzip: Gunzip;
  readonly #parser: Parser;
  readonly #limits: UploadLimits;
  readonly #done: Promise<UploadListing>;
  #tally: UploadTally = EMPTY_TALLY;
  #files: { path: string; size: number }[] = [];
  #expanded = 0;
  #failure: ReconError | undefined;
  #head = Buffer.alloc(0);

  constructor(limits: UploadLimits, onEntry?: (path: string, entry: ReadEntry) => void) {
    this.#limits = limits;
    const bound = maxExpandedBytes(limits);
    this.#gunzip = createGunzip();
    this.#parser = new Parser({
      strict: true,
      onReadEntry: (entry) => {
        if (this.#failure !== undefined) {
          entry.resume();
          return;
        }
        const verdict = checkUploadEntry({ path: entry.path, type: entry.type, size: entry.size, mode: entry.mode }, this.#tally, this.#limits);
        if (!verdict.accept) {
          this.fail(uploadRejected(`upload refused: ${verdict.reason}`));
          entry.resume();
          return;
        }
        this.#tally = verdict.tally;
        if (FILE_TYPES.has(entry.type)) {
          const path = normalizeEntryPath(entry.path);
          this.#files.push({ path, size: entry.size });
          if (onEntry !== undefined) {
            onEntry(path, entry);
            return;
          }
        }
        entry.resume();
      },
    });
    this.#done = new Promise<UploadListing>((resolve, reject) => {
      this.#parser.on("error", (error: Error) => this.fail(uploadRejected(`the upload is not a readable tar archive: ${error.message}`, error)));
      this.#gunzip.on("error", (error: Error) => this.fail(uploadRejected(`the upload is not valid gzip: ${error.message}`, error)));
      this.#gunzip.on("data", (chunk: Buffer) => {
        this.#expanded += chunk.length;
        if (this.#expanded > bound) {
          this.fail(uploadRejected(`the upload expands to more than ${bound} bytes (gzip bomb?)`));
          return;
        }
        if (this.#failure === undefined) this.#parser.write(chunk);
      });
      this.#gunzip.on("end", () => {
        if (this.#failure === undefined) this.#parser.end();
      });
      this.#parser.on("end", () => {
        if (this.#failure !== undefined) return;
        resolve({ entries: this.#tally.entries, totalBytes: this.#tally.totalBytes, files: this.#files });
      });
      this.fail = (error: ReconError) => {
        if (this.#failure !== undefined) return;
        this.#failure = error;
        this.#gunzip.pause();
        this.#gunzip.removeAllListeners("data");
        // A stopped gunzip still reports later errors; they are about the same bad upload.
        this.#gunzip.on("error", () => {});
        reject(error);
      };
    });
    // Nobody may be awaiting yet (the body is still arriving); the caller awaits end().
    this.#done.catch(() => {});
  }

  /** Replaced in the constructor once `reject` exists. */
  fail: (error: ReconError) => void = () => {};

  write(chunk: Buffer): void {
    if (this.#failure !== undefined) return;
    if (this.#head.length < 2) {
      this.#head = Buffer.concat([this.#head, chunk.subarray(0, 2 - this.#head.length)]);
      if (this.#head.length >= 2 && (this.#head[0] !== 0x1f || this.#head[1] !== 0x8b)) {
        this.fail(uploadRejected("the upload is not gzip-compressed"));
        return;
      }
    }
    this.#gunzip.write(chunk);
  }

  /** No more input; resolves with the listing or rejects with the first problem. */
  end(): Promise<UploadListing> {
    if (this.#failure === undefined) {
      if (this.#head.length === 0) this.fail(uploadRejected("the upload is empty"));
      else this.#gunzip.end();
    }
    return this.#done;
  }

  get failure(): ReconError | undefined {
    return this.#failure;
  }
}

/** A checker to feed an arriving body into; see TarCheck. */
export function createUploadCheck(limits: UploadLimits = DEFAULT_UPLOAD_LIMITS): {
  write(chunk: Buffer): void;
  end(): Promise<UploadListing>;
  readonly failure: ReconError | undefined;
} {
  return new TarCheck(limits);
}

async function readStored(file: string, limits: UploadLimits, onEntry: (path: string, entry: ReadEntry) => void): Promise<UploadListing> {
  const check = new TarCheck(limits, onEntry);
  for await (const chunk of createReadStream(file)) {
    check.write(chunk as Buffer);
    if (check.failure !== undefined) break;
  }
  return check.end();
}

/** Every file of a stored upload, by normalized path (for normalization; uploads are small). */
export async function readUploadFiles(file: string, limits: UploadLimits = DEFAULT_UPLOAD_LIMITS): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  await readStored(file, limits, (path, entry) => {
    const chunks: Buffer[] = [];
    entry.on("data", (chunk: Buffer) => chunks.push(chunk));
    entry.on("end", () => files.set(path, Buffer.concat(chunks)));
  });
  return files;
}

/** One file of a stored upload, or undefined when the upload has no such file. */
export async function readUploadFile(file: string, wanted: string, limits: UploadLimits = DEFAULT_UPLOAD_LIMITS): Promise<Buffer | undefined> {
  return (await readUploadEntry(file, wanted, limits))?.content;
}

/**
 * One file of a stored upload with its tar header's mtime (whole seconds: when the packer wrote
 * the file, on the packer's clock), or undefined when the upload has no such file.
 */
export async function readUploadEntry(
  file: string,
  wanted: string,
  limits: UploadLimits = DEFAULT_UPLOAD_LIMITS,
): Promise<{ content: Buffer; mtime: Date | undefined } | undefined> {
  let found: { content: Buffer; mtime: Date | undefined } | undefined;
  const target = normalizeEntryPath(wanted);
  await readStored(file, limits, (path, entry) => {
    if (path !== target) {
      entry.resume();
      return;
    }
    const chunks: Buffer[] = [];
    const mtime = entry.mtime instanceof Date && Number.isFinite(entry.mtime.getTime()) ? entry.mtime : undefined;
    entry.on("data", (chunk: Buffer) => chunks.push(chunk));
    entry.on("end", () => {
      found = { content: Buffer.concat(chunks), mtime };
    });
  });
  return found;
}
