/**
 * Extracts an uploaded tar(.gz) with the checks of upload-check.ts. Two passes over the saved
 * upload: a listing pass decides (one bad entry rejects the whole upload, before anything is
 * written), then the extraction, whose filter repeats the checks in case the file changed.
 */
import { list, extract } from "tar";
import { ReconError } from "../../lib/errors.js";
import {
  checkUploadEntry,
  DEFAULT_UPLOAD_LIMITS,
  EMPTY_TALLY,
  type TarEntryHeader,
  type UploadLimits,
  type UploadTally,
} from "./upload-check.js";

export interface ExtractResult {
  entries: number;
  totalBytes: number;
}

function headerOf(entry: { path: string; type: string; size: number; mode?: number | undefined }): TarEntryHeader {
  return { path: entry.path, type: entry.type, size: entry.size, mode: entry.mode };
}

export async function extractUpload(
  file: string,
  destination: string,
  limits: UploadLimits = DEFAULT_UPLOAD_LIMITS,
): Promise<ExtractResult> {
  let tally: UploadTally = EMPTY_TALLY;
  let rejection: string | undefined;
  try {
    await list({
      file,
      strict: true,
      onReadEntry: (entry) => {
        if (rejection !== undefined) return;
        const verdict = checkUploadEntry(headerOf(entry), tally, limits);
        if (verdict.accept) tally = verdict.tally;
        else rejection = verdict.reason;
      },
    });
  } catch (cause) {
    throw new ReconError("UPLOAD_REJECTED", `the upload is not a readable tar archive: ${(cause as Error).message}`, {
      hint: "the agent sends a gzip-compressed tar; was the upload cut short?",
      cause,
    });
  }
  if (rejection !== undefined) {
    throw new ReconError("UPLOAD_REJECTED", `upload refused: ${rejection}`, {
      hint: "the agent only sends regular files and directories below one relative root",
    });
  }

  let again: UploadTally = EMPTY_TALLY;
  await extract({
    file,
    cwd: destination,
    strict: true,
    preserveOwner: false,
    filter: (_path, entry) => {
      if (!("type" in entry)) return false;
      const verdict = checkUploadEntry(headerOf(entry), again, limits);
      if (!verdict.accept) return false;
      again = verdict.tally;
      return true;
    },
  });
  return { entries: tally.entries, totalBytes: tally.totalBytes };
}
