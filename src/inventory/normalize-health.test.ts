/**
 * Health in the normalized inventory: a captured machine's raw upload (vm-uefi-hpe, whose in-band BMC is
 * qemu's simulator with an empty event log) carrying the real event log and SDR of an HPE ProLiant
 * DL360 G7 and an Argon HPC node (test/fixtures/inventory/real/ipmi/SOURCES.md) as its raw/ipmitool-*.txt.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readFixtureFiles } from "../../test/fixtures/inventory/fixtures.js";
import { normalizeRaw } from "./normalize.js";

const REAL = join(import.meta.dirname, "../../test/fixtures/inventory/real/ipmi");
const upload = (extra: Record<string, string>) => {
  const files = readFixtureFiles("vm-uefi-hpe");
  for (const [key, name] of Object.entries(extra)) files.set(key, readFileSync(join(REAL, name)));
  return files;
};

describe("normalizeRaw: health findings and power supplies from the BMC", () => {
  it("puts the SEL's and SDR's faults in findings, critical first, and the SDR's power supplies in power_supplies", () => {
    const inventory = normalizeRaw(
      upload({ "raw/ipmitool-sel.txt": "argon-bx41-06.sel-elist.txt", "raw/ipmitool-sdr.txt": "hpe-dl360-g7.sdr-elist-full.txt" }),
    );
    expect(inventory.findings.map((f) => [f.severity, f.category, f.component, f.source, f.at])).toEqual([
      ["critical", "memory", null, "raw/ipmitool-sel.txt", "2025-03-11T16:34:51"],
      ["critical", "power", "Power Supply 1", "raw/ipmitool-sdr.txt", null],
      ["warning", "memory", "Memory", "raw/ipmitool-sdr.txt", null],
      ["warning", "power", "Power Supplies", "raw/ipmitool-sdr.txt", null],
    ]);
    expect(inventory.findings[0]!.evidence).toBe("  54 | 03/11/2025 | 16:34:51 | Memory #0x08 | Uncorrectable ECC | Asserted");
    expect(inventory.power_supplies.map((unit) => [unit.name, unit.status, unit.source])).toEqual([
      ["Power Supply 1", "failed", "ipmi"],
      ["Power Supply 2", "ok", "ipmi"],
    ]);
    expect(inventory.errors.filter((error) => error.source.startsWith("raw/ipmitool-s"))).toEqual([]);
  });

  it("a sensor file ipmitool interrupted with its own complaints: readings kept, each complaint an error entry", () => {
    const inventory = normalizeRaw(upload({ "raw/ipmitool-sensor.txt": "openbmc-3633.sensor.txt" }));
    expect(inventory.findings).toEqual([]);
    expect(inventory.errors.filter((error) => error.source === "raw/ipmitool-sensor.txt").map((error) => error.message)).toEqual([
      'line 2 is not a sensor reading: "Get SDR 0002 command failed"',
      'line 4 is not a sensor reading: "Get SDR 0003 command failed"',
      'line 6 is not a sensor reading: "Get SDR 0004 command failed"',
    ]);
  });

  it("without the health files nothing is found (the captured machine as it is)", () => {
    expect(normalizeRaw(readFixtureFiles("vm-uefi-hpe")).findings).toEqual([]);
  });
});
