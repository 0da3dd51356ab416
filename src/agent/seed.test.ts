import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { aria2cArgs } from "../lib/aria2c.js";
import { findTorrentCopy, seederArgs } from "./seed.js";

const HANDLER = join(import.meta.dirname, "../../overlay/usr/lib/dracut/modules.d/95recon-torrent/recon-torrent-lib.sh");

describe("the node's seeder", () => {
  it("seeds the initrd's RAM copy as it is, bounded by recon.seed", () => {
    const copy = {
      dir: "/run/initramfs/recon-torrent",
      torrentPath: "/run/initramfs/recon-torrent/image.torrent",
      isoPath: "/run/initramfs/recon-torrent/debian-12.iso",
    };
    expect(seederArgs(copy, { timeS: 90, ratio: 3 }).join(" ")).toBe(
      "--dir=/run/initramfs/recon-torrent --seed-time=1.500 --seed-ratio=3 --bt-tracker-interval=5 --listen-port=6881 --enable-dht=false " +
        "--enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false --file-allocation=none --summary-interval=0 --enable-color=false " +
        "--on-bt-download-complete=/bin/echo --console-log-level=notice --download-result=hide --bt-stop-timeout=0 --bt-seed-unverified=true " +
        "/run/initramfs/recon-torrent/image.torrent",
    );
  });

  it("finds the torrent copy only when both the torrent and an ISO are there", async () => {
    const dir = await mkdtemp(join(tmpdir(), "recon-seed-"));
    try {
      expect(await findTorrentCopy(join(dir, "absent"))).toBeUndefined();
      await writeFile(join(dir, "image.torrent"), "d4:infod6:lengthi1eee");
      expect(await findTorrentCopy(dir)).toBeUndefined();
      await writeFile(join(dir, "debian-12.iso"), "x");
      expect(await findTorrentCopy(dir)).toEqual({ dir, torrentPath: join(dir, "image.torrent"), isoPath: join(dir, "debian-12.iso") });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the initrd's handler (95recon-torrent)", () => {
  it("runs aria2c with aria2cArgs' options, except those a download-only fetch in the initrd sets otherwise", async () => {
    const script = await readFile(HANDLER, "utf8");
    const call = /\n\s*aria2c (.*?)"\$dir\/image\.torrent"/s.exec(script)?.[1];
    expect(call, "the aria2c call in recon-torrent-lib.sh").toBeDefined();
    const shell = new Map(
      call!
        .replace(/\\\n/g, " ")
        .trim()
        .split(/\s+/)
        .map((option) => option.split("=", 2) as [string, string]),
    );
    const node = new Map(
      aria2cArgs({ torrentPath: "t", dir: `"$dir"`, seedTimeS: 0, seedRatio: 0, stallTimeoutS: 120 })
        .slice(0, -1)
        .map((option) => option.split("=", 2) as [string, string]),
    );
    // Download only: no completion hook (aria2c exits when done); a progress line every 10 s on the console.
    const differs = { "--summary-interval": "10", "--on-bt-download-complete": undefined, "--seed-time": "0" };
    for (const [name, value] of node) {
      const expected = name in differs ? differs[name as keyof typeof differs] : value;
      expect(shell.get(name), name).toBe(expected);
    }
    expect([...shell.keys()].filter((name) => !node.has(name))).toEqual([]);
  });
});
