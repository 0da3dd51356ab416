/**
 * The BMC's sensors as data, pure and tolerant (an unreadable line becomes an `errors` entry):
 *
 * - raw/ipmitool-sdr.txt, `ipmitool sdr elist`: `Name | id | status | entity | reading`
 *     `Power Supply 1   | 06h | ok  | 10.1 | 0 Watts, Presence detected, Failure detected`
 *   (`sdr list` prints three fields, `Name | reading | status`; both are read.) The status is
 *   ok / nc / cr / nr for threshold sensors, ns for "no reading"; a discrete sensor's reading lists
 *   the states that are set, comma separated.
 * - raw/ipmitool-sensor.txt, `ipmitool sensor`: `name | value | unit | status | lnr | lcr | lnc | unc | ucr | unr`
 *     `BPN-FAN2         | 13300.000  | RPM        | nc    | 500.000   | 400.000   | 300.000   | 13300.000 | 13400.000 | 13500.000`
 *   Thresholds are "na" when not set; a discrete sensor shows "0x0" as value, "discrete" as unit and
 *   its state bits ("0x0180") as status. ipmitool interleaves its own complaints ("Get SDR 0002 command failed").
 */
import { toNumber, type Parsed } from "./common.js";
import type { Problem } from "../schema.js";

export interface SdrEntry {
  name: string;
  /** The sensor number ("06h"); null in `sdr list` output. */
  sensor_id: string | null;
  /** ok, nc, cr, nr, ns, … as printed (lower case). */
  status: string | null;
  /** Entity id.instance ("10.1": entity 10 is a power supply), null in `sdr list` output. */
  entity: string | null;
  /** The reading as printed ("32 degrees C", "Presence detected, Failure detected"), null when empty. */
  reading: string | null;
  line: string;
}

export interface SensorThresholds {
  lnr: number | null;
  lcr: number | null;
  lnc: number | null;
  unc: number | null;
  ucr: number | null;
  unr: number | null;
}

export interface SensorReading {
  name: string;
  /** The numeric reading; null for "na" and for discrete sensors. */
  value: number | null;
  /** "degrees C", "RPM", "Volts", "Watts", "percent"; null when empty or "discrete". */
  unit: string | null;
  discrete: boolean;
  /** ok / nc / cr / nr / na for threshold sensors; the state bits ("0x0180") of a discrete one. */
  status: string | null;
  thresholds: SensorThresholds;
  line: string;
}

const clean = (line: string) => line.replace(/\r$/, "").replace(/\s+$/, "");
/**
 * What ipmitool 1.8.19 prints on stdout (exit 0) when the BMC has no sensor records, as the lab's
 * ipmi_sim (no SDRs) answers `sdr elist` and `sensor`: reported once as "no sensor records".
 */
const NO_RECORDS = /^(SDRR successfully erased|Err in cmd get sensor sdr info)$/;
const noRecords = (source: string, lines: string[]): Problem[] =>
  lines.length === 0 ? [] : [{ source, message: `the BMC gave no sensor records (ipmitool: ${lines.join(" / ")})` }];
const orNull = (field: string | undefined) => (field === undefined || field === "" ? null : field);

/**
 * The walk both listings share: every non-blank line split at "|" and handed to `row`, which returns
 * the record or undefined ("not a <what>", an `errors` entry naming the line); ipmitool's "no sensor
 * records" lines are gathered and reported once.
 */
function walkPipeListing<T>(text: string, source: string, what: string, row: (fields: string[], line: string) => T | undefined): Parsed<T[]> {
  const records: T[] = [];
  const errors: Problem[] = [];
  const noise: string[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = clean(raw);
    if (line.trim() === "") return;
    if (NO_RECORDS.test(line.trim())) return void noise.push(line.trim());
    const record = row(
      line.split("|").map((field) => field.trim()),
      line,
    );
    if (record === undefined) errors.push({ source, message: `line ${index + 1} is not a ${what}: ${JSON.stringify(line.slice(0, 120))}` });
    else records.push(record);
  });
  return { value: records, errors: [...noRecords(source, noise), ...errors] };
}

export function parseIpmiSdr(text: string, source = "raw/ipmitool-sdr.txt"): Parsed<SdrEntry[]> {
  return walkPipeListing(text, source, "sensor record", (fields, line): SdrEntry | undefined => {
    if (fields.length >= 5 && /^[0-9a-f]+h$/i.test(fields[1]!)) {
      return {
        name: fields[0]!,
        sensor_id: fields[1]!,
        status: orNull(fields[2]!.toLowerCase()),
        entity: orNull(fields[3]),
        reading: orNull(fields.slice(4).join(" | ").trim()),
        line,
      };
    }
    if (fields.length === 3 && fields[0] !== "") {
      return { name: fields[0]!, sensor_id: null, status: orNull(fields[2]!.toLowerCase()), entity: null, reading: orNull(fields[1]), line };
    }
    return undefined;
  });
}

export function parseIpmiSensor(text: string, source = "raw/ipmitool-sensor.txt"): Parsed<SensorReading[]> {
  return walkPipeListing(text, source, "sensor reading", (fields, line): SensorReading | undefined => {
    if (fields.length !== 10 || fields[0] === "") return undefined;
    const [name, value, unit, status, lnr, lcr, lnc, unc, ucr, unr] = fields as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const discrete = unit.toLowerCase() === "discrete";
    return {
      name,
      value: discrete ? null : toNumber(value),
      unit: discrete ? null : orNull(unit),
      discrete,
      status: status === "" || status.toLowerCase() === "na" ? null : status.toLowerCase(),
      thresholds: { lnr: toNumber(lnr), lcr: toNumber(lcr), lnc: toNumber(lnc), unc: toNumber(unc), ucr: toNumber(ucr), unr: toNumber(unr) },
      line,
    };
  });
}
