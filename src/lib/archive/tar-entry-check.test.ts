import { describe, expect, it } from "vitest";
import { checkUploadEntry, DEFAULT_UPLOAD_LIMITS, EMPTY_TALLY, type TarEntryHeader, type UploadLimits, type UploadTally } from "./tar-entry-check.js";

const limits: UploadLimits = { maxEntries: 4, maxEntryBytes: 1000, maxTotalBytes: 1500, maxPathLength: 64, maxDepth: 3 };
const file = (path: string, size = 10, extra: Partial<TarEntryHeader> = {}): TarEntryHeader => ({ path, type: "File", size, mode: 0o644, ...extra });

/** Feeds entries in order; returns the first rejection reason, or undefined if all pass. */
function firstRejection(headers: TarEntryHeader[]): string | undefined {
  let tally: UploadTally = EMPTY_TALLY;
  for (const header of headers) {
    const verdict = checkUploadEntry(header, tally, limits);
    if (!verdict.accept) return verdict.reason;
    tally = verdict.tally;
  }
  return undefined;
}

describe("checkUploadEntry", () => {
  it("accepts a normal agent upload and normalizes ./", () => {
    const verdict = checkUploadEntry(file("./raw/lshw.json", 500), EMPTY_TALLY, limits);
    expect(verdict).toMatchObject({ accept: true, path: "raw/lshw.json", tally: { entries: 1, totalBytes: 500 } });
    expect(firstRejection([{ path: "raw/", type: "Directory", size: 0, mode: 0o755 }, file("raw/a"), file("raw/b"), file("meta.json")])).toBeUndefined();
  });

  it.each<[string, TarEntryHeader[], string]>([
    ["absolute path", [file("/etc/cron.d/evil")], "absolute path"],
    ["parent escape", [file("../../root/.ssh/authorized_keys")], "'..' in path"],
    ["parent escape in the middle", [file("raw/../../x")], "'..' in path"],
    ["trailing ..", [file("raw/..")], "'..' in path"],
    ["backslash escape", [file("..\\..\\x")], "backslash in path"],
    ["drive letter", [file("C:/Windows/x")], "drive-letter path"],
    ["NUL in path", [file("raw/a\u0000.json")], "control character in path"],
    ["newline in path", [file("raw/a\nb")], "control character in path"],
    ["empty component", [file("raw//a")], "empty or '.' path component"],
    ["empty path", [file("")], "empty path"],
    ["path too long", [file(`raw/${"a".repeat(80)}`)], "path longer than 64 characters"],
    ["too deep", [file("a/b/c/d")], "deeper than 3 directories"],
    ["symlink", [{ path: "raw/link", type: "SymbolicLink", size: 0 }], "symbolic link"],
    ["hard link", [{ path: "raw/link", type: "Link", size: 0 }], "hard link"],
    ["char device", [{ path: "raw/null", type: "CharacterDevice", size: 0 }], "device node"],
    ["block device", [{ path: "raw/sda", type: "BlockDevice", size: 0 }], "device node"],
    ["fifo", [{ path: "raw/pipe", type: "FIFO", size: 0 }], "FIFO"],
    ["unknown type", [{ path: "raw/x", type: "Unsupported", size: 0 }], "entry type Unsupported"],
    ["oversize entry", [file("raw/big", 1001)], "entry larger than 1000 bytes"],
    ["negative size", [file("raw/neg", -1)], "invalid size"],
    ["NaN size", [file("raw/nan", Number.NaN)], "invalid size"],
    ["directory with content", [{ path: "raw", type: "Directory", size: 5 }], "directory with content"],
    ["total size bomb", [file("a", 900), file("b", 700)], "upload larger than 1500 bytes in total"],
    ["too many entries", [file("a"), file("b"), file("c"), file("d"), file("e")], "more than 4 entries"],
    ["setuid", [file("raw/sh", 10, { mode: 0o4755 })], "setuid, setgid or sticky mode"],
    ["duplicate path overwrite", [file("raw/a"), file("./raw/a")], "duplicate path"],
  ])("refuses %s", (_name, headers, reason) => {
    expect(firstRejection(headers)).toContain(reason);
  });

  it("names the path in the reason, truncated and quoted", () => {
    const verdict = checkUploadEntry(file(`/${"x".repeat(300)}`), EMPTY_TALLY, DEFAULT_UPLOAD_LIMITS);
    expect(verdict.accept).toBe(false);
    if (!verdict.accept) expect(verdict.reason.length).toBeLessThan(200);
  });

  it("does not change the tally on rejection", () => {
    const tally: UploadTally = { ...EMPTY_TALLY, entries: 1, totalBytes: 10, paths: new Set(["a"]) };
    expect(checkUploadEntry(file("/abs"), tally, limits).tally).toBe(tally);
  });

  it("refuses a path below a file, and a file where a directory already is", () => {
    const afterFile = checkUploadEntry(file("raw/a"), EMPTY_TALLY, limits);
    expect(afterFile.accept).toBe(true);
    expect(checkUploadEntry(file("raw/a/b"), afterFile.tally, limits)).toMatchObject({
      accept: false,
      reason: expect.stringContaining("below a regular file"),
    });
    const afterDeep = checkUploadEntry(file("raw/x/y"), EMPTY_TALLY, limits);
    expect(checkUploadEntry(file("raw/x"), afterDeep.tally, limits)).toMatchObject({
      accept: false,
      reason: expect.stringContaining("where the archive has a directory"),
    });
    expect(checkUploadEntry(file("raw/z"), afterDeep.tally, limits).accept).toBe(true);
  });
});
