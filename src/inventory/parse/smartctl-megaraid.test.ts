/**
 * parseSmartctl on a disk read through a MegaRAID controller (`smartctl -a -j -d megaraid,1`,
 * scrutiny's test data; test/fixtures/inventory/real/storage/SOURCES.md): the way the agent reads
 * the disks `smartctl --scan-open` lists behind a RAID controller.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { INVENTORY_FIXTURES } from "../../../test/fixtures/inventory/fixtures.js";
import { parseSmartctl } from "./smartctl.js";

const text = readFileSync(join(INVENTORY_FIXTURES, "real/storage/scrutiny-smart-megaraid1.json"), "utf8");

describe("smartctl JSON of a disk behind a MegaRAID (-d megaraid,1)", () => {
  it("is the member disk's identity and health, and exit status 4 (a SMART attribute warning) is no read failure", () => {
    expect(JSON.parse(text).smartctl.exit_status).toBe(4);
    // (scrutiny redacted the serial to X's; it is not asserted.)
    expect(parseSmartctl(text, "raw/smartctl.bus0-megaraid1.json")).toMatchObject({
      value: {
        model: "WD4000FYYX",
        vendor: null,
        wwn: "0x50014ee2b6578d5f",
        firmware_version: "00.0D1K4",
        size_bytes: 4_000_787_030_016,
        rotation_rate: 7200,
        protocol: "ATA",
        smart_passed: true,
      },
      errors: [],
    });
  });
});
