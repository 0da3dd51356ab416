import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../lib/log.js";
import type { CommandRunner } from "../../lib/run.js";
import {
  checkFreeSpace,
  ensureRwCopy,
  parseReportLba,
  parseUnsquashfsList,
  renderRwCopyRecord,
  unsquashfsExtractArgs,
  unsquashfsListArgs,
  xorrisoReportLbaArgs,
} from "./rw-copy.js";

// Real outputs: xorriso 1.5.4 and squashfs-tools 4.5.1 on an ISO made as test/integration/nbd-rw.test.ts makes one.
const REPORT_LBA = `Report layout: xt , Startlba ,   Blocks , Filesize , ISO image path
File data lba:  0 ,       33 ,        2 ,     4096 , '/LiveOS/squashfs.img'
`;
const LLS = `drwxr-xr-x root/root                29 2026-12-03 05:36 squashfs-root
drwxr-xr-x root/root                33 2026-12-03 05:36 squashfs-root/LiveOS
-rw-r--r-- root/root          16777216 2026-12-03 05:36 squashfs-root/LiveOS/rootfs.img
`;

describe("writable copy: tool arguments and parsers", () => {
  it("asks xorriso where the squashfs lies and reads it at that offset of the ISO", () => {
    expect(xorrisoReportLbaArgs("/dev/sda")).toEqual(["-indev", "stdio:/dev/sda", "-find", "/LiveOS/squashfs.img", "-exec", "report_lba", "--"]);
    expect(parseReportLba(REPORT_LBA, "a.iso")).toEqual({ offset: 33 * 2048, bytes: 4096 });
    expect(unsquashfsListArgs("a.iso", 67584)).toEqual(["-o", "67584", "-lls", "a.iso", "LiveOS/rootfs.img"]);
    expect(unsquashfsExtractArgs("a.iso", 67584, "/d/.x/tree")).toEqual(["-q", "-n", "-o", "67584", "-d", "/d/.x/tree", "a.iso", "LiveOS/rootfs.img"]);
    expect(parseUnsquashfsList(LLS, "a.iso")).toBe(16777216);
  });

  it("says what is wrong with an ISO that is not a KIWI live ISO", () => {
    expect(() => parseReportLba("Report layout: xt , Startlba ,   Blocks , Filesize , ISO image path\n", "a.iso")).toThrow(
      expect.objectContaining({ code: "ARTEFACT_MISSING", message: "a.iso holds no /LiveOS/squashfs.img" }),
    );
    const twoPieces = `${REPORT_LBA}File data lba:  1 ,     9000 ,        2 ,     4096 , '/LiveOS/squashfs.img'\n`;
    expect(() => parseReportLba(twoPieces, "a.iso")).toThrow(/lies in 2 pieces/);
    expect(() => parseUnsquashfsList(LLS.split("\n").slice(0, 2).join("\n"), "a.iso")).toThrow(/holds no LiveOS\/rootfs.img/);
  });

  it("refuses a copy the data partition has no room for, saying what, where and how much", () => {
    expect(() => checkFreeSpace("the copy", "/data/images", 4096, 4096)).not.toThrow();
    expect(() => checkFreeSpace("the copy x", "/data/images", 3 * 1024 * 1024, 1024 * 1024)).toThrow(
      expect.objectContaining({
        code: "DATA_PARTITION",
        message: "the copy x needs 3.0 MiB (3145728 bytes) free on /data/images; there are 1.0 MiB",
        hint: expect.stringContaining("free space on the data partition"),
      }),
    );
  });

  it("records where the copy came from", () => {
    expect(
      renderRwCopyRecord({
        label: "debian-12-rw-525400000002",
        from: "debian-12",
        source: "/var/lib/recon/images/debian-12/isos/debian-12.iso",
        fromIsoSha256: "ab".repeat(32),
        mac: "52:54:00:00:00:02",
        createdAt: "2026-12-03T05:40:00.000Z",
        bytes: 16777216,
        note: "writable copy: never replaces debian-12",
      }),
    ).toBe(`{
  "label": "debian-12-rw-525400000002",
  "from": "debian-12",
  "source": "/var/lib/recon/images/debian-12/isos/debian-12.iso",
  "fromIsoSha256": "${"ab".repeat(32)}",
  "mac": "52:54:00:00:00:02",
  "createdAt": "2026-12-03T05:40:00.000Z",
  "bytes": 16777216,
  "note": "writable copy: never replaces debian-12"
}
`);
  });
});

describe("ensureRwCopy before any extraction", () => {
  const wanted = { where: "hosts.52:54:00:00:00:02", mac: "52:54:00:00:00:02", from: "debian-12", label: "debian-12-rw-525400000002" };
  const log = createLogger({ component: "nbd" }, { write: () => undefined });
  /** Answers xorriso and unsquashfs -lls with the outputs above, rootfs.img claimed at `bytes`; records every call. */
  const runner = (bytes: number, calls: string[][]): CommandRunner => ({
    run: async (command, args) => {
      calls.push([command, ...args]);
      const stdout = command === "xorriso" ? REPORT_LBA : args.includes("-lls") ? LLS.replace("16777216", String(bytes)) : "";
      return { command, args, exitCode: 0, stdout, stderr: "" };
    },
  });
  let dataDir = "";
  afterEach(async () => {
    if (dataDir !== "") await rm(dataDir, { recursive: true, force: true });
  });

  it("refuses a copy larger than the data partition's free space before it extracts anything, and leaves nothing behind", async () => {
    dataDir = await mkdtemp(join(tmpdir(), "recon-rwcopy-"));
    const calls: string[][] = [];
    const tooBig = 2 ** 60;
    await expect(ensureRwCopy({ runner: runner(tooBig, calls), dataDir, wanted, source: { iso: "/x/debian-12.iso" }, log })).rejects.toMatchObject({
      code: "DATA_PARTITION",
      message: expect.stringMatching(
        new RegExp(
          `^the writable copy debian-12-rw-525400000002 of debian-12 .* needs 1099511627776\\.0 MiB \\(${tooBig} bytes\\) free on ${dataDir}/images; there are `,
        ),
      ),
    });
    expect(calls.map((call) => call.slice(0, 2))).toEqual([
      ["xorriso", "-indev"],
      ["unsquashfs", "-o"],
    ]);
    expect(await readdir(join(dataDir, "images"))).toEqual([]);
  });

  it("never overwrites a directory that is not a whole copy, and runs nothing for it", async () => {
    dataDir = await mkdtemp(join(tmpdir(), "recon-rwcopy-"));
    await mkdir(join(dataDir, "images", wanted.label), { recursive: true });
    await writeFile(join(dataDir, "images", wanted.label, "rootfs.img"), "a node's writes");
    const calls: string[][] = [];
    await expect(ensureRwCopy({ runner: runner(16, calls), dataDir, wanted, source: { iso: "/x/debian-12.iso" }, log })).rejects.toMatchObject({
      code: "ARTEFACT_MISSING",
      message: `${dataDir}/images/${wanted.label} exists but is not a whole writable copy (copy.json is missing)`,
    });
    expect(calls).toEqual([]);
    expect(await readFile(join(dataDir, "images", wanted.label, "rootfs.img"), "utf8")).toBe("a node's writes");
  });
});
