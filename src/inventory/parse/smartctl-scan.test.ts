/**
 * `smartctl --scan` / `--scan-open` text and `--scan -j` JSON from real machines with and without
 * RAID controllers (test/fixtures/inventory/real/storage/SOURCES.md).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { INVENTORY_FIXTURES } from "../../../test/fixtures/inventory/fixtures.js";
import { parseSmartctlScan } from "./smartctl-scan.js";

const DIR = join(INVENTORY_FIXTURES, "real/storage");
const files = readdirSync(DIR)
  .filter((name) => /smartctl-scan/.test(name))
  .sort();
const parse = (name: string) => parseSmartctlScan(readFileSync(join(DIR, name), "utf8"));

describe("parseSmartctlScan on real outputs", () => {
  it("reads every real scan without an error, as a whole-result snapshot", async () => {
    expect(files.length).toBeGreaterThanOrEqual(6);
    const results = files.map((name) => ({ name, ...parse(name) }));
    for (const result of results) expect(result.errors, result.name).toEqual([]);
    await expect(`${JSON.stringify(results, null, 2)}\n`).toMatchFileSnapshot("__snapshots__/smartctl-scan-real.json");
  });

  it("one device per `DEVICE -d TYPE` line; the pasted shell prompt and smartctl's warning are not devices", () => {
    for (const name of files.filter((file) => file.endsWith(".txt"))) {
      const lines = readFileSync(join(DIR, name), "utf8").split("\n");
      expect(parse(name).value, name).toHaveLength(lines.filter((line) => line.startsWith("/dev/")).length);
    }
    expect(parse("smartctl-exporter-pr-205.perc-h330.smartctl-scan.txt").value).toHaveLength(19);
  });

  it("reads the disks behind a MegaRAID (PERC H330) as /dev/bus/N with -d megaraid,N", () => {
    const value = parse("smartctl-exporter-pr-205.perc-h330.smartctl-scan.txt").value;
    expect(value[0]).toEqual({ device: "/dev/sda", type: "scsi", comment: "/dev/sda, SCSI device" });
    expect(value.at(-1)).toEqual({ device: "/dev/bus/0", type: "megaraid,1", comment: "/dev/bus/0 [megaraid_disk_01], SCSI device" });
    expect(
      parse("scrutiny-issue-267.smartctl-scan.txt")
        .value.filter((device) => device.type.startsWith("megaraid,"))
        .map((device) => device.type),
    ).toEqual(["megaraid,1", "megaraid,2", "megaraid,3", "megaraid,6", "megaraid,7", "megaraid,8"]);
  });

  it("reads --scan-open's sat and nvme types", () => {
    const value = parse("smartmontools-issue-228.smartctl-scan-open.txt").value;
    expect(value.find((device) => device.device === "/dev/sdb")).toEqual({ device: "/dev/sdb", type: "sat", comment: "/dev/sdb [SAT], ATA device" });
    expect(value.at(-1)).toEqual({ device: "/dev/nvme0", type: "nvme", comment: "/dev/nvme0, NVMe device" });
  });

  it("reads smartctl --scan -j JSON, info_name as the comment", () => {
    expect(parse("scrutiny-smartctl-scan-megaraid.json").value).toEqual([
      { device: "/dev/bus/0", type: "megaraid,0", comment: "/dev/bus/0 [megaraid_disk_00]" },
      { device: "/dev/bus/0", type: "megaraid,1", comment: "/dev/bus/0 [megaraid_disk_01]" },
    ]);
  });

  it("an empty scan is no device and no error; other text or broken JSON is an error, never a throw", () => {
    expect(parseSmartctlScan("")).toEqual({ value: [], errors: [] });
    expect(parseSmartctlScan("smartctl: command not found\n").errors).toHaveLength(1);
    expect(parseSmartctlScan('{"devices": [').errors[0]!.message).toMatch(/^not valid JSON/);
    expect(parseSmartctlScan('{"devices": [{"name": 3}, {"name": "/dev/sda", "type": "sat"}]}').value).toEqual([
      { device: "/dev/sda", type: "sat", comment: null },
    ]);
    // --scan-open comments out a device it could not open.
    expect(parseSmartctlScan("# /dev/sdb -d scsi # /dev/sdb, SCSI device, open failed\n/dev/sda -d sat # /dev/sda [SAT], ATA device\n").value).toHaveLength(1);
  });
});
