import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ReconError } from "../../lib/errors.js";
import { makeTorrent, mktorrentArgs, pieceExponentFor, torrentInfoHash, torrentLength } from "./mktorrent.js";
import type { CommandRunner } from "../../lib/run.js";

describe("pieceExponentFor", () => {
  it.each([
    [1, 15],
    [16 * 1024 * 1024, 15], // 512 pieces of 32 KiB
    [64 * 1024 * 1024, 16],
    [426_000_000, 19], // the ISO of issue #14: 813 pieces of 512 KiB
    [2 ** 24 * 1024, 24],
    [2 ** 40, 24], // capped: mktorrent's and clients' usual maximum
  ])("%d bytes → 2^%d", (size, exponent) => {
    expect(pieceExponentFor(size)).toBe(exponent);
    if (exponent < 24) expect(Math.ceil(size / 2 ** exponent)).toBeLessThanOrEqual(1024);
  });
});

describe("mktorrentArgs", () => {
  it("renders the whole argv: private, announce, web seed, piece size from the size, no date", () => {
    expect(
      mktorrentArgs({
        source: "/srv/http/isos/debian-12.iso",
        output: "/run/recon/torrent/debian-12.torrent",
        name: "debian-12.iso",
        announceUrl: "http://10.20.0.1:6969/announce",
        webSeedUrl: "http://10.20.0.1/isos/debian-12.iso",
        sizeBytes: 426_000_000,
      }),
    ).toEqual([
      "--no-date",
      "--private",
      "--piece-length",
      "19",
      "--announce",
      "http://10.20.0.1:6969/announce",
      "--web-seed",
      "http://10.20.0.1/isos/debian-12.iso",
      "--name",
      "debian-12.iso",
      "--threads",
      "1",
      "--output",
      "/run/recon/torrent/debian-12.torrent",
      "/srv/http/isos/debian-12.iso",
    ]);
  });
});

describe("torrentInfoHash", () => {
  const info = "d6:lengthi3000000e4:name5:f.iso12:piece lengthi32768e6:pieces20:abcdefghijklmnopqrste";
  const sha1 = createHash("sha1").update(info).digest("hex");

  it("hashes the info dictionary wherever it sits among the keys", () => {
    expect(torrentInfoHash(Buffer.from(`d8:announce30:http://10.79.0.1:6969/announce4:info${info}8:url-listl5:x.isoee`))).toBe(sha1);
    expect(torrentInfoHash(Buffer.from(`d4:info${info}e`))).toBe(sha1);
    expect(torrentInfoHash(Buffer.from(`d1:ai-3e1:bli1e2:xye4:info${info}e`))).toBe(sha1);
  });

  it.each(["", "li1ee", "d8:announce3:abce", "d4:infod6:lengthi3"])("refuses %j as ARTEFACT_MISSING", (text) => {
    expect(() => torrentInfoHash(Buffer.from(text))).toThrow(ReconError);
  });
});

describe("torrentLength", () => {
  it("reads the info dictionary's length, not another key's", () => {
    const info = "d6:lengthi247529472e4:name13:debian-12.iso12:piece lengthi262144e6:pieces20:abcdefghijklmnopqrste";
    expect(torrentLength(Buffer.from(`d8:announce30:http://10.79.0.1:6969/announce6:lengthi5e4:info${info}8:url-listl5:x.isoee`))).toBe(247_529_472);
  });

  it.each([
    "d4:infod4:name1:xee", // a multi-file torrent: no length
    "d4:infod6:lengthi-3eee",
    "d4:infod6:lengthi03eee",
    "d4:infod6:length3:abcee",
    "d4:infod6:lengthi99999999999999999999eee",
    "d8:announce3:abce",
  ])("refuses %j as ARTEFACT_MISSING", (text) => {
    expect(() => torrentLength(Buffer.from(text))).toThrow(ReconError);
  });
});

describe("makeTorrent", () => {
  it("fails with mktorrent's words and the hint when mktorrent fails", async () => {
    const runner: CommandRunner = {
      run: async (command, args) => ({ command, args, exitCode: 1, stdout: "", stderr: "cannot open /nope.iso\n" }),
    };
    const made = makeTorrent(runner, {
      source: "/nope.iso",
      output: "/tmp/recon-mktorrent-unit/x.torrent",
      name: "x.iso",
      announceUrl: "a",
      webSeedUrl: "w",
      sizeBytes: 1,
    });
    await expect(made).rejects.toThrow(/cannot open \/nope\.iso/);
  });
});
