import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseNfsdIo } from "./nfsd-stats.js";

const fixtures = join(import.meta.dirname, "../../../test/fixtures/nfsd");

describe("parseNfsdIo", () => {
  it("reads the bytes read and written from real servers' /proc/net/rpc/nfsd", async () => {
    expect(parseNfsdIo(await readFile(join(fixtures, "procfs-server.txt"), "utf8"))).toEqual({ readBytes: 157286400, writtenBytes: 0 });
    expect(parseNfsdIo(await readFile(join(fixtures, "zfs-server-511-threads.txt"), "utf8"))).toEqual({ readBytes: 1276009525, writtenBytes: 4004549293 });
  });

  it("gives undefined for a text without an io line rather than zero", () => {
    expect(parseNfsdIo("")).toBeUndefined();
    expect(parseNfsdIo("rc 0 6 18622\nth 8 0\n")).toBeUndefined();
    expect(parseNfsdIo("io lots\n")).toBeUndefined();
  });
});
