/**
 * raw/ipmitool-sel.txt (`ipmitool sel elist`) → the BMC's event log as entries. Pure, never throws:
 * a line it cannot read becomes an `errors` entry and the rest is still returned.
 *
 * ipmitool prints one event a line, fields joined by " | ":
 *   `  54 | 03/11/2025 | 16:34:51 | Memory #0x08 | Uncorrectable ECC | Asserted`
 *   `  3a | 12/14/22 | 23:09:44 CET | Memory #0x88 | Correctable ECC (CPU0_G1) | Asserted`
 *   `   e |  Pre-Init  |0000000093| System ACPI Power State #0xd5 | S0/G0: working | Asserted`
 *   `   2 | 09/23/2026 | 14:03:40 | Fan FAN1 Tach | Lower Critical going low  | Asserted | Reading 0 < Threshold 1000 RPM`
 * The id is hex; the date is MM/DD/YYYY (MM/DD/YY on some builds), the time may carry a zone or
 * AM/PM (ipmitool 1.8.19 prints the BMC's time in the host's zone when TZ is set); "Pre-Init"
 * means the BMC's clock was not set yet (the time field is then seconds since the BMC started).
 * The sensor field is "<sensor type> <sensor name>" or "<sensor type> #0x<number>".
 * Some OEM texts hold a "|" inside the event ("Uncorrectable ECC (UnCorrectable ECC |  DIMMD7)"),
 * so the direction is found as the last "Asserted"/"Deasserted" field, not by position.
 */
import type { Parsed } from "./common.js";
import type { Problem } from "../schema.js";

export interface SelEntry {
  /** The record id as ipmitool printed it (hex, no 0x). */
  id: string;
  /** ISO 8601 local time of the BMC ("2025-03-11T16:34:51"; "Z" only when the line says UTC); null for Pre-Init or an unreadable date. */
  at: string | null;
  /** The sensor type ipmitool named ("Memory", "Power Supply"), null when the field starts with none it knows. */
  sensor_type: string | null;
  /** The rest of the sensor field: the sensor's name ("PSU1 PWR Detect"), null when only a number ("#0x08") is given. */
  sensor_name: string | null;
  /** The whole sensor field as printed ("Memory #0x08"). */
  sensor: string;
  /** The event text ("Uncorrectable ECC"), trimmed. */
  event: string;
  direction: "asserted" | "deasserted" | null;
  /** What follows the direction ("Reading 0 < Threshold 1000 RPM"), else null. */
  detail: string | null;
  /** The line as ipmitool printed it (trailing blanks removed). */
  line: string;
}

/** Sensor type names as ipmitool's sensor_type_desc table spells them (IPMI 2.0 table 42-3), longest first when matched. */
const SENSOR_TYPES = [
  "Temperature",
  "Voltage",
  "Current",
  "Fan",
  "Physical Security",
  "Platform Security",
  "Processor",
  "Power Supply",
  "Power Unit",
  "Cooling Device",
  "Other",
  "Memory",
  "Drive Slot / Bay",
  "POST Memory Resize",
  "System Firmwares",
  "System Firmware Progress",
  "Event Logging Disabled",
  "Watchdog1",
  "System Event",
  "Critical Interrupt",
  "Button",
  "Module / Board",
  "Microcontroller",
  "Add-in Card",
  "Chassis",
  "Chip Set",
  "Other FRU",
  "Cable / Interconnect",
  "Terminator",
  "System Boot Initiated",
  "Boot Error",
  "OS Boot",
  "OS Critical Stop",
  "Slot / Connector",
  "System ACPI Power State",
  "Watchdog2",
  "Platform Alert",
  "Entity Presence",
  "Monitor ASIC",
  "LAN",
  "Management Subsys Health",
  "Battery",
  "Session Audit",
  "Version Change",
  "FRU State",
  "Unknown",
].sort((a, b) => b.length - a.length);

/** Splits "Power Supply PSU1 PWR Detect" into its type and name. */
export function splitSensorField(sensor: string): { sensor_type: string | null; sensor_name: string | null } {
  for (const type of SENSOR_TYPES) {
    if (sensor === type) return { sensor_type: type, sensor_name: null };
    if (sensor.startsWith(`${type} `)) {
      const rest = sensor.slice(type.length + 1).trim();
      return { sensor_type: type, sensor_name: rest === "" || /^#0x[0-9a-f]+$/i.test(rest) ? null : rest };
    }
  }
  return { sensor_type: null, sensor_name: sensor === "" ? null : sensor };
}

/**
 * "03/11/2025" + "16:34:51" → "2025-03-11T16:34:51"; "04:50:09 PM EST" → 16:50:09 (the zone name is not an
 * offset recon can trust, so the time stays the BMC's local time); "UTC"/"GMT" → "Z". null when unreadable.
 */
export function selTimeToIso(date: string, time: string): string | null {
  const d = /^(\d{1,2})\/(\d{1,2})\/(\d{2}|\d{4})$/.exec(date.trim());
  const t = /^(\d{1,2}):(\d{2}):(\d{2})(?:\s+(AM|PM))?(?:\s+([A-Za-z][A-Za-z0-9+:-]*))?$/i.exec(time.trim());
  if (!d || !t) return null;
  const month = Number(d[1]);
  const day = Number(d[2]);
  const year = d[3]!.length === 2 ? 2000 + Number(d[3]) : Number(d[3]);
  let hour = Number(t[1]);
  const meridiem = t[4]?.toUpperCase();
  if (meridiem === "PM" && hour < 12) hour += 12;
  if (meridiem === "AM" && hour === 12) hour = 0;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || Number(t[2]) > 59 || Number(t[3]) > 60) return null;
  const pad = (n: number) => String(n).padStart(2, "0");
  const zone = t[5]?.toUpperCase();
  const suffix = zone === "UTC" || zone === "GMT" ? "Z" : "";
  return `${year}-${pad(month)}-${pad(day)}T${pad(hour)}:${t[2]}:${t[3]}${suffix}`;
}

const DIRECTION = /^(Asserted|Deasserted)$/i;

export function parseIpmiSel(text: string, source = "raw/ipmitool-sel.txt"): Parsed<SelEntry[]> {
  const entries: SelEntry[] = [];
  const errors: Problem[] = [];
  const lines = text.split("\n");
  lines.forEach((raw, index) => {
    const line = raw.replace(/\r$/, "").replace(/\s+$/, "");
    if (line.trim() === "" || /^SEL has no entries$/i.test(line.trim())) return;
    const fields = line.split("|").map((field) => field.trim());
    if (fields.length < 5 || !/^[0-9a-f]+$/i.test(fields[0]!)) {
      errors.push({ source, message: `line ${index + 1} is not a SEL entry: ${JSON.stringify(line.slice(0, 120))}` });
      return;
    }
    let directionAt = -1;
    for (let i = fields.length - 1; i >= 4; i--) {
      if (DIRECTION.test(fields[i]!)) {
        directionAt = i;
        break;
      }
    }
    const eventEnd = directionAt === -1 ? fields.length : directionAt;
    const sensor = fields[3]!;
    const [date, time] = [fields[1]!, fields[2]!];
    entries.push({
      id: fields[0]!.toLowerCase(),
      at: /pre-init/i.test(date) ? null : selTimeToIso(date, time),
      ...splitSensorField(sensor),
      sensor,
      event: fields.slice(4, eventEnd).join(" | ").trim(),
      direction: directionAt === -1 ? null : (fields[directionAt]!.toLowerCase() as "asserted" | "deasserted"),
      detail: directionAt === -1 || directionAt === fields.length - 1 ? null : fields.slice(directionAt + 1).join(" | ") || null,
      line,
    });
  });
  return { value: entries, errors };
}
