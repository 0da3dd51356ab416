import { mkdtemp, mkdir, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "tar";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ReconError } from "../../lib/errors.js";
import { extractUpload } from "./extract-upload.js";
import { DEFAULT_UPLOAD_LIMITS } from "./upload-check.js";

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-extract-"));
  await mkdir(join(work, "src", "raw"), { recursive: true });
  await mkdir(join(work, "dest"));
  await writeFile(join(work, "src", "raw", "lshw.json"), '{"id":"node"}\n');
  await writeFile(join(work, "src", "meta.json"), "{}\n");
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

async function pack(entries: string[], options: { preservePaths?: boolean; cwd?: string } = {}): Promise<string> {
  const file = join(work, "upload.tar.gz");
  await create({ gzip: true, file, cwd: options.cwd ?? join(work, "src"), preservePaths: options.preservePaths ?? false }, entries);
  return file;
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

describe("extractUpload", () => {
  it("extracts a normal upload", async () => {
    const result = await extractUpload(await pack(["raw", "meta.json"]), join(work, "dest"));
    expect(result.entries).toBe(3);
    expect(await readFile(join(work, "dest", "raw", "lshw.json"), "utf8")).toBe('{"id":"node"}\n');
  });

  it("rejects a symlink and writes nothing", async () => {
    await symlink("/etc/shadow", join(work, "src", "raw", "shadow"));
    const error = await rejection(extractUpload(await pack(["meta.json", "raw"]), join(work, "dest")));
    expect(error.message).toContain("symbolic link");
    expect(await readdir(join(work, "dest"))).toEqual([]);
  });

  it("rejects a parent-directory escape", async () => {
    await writeFile(join(work, "outside.txt"), "x");
    const file = await pack(["../outside.txt"], { preservePaths: true });
    expect((await rejection(extractUpload(file, join(work, "dest")))).message).toContain("'..' in path");
  });

  it("rejects an oversize entry before extracting", async () => {
    await writeFile(join(work, "src", "raw", "big.bin"), Buffer.alloc(4096));
    const error = await rejection(
      extractUpload(await pack(["raw"]), join(work, "dest"), { ...DEFAULT_UPLOAD_LIMITS, maxEntryBytes: 1024 }),
    );
    expect(error.message).toContain("entry larger than 1024 bytes");
    expect(await readdir(join(work, "dest"))).toEqual([]);
  });

  it("rejects a file that is not a tar archive", async () => {
    const file = join(work, "junk.tar.gz");
    await writeFile(file, "this is not a tarball at all, just text that is long enough to look like something".repeat(20));
    expect((await rejection(extractUpload(file, join(work, "dest")))).message).toContain("not a readable tar archive");
  });
});
