/**
 * tar.gz bodies for upload tests, made with the `tar` package the agent uses. `packFiles` builds a
 * normal inventory from real files on disk; `rawTarGz` writes headers by hand so tests can make
 * what a friendly tar tool refuses to (absolute paths, `..`, links, devices, FIFOs).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { gzipSync, createGzip } from "node:zlib";
import { create, Header, type HeaderData } from "tar";

export type FileMap = Record<string, string | Buffer>;

/** Writes `files` below `dir` and packs them as the agent would (`tar -czf - -C dir .`). */
export async function packFiles(dir: string, files: FileMap): Promise<Buffer> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of create({ gzip: true, cwd: dir, portable: true }, Object.keys(files))) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export interface RawEntry extends HeaderData {
  path: string;
  body?: Buffer | undefined;
}

function headerBlock(entry: RawEntry): Buffer {
  const block = Buffer.alloc(512);
  new Header({ mode: 0o644, mtime: new Date(0), size: entry.body?.length ?? 0, type: "File", ...entry }).encode(block, 0);
  return block;
}

/** One uncompressed tar: each header, its body padded to 512, and the two zero end blocks. */
export function rawTar(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    parts.push(headerBlock(entry));
    if (entry.body !== undefined && entry.body.length > 0) {
      parts.push(entry.body, Buffer.alloc((512 - (entry.body.length % 512)) % 512));
    }
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function rawTarGz(entries: RawEntry[]): Buffer {
  return gzipSync(rawTar(entries));
}

/**
 * A small gzip that expands to a tar announcing one file of `bytes` zeros: ~1000:1, so 256 MiB
 * of expansion costs about 256 KiB on the wire.
 */
export async function gzipBomb(bytes: number): Promise<Buffer> {
  const gzip = createGzip({ level: 9 });
  const chunks: Buffer[] = [];
  gzip.on("data", (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise((resolve) => gzip.on("end", resolve));
  gzip.write(headerBlock({ path: "raw/huge.bin", size: bytes }));
  const zeros = Buffer.alloc(1024 * 1024);
  for (let written = 0; written < bytes; written += zeros.length) {
    if (!gzip.write(zeros.subarray(0, Math.min(zeros.length, bytes - written)))) {
      await new Promise((resolve) => gzip.once("drain", resolve));
    }
  }
  gzip.end(Buffer.alloc(1024));
  await done;
  return Buffer.concat(chunks);
}
