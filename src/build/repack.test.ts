import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { dumpe2fsHeaderArgs, loopMountReadOnlyArgs, mkfsExt4Args, parseDumpe2fsHeader, planRootFilesystem } from "./ext4.js";
import { renderImageRecord, type ImageRootRecord } from "./image-root.js";
import { nspawnArgs } from "./nspawn.js";
import { bootRecordDifferences } from "./repack.js";
import { mksquashfsArgs, parseSquashfsSuperblock, unsquashfsStatArgs } from "./squashfs.js";
import { parseBootReport, xorrisoBootReportArgs, xorrisoReplaceArgs } from "./xorriso.js";

// Real outputs (squashfs-tools 4.5.1, e2fsprogs 1.47.0, xorriso 1.5.4) of the debian-12 ISO that
// `./make-recipe-target debian-12 target` built here, and of that ISO after `repack`.
const fixtures = join(import.meta.dirname, "../../test/fixtures/repack");
const fixture = (name: string) => readFile(join(fixtures, name), "utf8");

describe("squashfs", () => {
  it("reads kiwi's compression and block size from unsquashfs -s", async () => {
    const superblock = parseSquashfsSuperblock(await fixture("unsquashfs-s.txt"));
    expect(superblock.compression).toBe("zstd");
    expect(superblock.blockSizeBytes).toBe(1048576);
    expect(superblock.sizeBytes).toBeGreaterThan(100 * 1024 * 1024);
    expect(() => parseSquashfsSuperblock("Can't find a SQUASHFS superblock on x")).toThrow(/no compression/);
  });

  it("writes the squashfs the way kiwi does (argv)", () => {
    expect(unsquashfsStatArgs("/b/squashfs.img")).toEqual(["-s", "/b/squashfs.img"]);
    expect(mksquashfsArgs("/b/sq", "/b/squashfs.img", { compression: "zstd", blockSizeBytes: 131072 }).join(" ")).toMatchInlineSnapshot(
      `"/b/sq /b/squashfs.img -noappend -no-progress -b 131072 -comp zstd"`,
    );
    expect(mksquashfsArgs("/b/sq", "/b/s.img", { compression: "xz", blockSizeBytes: 1048576 }).join(" ")).toMatchInlineSnapshot(
      `"/b/sq /b/s.img -noappend -no-progress -b 1048576 -comp xz -Xbcj x86"`,
    );
  });
});

describe("ext4", () => {
  it("reads kiwi's rootfs.img geometry from dumpe2fs -h", async () => {
    const geometry = parseDumpe2fsHeader(await fixture("dumpe2fs-h.txt"));
    expect(geometry.blockSizeBytes).toBe(4096);
    expect(geometry.blockCount).toBeGreaterThan(100_000);
    expect(geometry.inodeCount).toBeGreaterThan(10_000);
    expect(geometry.features).toContain("extent");
    expect(() => parseDumpe2fsHeader("dumpe2fs: Bad magic number in super-block")).toThrow(/no ext4 geometry/);
  });

  it("sizes the new filesystem from the tree, never below the original", () => {
    const original = { label: undefined, blockSizeBytes: 4096, blockCount: 250_000, inodeCount: 60_000, freeBlocks: 1000, freeInodes: 100, features: [] };
    expect(planRootFilesystem(original, 100 * 1024 * 1024, 1000)).toEqual({ blocks: 250_880, inodes: 60_000 });
    // 1 GiB of tree: 1.25 GiB + 256 MiB = 393216 blocks, already a multiple of 1024.
    expect(planRootFilesystem(original, 1024 ** 3, 100_000)).toEqual({ blocks: 393_216, inodes: 166_384 });
  });

  it("builds mkfs.ext4 -d and the loop mount (argv)", () => {
    expect(mkfsExt4Args("/b/rootfs.img", "/b/root", { label: "ROOT", blockSizeBytes: 4096 }, { blocks: 1024, inodes: 5000 }).join(" ")).toMatchInlineSnapshot(
      `"-F -q -L ROOT -b 4096 -N 5000 -d /b/root /b/rootfs.img 1024"`,
    );
    expect(mkfsExt4Args("/b/r.img", "/b/root", { label: undefined, blockSizeBytes: 4096 }, { blocks: 8, inodes: 9 }).join(" ")).toMatchInlineSnapshot(`"-F -q -b 4096 -N 9 -d /b/root /b/r.img 8"`);
    expect(dumpe2fsHeaderArgs("/b/r.img")).toEqual(["-h", "/b/r.img"]);
    expect(loopMountReadOnlyArgs("/b/r.img", "/b/mnt").join(" ")).toMatchInlineSnapshot(`"-o loop,ro -t ext4 /b/r.img /b/mnt"`);
  });
});

describe("nspawn", () => {
  it("runs a shell or one command in the root without touching it (argv)", () => {
    expect(nspawnArgs({ root: "build/debian-12/shell-root" }).join(" ")).toMatchInlineSnapshot(
      `"--quiet --register=no --keep-unit --resolv-conf=bind-host --timezone=off --link-journal=no --directory=build/debian-12/shell-root"`,
    );
    expect(nspawnArgs({ root: "/r", command: "apt-get install -y jq && touch '/a b'", setenv: { TERM: "xterm" } })).toMatchInlineSnapshot(`
      [
        "--quiet",
        "--register=no",
        "--keep-unit",
        "--resolv-conf=bind-host",
        "--timezone=off",
        "--link-journal=no",
        "--directory=/r",
        "--setenv=TERM=xterm",
        "/bin/sh",
        "-c",
        "apt-get install -y jq && touch '/a b'",
      ]
    `);
  });
});

describe("xorriso boot records", () => {
  it("replaces the squashfs and replays every boot record (argv)", () => {
    expect(xorrisoReplaceArgs("/b/a.iso", "/b/a.iso.repack", [["/b/squashfs.img", "/LiveOS/squashfs.img"]]).join(" ")).toMatchInlineSnapshot(
      `"-indev /b/a.iso -outdev /b/a.iso.repack -boot_image any replay -map /b/squashfs.img /LiveOS/squashfs.img"`,
    );
    expect(xorrisoBootReportArgs("/b/a.iso").join(" ")).toMatchInlineSnapshot(`"-indev /b/a.iso -pvd_info -report_el_torito plain -report_system_area plain"`);
  });

  it("reads volume id, El Torito entries and system area of kiwi's ISO and of the repacked one", async () => {
    const built = parseBootReport(await fixture("boot-report-built.txt"));
    const repacked = parseBootReport(await fixture("boot-report-repacked.txt"));
    expect(built.volumeId).toBe("RECON");
    expect(built.elTorito.map((e) => e.platform)).toEqual(["BIOS", "UEFI"]);
    expect(built.systemArea.length).toBeGreaterThan(1);
    expect(bootRecordDifferences(built, repacked)).toEqual([]);
  });

  it("names what a repack would change", async () => {
    const built = parseBootReport(await fixture("boot-report-built.txt"));
    const changed = { volumeId: "CDROM", elTorito: built.elTorito.slice(0, 1), systemArea: [] };
    const differences = bootRecordDifferences(built, changed);
    expect(differences).toHaveLength(3);
    expect(differences[0]).toBe("volume id 'RECON' became 'CDROM'");
  });
});

describe("image record", () => {
  it("says inside the image what was changed by hand (whole text)", () => {
    const record: ImageRootRecord = {
      recipe: "debian-12",
      iso: "build/debian-12/image-DracutLive/x.iso",
      isoSha256: "ab".repeat(32),
      descriptionHash: "cd".repeat(32),
      extractedAt: "2026-12-02T16:00:00.000Z",
      squashfs: { compression: "zstd", blockSizeBytes: 131072, sizeBytes: 1 },
      ext4: { label: undefined, blockSizeBytes: 4096, blockCount: 1, inodeCount: 1, freeBlocks: 0, freeInodes: 0, features: [] },
      changes: [{ at: "2026-12-02T16:01:00.000Z", command: "touch /opt/vendor-tool", exitCode: 0 }],
    };
    expect(renderImageRecord(record)).toMatchInlineSnapshot(`
      "{
        "changed_by_hand": true,
        "recipe": "debian-12",
        "description_hash": "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
        "base_iso_sha256": "abababababababababababababababababababababababababababababababab",
        "extracted_at": "2026-12-02T16:00:00.000Z",
        "changes": [
          {
            "at": "2026-12-02T16:01:00.000Z",
            "command": "touch /opt/vendor-tool",
            "exit_code": 0
          }
        ]
      }
      "
    `);
    expect(JSON.parse(renderImageRecord({ ...record, changes: [] }))).toMatchObject({ changed_by_hand: false });
  });
});
