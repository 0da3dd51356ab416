/**
 * Health findings from real BMC outputs (test/fixtures/inventory/real/ipmi, SOURCES.md). Each rule is
 * shown by the fixture that carries it; the full findings of every fixture are snapshotted.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { healthFindings, ipmiPowerSupplies, mergePowerSupplies, type HealthInput } from "./health.js";
import { parseIpmiSdr, parseIpmiSensor } from "./parse/ipmitool-sdr.js";
import { parseIpmiSel } from "./parse/ipmitool-sel.js";
import { parseSmartctl } from "./parse/smartctl.js";
import type { PowerSupply } from "./schema.js";

const DIR = join(import.meta.dirname, "../../test/fixtures/inventory/real/ipmi");
const text = (name: string) => readFileSync(join(DIR, name), "utf8");
const none: HealthInput = { sel: null, sdr: null, sensors: null, disks: [], edac: null };
const sel = (name: string) => healthFindings({ ...none, sel: parseIpmiSel(text(name)).value });
const sdr = (name: string) => healthFindings({ ...none, sdr: parseIpmiSdr(text(name)).value });
const sensors = (name: string) => healthFindings({ ...none, sensors: parseIpmiSensor(text(name)).value });
const brief = (findings: ReturnType<typeof healthFindings>) =>
  findings.map((f) => `${f.severity} ${f.category} ${f.component ?? "-"} @${f.at ?? "-"}: ${f.message}`);

describe("findings from the event log", () => {
  it("uncorrectable ECC → memory critical (argon-bx41-06)", () => {
    expect(brief(sel("argon-bx41-06.sel-elist.txt"))).toEqual([
      "critical memory - @2025-03-11T16:34:51: uncorrectable ECC memory error: Uncorrectable ECC on Memory #0x08",
    ]);
  });

  it("correctable ECC logging limit → memory warning, repeats become one finding with the count and the last time (HPE DL360 G7)", () => {
    const findings = sel("hpe-dl360-g7.sel-list.txt");
    expect(brief(findings)).toEqual([
      "warning memory - @2021-11-03T15:01:48: correctable ECC logging limit reached: Correctable ECC logging limit reached on Memory #0x2b (2 records)",
    ]);
    expect(findings[0]!.evidence).toBe(text("hpe-dl360-g7.sel-list.txt").trimEnd());
  });

  it("a single correctable ECC error → memory warning (Quanta T22HF; the DIMM in brackets is not trusted as the component, ipmitool#385)", () => {
    expect(brief(sel("quanta-t22hf.sel-elist.txt"))).toEqual([
      "warning memory - @2022-12-14T23:09:44: correctable ECC memory error: Correctable ECC (CPU0_G1) on Memory #0x88",
    ]);
  });

  it("power supply failure → power critical; a fan fault seen only deasserted is still a warning (argon-bx44-03)", () => {
    expect(brief(sel("argon-bx44-03.sel-elist.txt"))).toEqual([
      "critical power PSU1 PWR Detect @2025-03-01T10:30:57: power supply failure: Failure detected on Power Supply PSU1 PWR Detect",
      "warning fan PSU2 Slow FAN1 @2025-02-10T15:47:42: critical threshold crossed: Transition to Non-recoverable on Fan PSU2 Slow FAN1, deasserted since",
    ]);
  });

  it("AC lost that later deasserted → power warning, fan non-recoverable that deasserted → fan warning (argon-bx43-01)", () => {
    expect(brief(sel("argon-bx43-01.sel-elist.txt"))).toEqual([
      "warning fan PSU1 Slow FAN1 @2025-03-09T17:57:42: critical threshold crossed: Transition to Non-recoverable on Fan PSU1 Slow FAN1 (2 records), deasserted since",
      "warning power PSU1 AC Lost @2025-03-06T19:00:55: power supply lost its AC input: Power Supply AC lost on Power Supply PSU1 AC Lost (2 records), deasserted since",
    ]);
  });

  it("uncorrectable machine check → processor critical, four records one finding (FBOSS OpenBMC)", () => {
    expect(brief(sel("fboss-openbmc.sel-list.txt"))).toEqual([
      "critical processor - @2026-05-14T20:45:02: uncorrectable machine check: Uncorrectable machine check exception on Processor #0x40 (4 records)",
    ]);
  });
});

describe("findings from the sensors", () => {
  it("fans at cr in `sdr list` → fan critical (Dell R320, two dead fans)", () => {
    expect(brief(sdr("dell-r320.sdr-list-full.txt"))).toEqual([
      "critical fan Fan3B @-: Fan3B reads 0 RPM: critical",
      "critical fan Fan4B @-: Fan4B reads 0 RPM: critical",
    ]);
  });

  it("discrete states: PSU failure detected (status ok!), redundancy lost, ECC logging limit (HPE DL360 G7 `sdr elist full`)", () => {
    expect(brief(sdr("hpe-dl360-g7.sdr-elist-full.txt"))).toEqual([
      "critical power Power Supply 1 @-: power supply failure: Power Supply 1 reports Failure detected",
      "warning memory Memory @-: correctable ECC logging limit reached: Memory reports Correctable ECC logging limit reached, Correctable ECC",
      "warning power Power Supplies @-: redundancy lost: Power Supplies reports Non-Redundant: Sufficient from Redundant",
    ]);
  });

  it("a threshold sensor at nc → warning with the threshold it sits on (Supermicro BPN-FAN2)", () => {
    expect(brief(sensors("supermicro-bpn-fan2.sensor.txt"))).toEqual([
      "warning fan BPN-FAN2 @-: BPN-FAN2 reads 13300 RPM: non-critical, at or above the upper non-critical threshold 13300",
    ]);
  });

  it("all-ok sensors give nothing (openbmc#3633 paste)", () => {
    expect(sensors("openbmc-3633.sensor.txt")).toEqual([]);
  });

  it("a threshold sensor `ipmitool sensor` read is not reported a second time from the SDR", () => {
    const sdrText = "BPN-FAN2         | 41h | nc  | 29.2 | 13300 RPM";
    const both = healthFindings({ ...none, sdr: parseIpmiSdr(sdrText).value, sensors: parseIpmiSensor(text("supermicro-bpn-fan2.sensor.txt")).value });
    expect(both.map((f) => f.source)).toEqual(["raw/ipmitool-sensor.txt"]);
  });
});

describe("findings from SMART and EDAC", () => {
  it("a disk whose SMART self-assessment failed → disk critical; passed or unknown → nothing", () => {
    const findings = healthFindings({
      ...none,
      disks: [
        { name: "sda", smart_passed: false },
        { name: "sdb", smart_passed: true },
        { name: "nvme0n1", smart_passed: null },
      ],
    });
    expect(brief(findings)).toEqual(["critical disk sda @-: sda: SMART overall-health self-assessment FAILED"]);
    expect(findings[0]!.source).toBe("raw/smartctl.sda.json");
  });

  it("a real smartctl -a report saying FAILED! → disk critical (Seagate ST910021AS, test/fixtures/inventory/real/smart)", () => {
    const name = "seagate-st910021as.sata-hdd-failed.smartctl-a.txt";
    const report = parseSmartctl(readFileSync(join(DIR, "../smart", name), "utf8"), "raw/smartctl.sda.txt").value;
    expect(brief(healthFindings({ ...none, disks: [{ name: "sda", smart_passed: report?.smart_passed ?? null }] }))).toEqual([
      "critical disk sda @-: sda: SMART overall-health self-assessment FAILED",
    ]);
  });

  it("EDAC uncorrected errors > 0 → memory critical; 0 or null → nothing", () => {
    expect(brief(healthFindings({ ...none, edac: { correctable_errors: 12, uncorrectable_errors: 2 } }))).toEqual([
      "critical memory - @-: EDAC counted 2 uncorrected memory errors since boot",
    ]);
    expect(healthFindings({ ...none, edac: { correctable_errors: 12, uncorrectable_errors: 0 } })).toEqual([]);
    expect(healthFindings({ ...none, edac: { correctable_errors: null, uncorrectable_errors: null } })).toEqual([]);
  });

  it("sorts critical first across sources", () => {
    const findings = healthFindings({
      ...none,
      sel: parseIpmiSel(text("hpe-dl360-g7.sel-list.txt")).value,
      disks: [{ name: "sda", smart_passed: false }],
    });
    expect(findings.map((f) => f.severity)).toEqual(["critical", "warning"]);
  });
});

describe("every fixture's findings, whole", () => {
  it.each(
    readdirSync(DIR)
      .filter((name) => name.endsWith(".txt"))
      .sort(),
  )("%s", (name) => {
    const input: HealthInput = name.includes(".sel-")
      ? { ...none, sel: parseIpmiSel(text(name)).value }
      : name.includes(".sdr-")
        ? { ...none, sdr: parseIpmiSdr(text(name)).value }
        : { ...none, sensors: parseIpmiSensor(text(name)).value };
    expect(JSON.stringify(healthFindings(input), null, 2)).toMatchSnapshot();
  });
});

describe("power supplies from the BMC", () => {
  const smbios = (name: string | null, status: PowerSupply["status"]): PowerSupply => ({
    name,
    manufacturer: "HP",
    model: "503296-B21",
    serial_number: null,
    max_power_w: 460,
    status,
    source: "smbios",
  });

  it("discrete Power Supply records become units; redundancy and watt sensors do not (HPE DL360 G7)", () => {
    expect(ipmiPowerSupplies(parseIpmiSdr(text("hpe-dl360-g7.sdr-elist-full.txt")).value)).toEqual([
      { name: "Power Supply 1", manufacturer: null, model: null, serial_number: null, max_power_w: null, status: "failed", source: "ipmi" },
      { name: "Power Supply 2", manufacturer: null, model: null, serial_number: null, max_power_w: null, status: "ok", source: "ipmi" },
    ]);
  });

  it("merge: an SMBIOS unit of the same name or number keeps its data and only gains a missing status; the rest is added", () => {
    const ipmi = ipmiPowerSupplies(parseIpmiSdr(text("hpe-dl360-g7.sdr-elist-full.txt")).value);
    const merged = mergePowerSupplies([smbios("PSU1", null), smbios("Power Supply 2", "failed")], ipmi);
    expect(merged.map((unit) => [unit.name, unit.status, unit.source, unit.max_power_w])).toEqual([
      ["PSU1", "failed", "smbios", 460],
      ["Power Supply 2", "failed", "smbios", 460],
    ]);
    expect(mergePowerSupplies([smbios(null, null)], ipmi).map((unit) => [unit.name, unit.source])).toEqual([
      [null, "smbios"],
      ["Power Supply 1", "ipmi"],
      ["Power Supply 2", "ipmi"],
    ]);
    expect(mergePowerSupplies([], [])).toEqual([]);
  });
});
