/**
 * Which entries of an uploaded tar the master will extract. Pure: one header at a time plus
 * the running tally, so the same check runs in a listing pass (reject the whole upload before
 * writing anything) and as the extraction filter. The agent only ever sends regular files and
 * directories below one relative root; everything else is refused, not repaired.
 */

export interface TarEntryHeader {
  path: string;
  /** node-tar's names: File, OldFile, ContiguousFile, Directory, SymbolicLink, Link, … */
  type: string;
  /** Bytes of content the header announces. */
  size: number;
  mode?: number | undefined;
}

export interface UploadLimits {
  maxEntries: number;
  maxEntryBytes: number;
  maxTotalBytes: number;
  maxPathLength: number;
  maxDepth: number;
}

/** An inventory is text and a few small binaries (SMBIOS/EDID dumps): generous, not unbounded. */
export const DEFAULT_UPLOAD_LIMITS: UploadLimits = {
  maxEntries: 2000,
  maxEntryBytes: 16 * 1024 * 1024,
  maxTotalBytes: 64 * 1024 * 1024,
  maxPathLength: 255,
  maxDepth: 8,
};

export interface UploadTally {
  entries: number;
  totalBytes: number;
  /** Normalized paths seen, to refuse a second entry that would overwrite the first. */
  paths: ReadonlySet<string>;
  /** Paths of regular files seen: nothing may live below one. */
  files: ReadonlySet<string>;
  /** Every ancestor directory of a path seen: no regular file may take one of these names. */
  parents: ReadonlySet<string>;
}

export const EMPTY_TALLY: UploadTally = { entries: 0, totalBytes: 0, paths: new Set(), files: new Set(), parents: new Set() };

export type EntryVerdict = { accept: true; path: string; tally: UploadTally } | { accept: false; reason: string; tally: UploadTally };

const FILE_TYPES = new Set(["File", "OldFile", "ContiguousFile"]);

/** Leading `./` is how `tar -C dir .` names entries; it is harmless, so it is dropped. */
export function normalizeEntryPath(path: string): string {
  return path.replace(/^(\.\/)+/, "").replace(/\/+$/, "");
}

function pathProblem(raw: string, limits: UploadLimits): string | undefined {
  if (raw.length === 0) return "empty path";
  if (/[\x00-\x1f\x7f]/.test(raw)) return "control character in path";
  if (raw.length > limits.maxPathLength) return `path longer than ${limits.maxPathLength} characters`;
  // Backslashes are separators on Windows and in some extractors; refusing them is simpler
  // than deciding what `..\\x` means.
  if (raw.includes("\\")) return "backslash in path";
  if (raw.startsWith("/")) return "absolute path";
  if (/^[A-Za-z]:/.test(raw)) return "drive-letter path";
  const path = normalizeEntryPath(raw);
  const parts = path.split("/");
  if (parts.includes("..")) return "'..' in path";
  if (parts.some((part) => part === "" || part === ".")) return "empty or '.' path component";
  if (parts.length > limits.maxDepth) return `deeper than ${limits.maxDepth} directories`;
  return undefined;
}

function typeProblem(type: string): string | undefined {
  if (FILE_TYPES.has(type) || type === "Directory") return undefined;
  switch (type) {
    case "SymbolicLink":
      return "symbolic link";
    case "Link":
      return "hard link";
    case "CharacterDevice":
    case "BlockDevice":
      return "device node";
    case "FIFO":
      return "FIFO";
    default:
      return `entry type ${type}`;
  }
}

export function checkUploadEntry(header: TarEntryHeader, tally: UploadTally, limits: UploadLimits = DEFAULT_UPLOAD_LIMITS): EntryVerdict {
  const reject = (reason: string): EntryVerdict => ({ accept: false, reason: `${reason}: ${JSON.stringify(header.path.slice(0, 120))}`, tally });
  const entries = tally.entries + 1;
  if (entries > limits.maxEntries) return reject(`more than ${limits.maxEntries} entries`);
  const pathError = pathProblem(header.path, limits);
  if (pathError) return reject(pathError);
  const typeError = typeProblem(header.type);
  if (typeError) return reject(typeError);
  if (!Number.isSafeInteger(header.size) || header.size < 0) return reject("invalid size");
  if (header.type === "Directory" && header.size !== 0) return reject("directory with content");
  if (header.size > limits.maxEntryBytes) return reject(`entry larger than ${limits.maxEntryBytes} bytes`);
  const totalBytes = tally.totalBytes + header.size;
  if (totalBytes > limits.maxTotalBytes) return reject(`upload larger than ${limits.maxTotalBytes} bytes in total`);
  // setuid/setgid/sticky bits have no business in an inventory and would survive extraction as root.
  if (header.mode !== undefined && (header.mode & 0o7000) !== 0) return reject("setuid, setgid or sticky mode");
  const path = normalizeEntryPath(header.path);
  if (tally.paths.has(path)) return reject("duplicate path (a second entry would overwrite the first)");
  // The archive must describe one tree: "a" as a file and "a/b" cannot both exist.
  const ancestors = path
    .split("/")
    .slice(0, -1)
    .map((_part, index, parts) => parts.slice(0, index + 1).join("/"));
  if (ancestors.some((ancestor) => tally.files.has(ancestor))) return reject("path below a regular file");
  const isFile = FILE_TYPES.has(header.type);
  if (isFile && tally.parents.has(path)) return reject("regular file where the archive has a directory");
  return {
    accept: true,
    path,
    tally: {
      entries,
      totalBytes,
      paths: new Set([...tally.paths, path]),
      files: isFile ? new Set([...tally.files, path]) : tally.files,
      parents: ancestors.every((ancestor) => tally.parents.has(ancestor)) ? tally.parents : new Set([...tally.parents, ...ancestors]),
    },
  };
}
