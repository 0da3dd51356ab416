/**
 * The I/O edge of normalization: a raw upload on disk (the stored raw.tar.gz, or a directory
 * holding manifest.json and raw/) → the file map normalizeRaw takes.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { isReconError, ReconError } from "../lib/errors.js";
import { readUploadFiles } from "../lib/archive/tar-gz.js";

const BAD_INPUT_HINT = "give a directory holding manifest.json and raw/, or a raw upload .tar.gz as the agent sends it";

async function readDirectory(root: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > 8) return;
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path, depth + 1);
      else if (entry.isFile()) files.set(relative(root, path).split(sep).join("/"), await readFile(path));
    }
  };
  await walk(root, 0);
  return files;
}

/** Reads a raw upload from a directory or a .tar.gz; bad input is a ReconError with exit status 2. */
export async function readRawUpload(path: string): Promise<Map<string, Buffer>> {
  const info = await stat(path).catch((error: unknown) => {
    throw new ReconError("NOT_FOUND", `no raw upload at ${path}: ${(error as Error).message}`, { hint: BAD_INPUT_HINT, exitCode: 2, cause: error });
  });
  const files = info.isDirectory()
    ? await readDirectory(path)
    : await readUploadFiles(path).catch((error: unknown) => {
        const message = isReconError(error) || error instanceof Error ? error.message : String(error);
        throw new ReconError("BAD_REQUEST", `${path} is not a readable raw upload: ${message}`, { hint: BAD_INPUT_HINT, exitCode: 2, cause: error });
      });
  if (!files.has("manifest.json") && ![...files.keys()].some((key) => key.startsWith("raw/"))) {
    throw new ReconError("BAD_REQUEST", `${path} holds no manifest.json and no raw/ files`, { hint: BAD_INPUT_HINT, exitCode: 2 });
  }
  return files;
}
