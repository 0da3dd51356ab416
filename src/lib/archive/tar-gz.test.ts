import { mkdtemp, mkdir, readFile, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { create } from "tar";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ReconError } from "../errors.js";
import { DEFAULT_UPLOAD_LIMITS, type UploadLimits } from "./tar-entry-check.js";
import { createUploadCheck, readUploadEntry, readUploadFile, readUploadFiles } from "./tar-gz.js";

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-upload-tar-"));
  await mkdir(join(work, "src", "raw"), { recursive: true });
  await writeFile(join(work, "src", "raw", "lshw.json"), '{"id":"node"}\n');
  await writeFile(join(work, "src", "meta.json"), "{}\n");
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

async function pack(entries: string[], options: { preservePaths?: boolean } = {}): Promise<Buffer> {
  const file = join(work, "upload.tar.gz");
  await create({ gzip: true, file, cwd: join(work, "src"), preservePaths: options.preservePaths ?? false }, entries);
  return readFile(file);
}

/** Feeds `body` in small chunks, as a socket would. */
function check(body: Buffer, limits: UploadLimits = DEFAULT_UPLOAD_LIMITS) {
  const checker = createUploadCheck(limits);
  for (let offset = 0; offset < body.length && checker.failure === undefined; offset += 777) checker.write(body.subarray(offset, offset + 777));
  return checker.end();
}

async function rejection(promise: Promise<unknown>): Promise<ReconError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ReconError);
    expect((error as ReconError).code).toBe("UPLOAD_REJECTED");
    expect((error as ReconError).httpStatus).toBe(422);
    return error as ReconError;
  }
  throw new Error("expected UPLOAD_REJECTED");
}

describe("createUploadCheck", () => {
  it("accepts a normal upload and lists its files", async () => {
    const listing = await check(await pack(["raw", "meta.json"]));
    expect(listing).toEqual({
      entries: 3,
      totalBytes: 17,
      files: expect.arrayContaining([
        { path: "raw/lshw.json", size: 14 },
        { path: "meta.json", size: 3 },
      ]),
    });
  });

  it("rejects a symlink", async () => {
    await symlink("/etc/shadow", join(work, "src", "raw", "shadow"));
    expect((await rejection(check(await pack(["meta.json", "raw"])))).message).toContain("symbolic link");
  });

  it("rejects a parent-directory escape", async () => {
    await writeFile(join(work, "outside.txt"), "x");
    const body = await pack(["../outside.txt"], { preservePaths: true });
    expect((await rejection(check(body))).message).toContain("'..' in path");
  });

  it("rejects an oversize entry", async () => {
    await writeFile(join(work, "src", "raw", "big.bin"), Buffer.alloc(4096));
    const error = await rejection(check(await pack(["raw"]), { ...DEFAULT_UPLOAD_LIMITS, maxEntryBytes: 1024 }));
    expect(error.message).toContain("entry larger than 1024 bytes");
  });

  it("rejects gzip that is not a tar archive", async () => {
    const body = gzipSync(Buffer.from("this is not a tarball at all, just text that is long enough to look like something".repeat(20)));
    expect((await rejection(check(body))).message).toContain("not a readable tar archive");
  });

  it("rejects a body that is not gzip, and an empty one", async () => {
    expect((await rejection(check(Buffer.from("PK\x03\x04 a zip file")))).message).toContain("not gzip-compressed");
    expect((await rejection(check(Buffer.alloc(0)))).message).toContain("empty");
  });

  it("rejects a truncated upload", async () => {
    const body = await pack(["raw", "meta.json"]);
    expect((await rejection(check(body.subarray(0, body.length - 20)))).message).toMatch(/gzip|tar/);
  });

  it("stops a gzip bomb at the expansion bound", async () => {
    const limits = { ...DEFAULT_UPLOAD_LIMITS, maxTotalBytes: 1024 * 1024, maxEntries: 10 };
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(100 * 1024);
    expect((await rejection(check(bomb, limits))).message).toContain("gzip bomb");
  });
});

describe("reading a stored upload", () => {
  it("returns one file or every file, and undefined for a missing one", async () => {
    const file = join(work, "stored.tar.gz");
    await writeFile(file, await pack(["raw", "meta.json"]));
    expect((await readUploadFile(file, "raw/lshw.json"))?.toString()).toBe('{"id":"node"}\n');
    expect((await readUploadFile(file, "./meta.json"))?.toString()).toBe("{}\n");
    expect(await readUploadFile(file, "raw/absent")).toBeUndefined();
    const all = await readUploadFiles(file);
    expect([...all.keys()].sort()).toEqual(["meta.json", "raw/lshw.json"]);
    expect(all.get("raw/lshw.json")?.toString()).toBe('{"id":"node"}\n');
  });

  it("gives a file's tar mtime (whole seconds, as the packer wrote it)", async () => {
    const file = join(work, "stored.tar.gz");
    await utimes(join(work, "src", "meta.json"), new Date("2026-12-02T12:01:08.700Z"), new Date("2026-12-02T12:01:08.700Z"));
    await writeFile(file, await pack(["raw", "meta.json"]));
    const entry = await readUploadEntry(file, "meta.json");
    expect(entry?.content.toString()).toBe("{}\n");
    expect(entry?.mtime?.toISOString()).toBe("2026-12-02T12:01:08.000Z");
    expect(await readUploadEntry(file, "raw/absent")).toBeUndefined();
  });
});
