/**
 * smartctl on real outputs of other tools' formats (test/fixtures/inventory/real/smart/SOURCES.md):
 * `smartctl -x` text of a SATA HDD, a SATA SSD and an NVMe drive (linuxhw/SMART), and smartctl JSON
 * of a failed disk, a disk behind a MegaRAID controller, SAS and a failed NVMe (scrutiny's test data).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { INVENTORY_FIXTURES } from "../../../test/fixtures/inventory/fixtures.js";
import { parseSmartctl } from "./smartctl.js";

const DIR = join(INVENTORY_FIXTURES, "real/smart");
const files = readdirSync(DIR)
  .filter((name) => name !== "SOURCES.md")
  .sort();
const parse = (name: string) => parseSmartctl(readFileSync(join(DIR, name), "utf8"), `raw/${name}`);

describe("smartctl on real outputs", () => {
  it("reads every real fixture (text and JSON) without an error, as a whole-result snapshot", async () => {
    expect(files.length).toBeGreaterThanOrEqual(7);
    const results = files.map((name) => ({ name, ...parse(name) }));
    // scrutiny's smart-fail.json is smartctl failing to open the device (exit status 2): an error, no value.
    for (const result of results) expect(result.errors.length, result.name).toBe(result.name === "scrutiny-smart-fail.json" ? 1 : 0);
    await expect(`${JSON.stringify(results, null, 2)}\n`).toMatchFileSnapshot("__snapshots__/smartctl-real.json");
  });

  it("reads smartctl -x text: identity, capacity, rotation and protocol per drive kind", () => {
    expect(parse("hgst-hts541010a9e632.sata-hdd.smartctl-x.txt").value).toMatchObject({
      model: "APPLE HDD HTS541010A9E632",
      size_bytes: 1_000_204_886_016,
      rotation_rate: 5400,
      protocol: "ATA",
      smart_passed: true,
    });
    expect(parse("hpe-lk0800geymu.sata-ssd.smartctl-x.txt").value).toMatchObject({ rotation_rate: 0, protocol: "ATA", size_bytes: 800_166_076_416 });
    expect(parse("samsung-980-pro-1tb.nvme.smartctl-x.txt").value).toMatchObject({
      model: "Samsung 980 PRO 1TB",
      protocol: "NVMe",
      size_bytes: 1_000_204_886_016,
    });
  });

  it("reads an ATA drive whose report says FAILED! as smart_passed false, its identity still read (Seagate ST910021AS, smartctl -a)", () => {
    const { value, errors } = parse("seagate-st910021as.sata-hdd-failed.smartctl-a.txt");
    expect(errors).toEqual([]);
    expect(value).toMatchObject({
      model: "ST910021AS",
      serial: "3MH05H05",
      firmware_version: "3.07",
      size_bytes: 100_030_242_816,
      protocol: "ATA",
      smart_passed: false,
    });
  });

  it("a device smartctl could not open is an error with smartctl's own message, not a disk", () => {
    const { value, errors } = parse("scrutiny-smart-fail.json");
    expect(value).toBeNull();
    expect(errors[0]!.message).toMatch(/^smartctl could not read the device \(exit status 2\): Smartctl open device: \/dev\/sda failed/);
  });

  it("reads a disk behind a MegaRAID controller (smartctl -d megaraid,0 JSON, exit status 4 is not a read failure)", () => {
    expect(parse("scrutiny-smart-megaraid0.json").errors).toEqual([]);
    expect(parse("scrutiny-smart-megaraid0.json").value).not.toBeNull();
  });

  it("text that is no smartctl output is an error", () => {
    expect(parseSmartctl("lspci: command not found\n", "raw/smartctl.sda.txt").errors).toHaveLength(1);
  });
});
