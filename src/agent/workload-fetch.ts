/**
 * Fetches the master's workload (`GET /post.tgz`) and unpacks it for the collectors. No workload
 * (404) is normal: the built-in collectors run alone. A workload that cannot be fetched after a
 * few bounded tries, or that is malformed, is reported on the console and the built-in collectors
 * run anyway: the inventory is what the node is for. Unpacking applies the master's own upload
 * checks (regular files and directories below one relative root, size limits) before writing.
 */
import { createWriteStream } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { get } from "node:http";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { extract } from "tar";
import { checkUploadEntry, DEFAULT_UPLOAD_LIMITS, EMPTY_TALLY, type UploadTally } from "../lib/archive/tar-entry-check.js";
import { readUploadFiles } from "../lib/archive/tar-gz.js";
import { parseWorkloadManifest, type WorkloadManifest } from "../model/workload-manifest.js";
import { planWorkloadCollectors } from "./workload-collectors.js";
import { WORKLOAD_PATH } from "../model/peer-contract.js";
import type { CommandCollector } from "./collectors.js";
import { sleep } from "../lib/abortable-sleep.js";

const MAX_WORKLOAD_BYTES = 64 * 1024 * 1024;

export type WorkloadOutcome =
  { kind: "none" } | { kind: "loaded"; manifest: WorkloadManifest; collectors: CommandCollector[] } | { kind: "failed"; reason: string };

/** GET url → file; resolves with the status (the body is written only for 200). */
function download(url: string, file: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: timeoutMs }, (res) => {
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        res.resume();
        resolve(status);
        return;
      }
      let bytes = 0;
      res.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > MAX_WORKLOAD_BYTES) res.destroy(new Error(`the workload is larger than ${MAX_WORKLOAD_BYTES} bytes`));
      });
      pipeline(res, createWriteStream(file, { mode: 0o600 })).then(() => resolve(200), reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}

export async function fetchWorkload(
  masterUrl: string,
  workDir: string,
  options: { attempts?: number; timeoutMs?: number; retryDelayMs?: number } = {},
): Promise<WorkloadOutcome> {
  const attempts = options.attempts ?? 3;
  const file = join(workDir, "post.tgz");
  let lastError = "";
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    try {
      const status = await download(`${masterUrl}${WORKLOAD_PATH}`, file, options.timeoutMs ?? 30_000);
      if (status === 404) return { kind: "none" };
      if (status !== 200) throw new Error(`HTTP ${status}`);
      return await unpack(file, join(workDir, "workload"));
    } catch (error) {
      lastError = (error as Error).message;
      if (attempt < attempts) await sleep(options.retryDelayMs ?? 2000);
    }
  }
  return { kind: "failed", reason: `GET ${masterUrl}${WORKLOAD_PATH}: ${lastError}` };
}

async function unpack(file: string, dir: string): Promise<WorkloadOutcome> {
  // The same checks the master applies to uploads, over the whole archive before writing.
  let files: Map<string, Buffer>;
  try {
    files = await readUploadFiles(file, DEFAULT_UPLOAD_LIMITS);
  } catch (error) {
    return { kind: "failed", reason: `post.tgz refused: ${(error as Error).message}` };
  }
  const manifestText = files.get("manifest.json");
  if (manifestText === undefined) return { kind: "failed", reason: "post.tgz has no manifest.json" };
  let manifest: WorkloadManifest;
  try {
    manifest = parseWorkloadManifest(manifestText.toString("utf8"), "post.tgz manifest.json");
  } catch (error) {
    return { kind: "failed", reason: (error as Error).message };
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let tally: UploadTally = EMPTY_TALLY;
  await extract({
    file,
    cwd: dir,
    strict: true,
    preserveOwner: false,
    filter: (_path, entry) => {
      if (!("type" in entry)) return false;
      const verdict = checkUploadEntry({ path: entry.path, type: entry.type, size: entry.size, mode: entry.mode }, tally, DEFAULT_UPLOAD_LIMITS);
      if (!verdict.accept) return false;
      tally = verdict.tally;
      return true;
    },
  });
  // Scripts named by "./" must have arrived.
  for (const collector of manifest.collectors) {
    const program = collector.argv[0]!;
    if (
      program.startsWith("./") &&
      (await readFile(join(dir, program)).then(
        () => false,
        () => true,
      ))
    ) {
      return { kind: "failed", reason: `post.tgz: collector ${collector.id} runs ${program}, which the archive does not contain` };
    }
  }
  return { kind: "loaded", manifest, collectors: planWorkloadCollectors(manifest, dir) };
}
