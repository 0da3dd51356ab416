import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isoImageBytes, parseIsoVolumeBytes, parseMemAvailable, planIsoStaging } from "./live-image.js";
import { parseSfdiskJson } from "./store/data-partition.js";

const fixtures = join(import.meta.dirname, "../../test/fixtures");

describe("parseIsoVolumeBytes", () => {
  it("reads the volume size from a real recon ISO's primary volume descriptor", async () => {
    // Sector 16 of a debian-12 recon ISO built here (kiwi 9.24 / xorriso).
    const pvd = await readFile(join(fixtures, "iso/debian-12-recon-pvd.bin"));
    expect(parseIsoVolumeBytes(pvd)).toBe(425011200);
  });

  it("says undefined for anything that is not a primary volume descriptor", () => {
    expect(parseIsoVolumeBytes(Buffer.alloc(2048))).toBeUndefined();
    expect(parseIsoVolumeBytes(Buffer.alloc(100, 1))).toBeUndefined();
  });
});

describe("isoImageBytes", () => {
  it("extends to the end of the hybrid layout's EFI partition but not into recon's data partition", async () => {
    const table = parseSfdiskJson(await readFile(join(fixtures, "block/debian-12-stick-1G-loop.sfdisk.json"), "utf8"));
    // ISO partition 64+900304 sectors, EFI 900368+40960: the image ends at sector 941328.
    expect(isoImageBytes(460955648, table)).toBe(941328 * 512);
    const withData = { ...table, partitions: [...table.partitions, { node: "/dev/loop1p3", start: 942080, size: 1155072, type: "83" }] };
    expect(isoImageBytes(460955648, withData)).toBe(941328 * 512);
    expect(isoImageBytes(500_000_000, undefined)).toBe(500_000_000);
  });
});

describe("planIsoStaging", () => {
  const GiB = 1024 ** 3;
  it("stages when a GiB stays free after the copy, with a tmpfs a little larger than the ISO", () => {
    expect(planIsoStaging({ isoBytes: 425 * 2 ** 20, memAvailableBytes: 2 * GiB })).toEqual({ stage: true, tmpfsBytes: 425 * 2 ** 20 + 16 * 2 ** 20 });
  });
  it("keeps serving from the device when memory is short or unknown", () => {
    expect(planIsoStaging({ isoBytes: 425 * 2 ** 20, memAvailableBytes: 1.2 * GiB })).toMatchObject({
      stage: false,
      reason: expect.stringContaining("would leave less than 1024 MiB"),
    });
    expect(planIsoStaging({ isoBytes: 1, memAvailableBytes: undefined })).toMatchObject({ stage: false });
  });
  it("reads MemAvailable from /proc/meminfo", () => {
    expect(parseMemAvailable("MemTotal:       24607836 kB\nMemFree:        20000000 kB\nMemAvailable:   22912344 kB\n")).toBe(22912344 * 1024);
    expect(parseMemAvailable("MemTotal: 1 kB\n")).toBeUndefined();
  });
});
