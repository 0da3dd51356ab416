/**
 * `ipmitool sel elist` / `sdr elist` / `sensor` parsers on real outputs (test/fixtures/inventory/real/ipmi,
 * SOURCES.md says where each came from). Full-text snapshots of the parsed result.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseIpmiSdr, parseIpmiSensor } from "./ipmitool-sdr.js";
import { parseIpmiSel, selTimeToIso, splitSensorField } from "./ipmitool-sel.js";

const DIR = join(import.meta.dirname, "../../../test/fixtures/inventory/real/ipmi");
const files = (pattern: RegExp) =>
  readdirSync(DIR)
    .filter((name) => pattern.test(name))
    .sort();
const text = (name: string) => readFileSync(join(DIR, name), "utf8");

describe("parseIpmiSel on real event logs", () => {
  it.each(files(/\.sel-e?list\.txt$/))("%s", (name) => {
    const parsed = parseIpmiSel(text(name));
    expect(parsed.errors).toEqual([]);
    expect(parsed.value.length).toBe(
      text(name)
        .split("\n")
        .filter((line) => line.trim() !== "").length,
    );
    expect(JSON.stringify(parsed, null, 2)).toMatchSnapshot();
  });
});

describe("parseIpmiSdr on real sensor listings", () => {
  it.each(files(/\.sdr-(e?list|list-full|elist-full)\.txt$/).filter((name) => !name.startsWith("ipmi-sim")))("%s", (name) => {
    const parsed = parseIpmiSdr(text(name));
    expect(parsed.errors).toEqual([]);
    expect(JSON.stringify(parsed, null, 2)).toMatchSnapshot();
  });
});

describe("parseIpmiSensor on real `ipmitool sensor` outputs", () => {
  it.each(files(/\.sensor\.txt$/))("%s", (name) => {
    expect(JSON.stringify(parseIpmiSensor(text(name)), null, 2)).toMatchSnapshot();
  });

  it("reports ipmitool's own complaints between readings and keeps the readings (openbmc#3633 paste)", () => {
    const parsed = parseIpmiSensor(text("openbmc-3633.sensor.txt"));
    expect(parsed.value.map((reading) => reading.name)).toEqual(["fan1", "fan2", "fan3", "fan4"]);
    expect(parsed.errors.map((error) => error.message)).toEqual([
      'line 2 is not a sensor reading: "Get SDR 0002 command failed"',
      'line 4 is not a sensor reading: "Get SDR 0003 command failed"',
      'line 6 is not a sensor reading: "Get SDR 0004 command failed"',
    ]);
  });
});

describe("the lab's ipmi_sim (no sensor records, empty event log; ipmitool 1.8.19)", () => {
  it('an empty SEL file is no entries and no error (ipmitool says "SEL has no entries" on stderr)', () => {
    expect(parseIpmiSel(text("ipmi-sim.sel-elist.txt"))).toEqual({ value: [], errors: [] });
  });

  it("ipmitool's two stdout lines for a BMC without SDRs are one error, not two unreadable records", () => {
    const message = "the BMC gave no sensor records (ipmitool: SDRR successfully erased / Err in cmd get sensor sdr info)";
    expect(parseIpmiSdr(text("ipmi-sim.sdr-elist.txt"))).toEqual({ value: [], errors: [{ source: "raw/ipmitool-sdr.txt", message }] });
    expect(parseIpmiSensor(text("ipmi-sim.sensor.txt"))).toEqual({ value: [], errors: [{ source: "raw/ipmitool-sensor.txt", message }] });
  });
});

describe("SEL fields", () => {
  it("reads dates with two- and four-digit years, AM/PM and zones; a named zone is not an offset", () => {
    expect(selTimeToIso("03/11/2025", "16:34:51")).toBe("2025-03-11T16:34:51");
    expect(selTimeToIso("12/14/22", "23:09:44 CET")).toBe("2022-12-14T23:09:44");
    expect(selTimeToIso("02/25/2025", "04:50:09 PM EST")).toBe("2025-02-25T16:50:09");
    expect(selTimeToIso("02/25/2025", "12:10:00 AM")).toBe("2025-02-25T00:10:00");
    expect(selTimeToIso("09/28/2026", "14:23:09 UTC")).toBe("2026-09-28T14:23:09Z");
    expect(selTimeToIso("13/40/2025", "10:00:00")).toBeNull();
  });

  it("Pre-Init time stamps are null; an event holding a '|' and a threshold detail stay whole", () => {
    const parsed = parseIpmiSel(
      [
        "   e |  Pre-Init  |0000000093| System ACPI Power State #0xd5 | S0/G0: working | Asserted",
        "  34 | 02/25/2025 | 04:50:09 PM EST | Memory #0x02 | Uncorrectable ECC (UnCorrectable ECC |  DIMMD7) | Asserted",
        "   2 | 09/23/2026 | 14:03:40 | Fan FAN1 Tach | Lower Critical going low  | Asserted | Reading 0 < Threshold 1000 RPM",
        "fe3c | 04/10/2008 | 14:50:13 | Power Unit Power Redundancy | Fully Redundant",
        "SEL has no entries",
        "garbage",
      ].join("\n"),
    );
    expect(parsed.value.map(({ id, at, event, direction, detail }) => ({ id, at, event, direction, detail }))).toEqual([
      { id: "e", at: null, event: "S0/G0: working", direction: "asserted", detail: null },
      { id: "34", at: "2025-02-25T16:50:09", event: "Uncorrectable ECC (UnCorrectable ECC | DIMMD7)", direction: "asserted", detail: null },
      { id: "2", at: "2026-09-23T14:03:40", event: "Lower Critical going low", direction: "asserted", detail: "Reading 0 < Threshold 1000 RPM" },
      { id: "fe3c", at: "2008-04-10T14:50:13", event: "Fully Redundant", direction: null, detail: null },
    ]);
    expect(parsed.errors).toEqual([{ source: "raw/ipmitool-sel.txt", message: 'line 6 is not a SEL entry: "garbage"' }]);
  });

  it("splits the sensor field into ipmitool's type name and the sensor's own name", () => {
    expect(splitSensorField("Memory #0x08")).toEqual({ sensor_type: "Memory", sensor_name: null });
    expect(splitSensorField("Power Supply PSU1 PWR Detect")).toEqual({ sensor_type: "Power Supply", sensor_name: "PSU1 PWR Detect" });
    expect(splitSensorField("Drive Slot / Bay #0x42")).toEqual({ sensor_type: "Drive Slot / Bay", sensor_name: null });
    expect(splitSensorField("Power Unit PowerUnit")).toEqual({ sensor_type: "Power Unit", sensor_name: "PowerUnit" });
    expect(splitSensorField("Mystery 7")).toEqual({ sensor_type: null, sensor_name: "Mystery 7" });
  });
});
