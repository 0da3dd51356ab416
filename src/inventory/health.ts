/**
 * Hardware health: what is broken, from what the BMC logged and reads now, SMART and EDAC
 * (docs/inventory.md "Health"). Pure: parsed outputs in, findings out.
 *
 * - The event log (`ipmitool sel elist`) is history: each rule below names a sensor type and an
 *   event text (ipmitool's own spelling, IPMI 2.0 table 42-3). Repeats of one sensor+event become one
 *   finding with their count and the last time. An event whose last record is "Deasserted" ended,
 *   but it happened: it stays a finding, at most a warning.
 * - The sensors (`ipmitool sensor`, `ipmitool sdr elist`) are the state now: a threshold sensor at
 *   nc is a warning, at cr or nr critical; a discrete sensor's set states go through the same rules
 *   as the event log. A threshold sensor `ipmitool sensor` read is not reported again from the SDR.
 * - SMART overall-health FAILED → disk critical; EDAC uncorrected errors > 0 → memory critical.
 */
import type { EdacTotals } from "./parse/edac.js";
import type { SdrEntry, SensorReading } from "./parse/ipmitool-sdr.js";
import type { SelEntry } from "./parse/ipmitool-sel.js";
import type { Disk, Finding, PowerSupply } from "./schema.js";

export const SEL_SOURCE = "raw/ipmitool-sel.txt";
export const SDR_SOURCE = "raw/ipmitool-sdr.txt";
export const SENSOR_SOURCE = "raw/ipmitool-sensor.txt";

type Category = Finding["category"];
type Severity = Finding["severity"];

interface Rule {
  /** Tested against the event text (SEL) or one set state of a discrete sensor (SDR). */
  match: RegExp;
  /** The sensor types it applies to; every type when absent. */
  types?: string[];
  /** A fixed category, or one from the sensor type. */
  category: Category | ((type: string | null) => Category);
  severity: Severity;
  what: string;
}

const THRESHOLD_TYPES = ["Fan", "Temperature", "Voltage", "Current"];
const byType = (type: string | null): Category =>
  type === "Fan" || type === "Cooling Device"
    ? "fan"
    : type === "Temperature"
      ? "temperature"
      : type === "Voltage" || type === "Current"
        ? "voltage"
        : type === "Power Supply" || type === "Power Unit"
          ? "power"
          : type === "Memory"
            ? "memory"
            : type === "Drive Slot / Bay"
              ? "disk"
              : type === "Processor"
                ? "processor"
                : "other";

/** In order: the first that matches decides (the logging-limit rule comes before plain correctable ECC). */
const RULES: Rule[] = [
  { match: /^uncorrectable ecc\b/i, category: "memory", severity: "critical", what: "uncorrectable ECC memory error" },
  { match: /^correctable ecc logging limit reached/i, category: "memory", severity: "warning", what: "correctable ECC logging limit reached" },
  { match: /^correctable ecc\b/i, category: "memory", severity: "warning", what: "correctable ECC memory error" },
  { match: /^(parity|memory scrub failed|memory device disabled)$/i, types: ["Memory"], category: "memory", severity: "critical", what: "memory failure" },
  { match: /uncorrectable machine check/i, category: "processor", severity: "critical", what: "uncorrectable machine check" },
  { match: /^(ierr|thermal trip|frb\d\/bist failure)$/i, types: ["Processor"], category: "processor", severity: "critical", what: "processor failure" },
  { match: /^correctable machine check/i, category: "processor", severity: "warning", what: "correctable machine check" },
  { match: /^(power supply )?failure detected$/i, types: ["Power Supply"], category: "power", severity: "critical", what: "power supply failure" },
  {
    match: /^(power supply ac lost|ac lost or out-of-range|ac out-of-range, but present)$/i,
    types: ["Power Supply"],
    category: "power",
    severity: "critical",
    what: "power supply lost its AC input",
  },
  { match: /^predictive failure$/i, types: ["Power Supply"], category: "power", severity: "warning", what: "power supply predictive failure" },
  { match: /^(drive fault|in failed array)$/i, category: "disk", severity: "critical", what: "drive fault" },
  {
    match: /^(predictive failure|in critical array)$/i,
    types: ["Drive Slot / Bay"],
    category: "disk",
    severity: "warning",
    what: "drive predictive failure or degraded array",
  },
  { match: /^non-redundant: insufficient resources$/i, category: byType, severity: "critical", what: "redundancy lost, insufficient resources" },
  { match: /^(redundancy lost|redundancy degraded.*|non-redundant: sufficient from .*)$/i, category: byType, severity: "warning", what: "redundancy lost" },
  {
    match: /^(lower|upper) (critical|non-recoverable) going (low|high)$|^transition to (critical|non-recoverable)/i,
    types: THRESHOLD_TYPES,
    category: byType,
    severity: "critical",
    what: "critical threshold crossed",
  },
  {
    match: /^(lower|upper) non-critical going (low|high)$|^transition to non-critical/i,
    types: THRESHOLD_TYPES,
    category: byType,
    severity: "warning",
    what: "non-critical threshold crossed",
  },
  {
    match: /^(bus uncorrectable error|bus fatal error|pci serr)$/i,
    types: ["Critical Interrupt"],
    category: "other",
    severity: "critical",
    what: "uncorrectable bus error",
  },
];

function ruleFor(type: string | null, text: string): Rule | undefined {
  return RULES.find((rule) => rule.match.test(text.trim()) && (rule.types === undefined || (type !== null && rule.types.includes(type))));
}

const categoryOf = (rule: Rule, type: string | null): Category => (typeof rule.category === "function" ? rule.category(type) : rule.category);
const cut = (text: string) => (text.length > 300 ? `${text.slice(0, 299)}…` : text);

function selFindings(entries: SelEntry[]): Finding[] {
  const groups = new Map<string, SelEntry[]>();
  for (const entry of entries) {
    const key = `${entry.sensor}\u0000${entry.event.toLowerCase()}`;
    groups.set(key, [...(groups.get(key) ?? []), entry]);
  }
  const findings: Finding[] = [];
  for (const group of groups.values()) {
    const first = group[0]!;
    const last = group[group.length - 1]!;
    const rule = ruleFor(first.sensor_type, first.event);
    if (!rule) continue;
    const ended = last.direction === "deasserted";
    const count = group.length;
    findings.push({
      category: categoryOf(rule, first.sensor_type),
      severity: ended ? "warning" : rule.severity,
      component: first.sensor_name,
      message: `${rule.what}: ${first.event} on ${first.sensor}${count > 1 ? ` (${count} records)` : ""}${ended ? ", deasserted since" : ""}`,
      source: SEL_SOURCE,
      evidence: cut(count > 1 ? `${first.line}\n${last.line}` : first.line),
      at: [...group].reverse().find((entry) => entry.at !== null)?.at ?? null,
    });
  }
  return findings;
}

const LEVEL: Record<string, { severity: Severity; word: string } | undefined> = {
  nc: { severity: "warning", word: "non-critical" },
  cr: { severity: "critical", word: "critical" },
  nr: { severity: "critical", word: "non-recoverable" },
};

function categoryOfReading(name: string, unit: string | null): Category {
  if (unit && /degrees/i.test(unit)) return "temperature";
  if (unit && /rpm/i.test(unit)) return "fan";
  if (unit && /volts|amps/i.test(unit)) return "voltage";
  if (/fan/i.test(name)) return "fan";
  if (/temp/i.test(name)) return "temperature";
  if (/\bps\d|psu|power supply|pwr/i.test(name)) return "power";
  return "other";
}

function sensorFindings(readings: SensorReading[]): Finding[] {
  const findings: Finding[] = [];
  for (const reading of readings) {
    const level = reading.discrete || reading.status === null ? undefined : LEVEL[reading.status];
    if (!level) continue;
    const { value, thresholds: t } = reading;
    const key = reading.status as "nc" | "cr" | "nr";
    const low = { nc: t.lnc, cr: t.lcr, nr: t.lnr }[key];
    const high = { nc: t.unc, cr: t.ucr, nr: t.unr }[key];
    const crossed =
      value !== null && low !== null && value <= low
        ? `, at or below the lower ${level.word} threshold ${low}`
        : value !== null && high !== null && value >= high
          ? `, at or above the upper ${level.word} threshold ${high}`
          : "";
    findings.push({
      category: categoryOfReading(reading.name, reading.unit),
      severity: level.severity,
      component: reading.name,
      message: `${reading.name} reads ${value ?? "no value"}${reading.unit ? ` ${reading.unit}` : ""}: ${level.word}${crossed}`,
      source: SENSOR_SOURCE,
      evidence: cut(reading.line),
      at: null,
    });
  }
  return findings;
}

/** The sensor type a discrete SDR record stands for, from its entity id (IPMI 2.0 table 43-13) or else its name. */
function typeOfRecord(entry: SdrEntry): string | null {
  const entity = Number(entry.entity?.split(".")[0]);
  const byEntity: Record<number, string> = {
    3: "Processor",
    4: "Drive Slot / Bay",
    8: "Memory",
    10: "Power Supply",
    26: "Drive Slot / Bay",
    29: "Fan",
    32: "Memory",
  };
  if (byEntity[entity]) return byEntity[entity];
  if (/power supply|\bps\s?\d|psu/i.test(entry.name)) return "Power Supply";
  if (/fan/i.test(entry.name)) return "Fan";
  if (/memory|dimm/i.test(entry.name)) return "Memory";
  if (/drive|disk|hdd|bay/i.test(entry.name)) return "Drive Slot / Bay";
  if (/cpu|proc/i.test(entry.name)) return "Processor";
  return null;
}

function sdrFindings(entries: SdrEntry[], readByIpmitoolSensor: Set<string>): Finding[] {
  const findings: Finding[] = [];
  for (const entry of entries) {
    const level = entry.status === null ? undefined : LEVEL[entry.status];
    const unit = /^-?[\d.]+\s+(.+)$/.exec(entry.reading ?? "")?.[1] ?? null;
    if (level && !readByIpmitoolSensor.has(entry.name)) {
      findings.push({
        category: categoryOfReading(entry.name, unit),
        severity: level.severity,
        component: entry.name,
        message: `${entry.name} reads ${entry.reading ?? "no value"}: ${level.word}`,
        source: SDR_SOURCE,
        evidence: cut(entry.line),
        at: null,
      });
      continue;
    }
    if (level) continue;
    // A discrete sensor: its reading lists the states that are set.
    const type = typeOfRecord(entry);
    const states = (entry.reading ?? "").split(",").map((state) => state.trim());
    const matched = states
      .map((state) => ({ state, rule: ruleFor(type, state) }))
      .filter((hit): hit is { state: string; rule: Rule } => hit.rule !== undefined)
      .sort((a, b) => (a.rule.severity === b.rule.severity ? RULES.indexOf(a.rule) - RULES.indexOf(b.rule) : a.rule.severity === "critical" ? -1 : 1));
    const hit = matched[0];
    if (!hit) continue;
    findings.push({
      category: categoryOf(hit.rule, type),
      severity: hit.rule.severity,
      component: entry.name,
      message: `${hit.rule.what}: ${entry.name} reports ${matched.map((m) => m.state).join(", ")}`,
      source: SDR_SOURCE,
      evidence: cut(entry.line),
      at: null,
    });
  }
  return findings;
}

export interface HealthInput {
  sel: SelEntry[] | null;
  sdr: SdrEntry[] | null;
  sensors: SensorReading[] | null;
  disks: Pick<Disk, "name" | "smart_passed">[];
  /**
   * Disk name → the smartctl file its health was read from and the line that said so (a text
   * report's health line); without one, raw/smartctl.<disk>.json and its smart_status field.
   */
  smartSources?: Map<string, { source: string; evidence: string | null }>;
  edac: EdacTotals | null;
}

const SEVERITY_ORDER: Record<Severity, number> = { critical: 0, warning: 1 };

/** Every finding, critical first (then by category and component; the sources' order otherwise kept). */
export function healthFindings(input: HealthInput): Finding[] {
  const findings: Finding[] = [
    ...selFindings(input.sel ?? []),
    ...sensorFindings(input.sensors ?? []),
    ...sdrFindings(input.sdr ?? [], new Set((input.sensors ?? []).filter((reading) => !reading.discrete).map((reading) => reading.name))),
  ];
  for (const disk of input.disks) {
    if (disk.smart_passed !== false) continue;
    findings.push({
      category: "disk",
      severity: "critical",
      component: disk.name,
      message: `${disk.name}: SMART overall-health self-assessment FAILED`,
      source: input.smartSources?.get(disk.name)?.source ?? `raw/smartctl.${disk.name.replace(/\//g, "!")}.json`,
      evidence: input.smartSources?.get(disk.name)?.evidence ?? "smart_status.passed: false",
      at: null,
    });
  }
  const uncorrected = input.edac?.uncorrectable_errors ?? null;
  if (uncorrected !== null && uncorrected > 0) {
    findings.push({
      category: "memory",
      severity: "critical",
      component: null,
      message: `EDAC counted ${uncorrected} uncorrected memory error${uncorrected === 1 ? "" : "s"} since boot`,
      source: "raw/edac.json",
      evidence: `ue_count total ${uncorrected}`,
      at: null,
    });
  }
  return findings
    .map((finding, index) => ({ finding, index }))
    .sort(
      (a, b) =>
        SEVERITY_ORDER[a.finding.severity] - SEVERITY_ORDER[b.finding.severity] || a.finding.category.localeCompare(b.finding.category) || a.index - b.index,
    )
    .map(({ finding }) => finding);
}

const PSU_STATE = /presence detected|failure detected|ac lost|out-of-range|predictive failure|absent|config error/i;

/** The power supplies the BMC's discrete Power Supply records describe (not redundancy or watt sensors). */
export function ipmiPowerSupplies(sdr: SdrEntry[]): PowerSupply[] {
  return sdr
    .filter((entry) => typeOfRecord(entry) === "Power Supply" && PSU_STATE.test(entry.reading ?? ""))
    .map((entry): PowerSupply => {
      const reading = entry.reading ?? "";
      const status = /failure detected|ac lost|out-of-range|predictive failure/i.test(reading)
        ? "failed"
        : /absent/i.test(reading)
          ? "absent"
          : /presence detected/i.test(reading)
            ? "ok"
            : null;
      return { name: entry.name, manufacturer: null, model: null, serial_number: null, max_power_w: null, status, source: "ipmi" };
    });
}

const squash = (name: string | null) => (name ?? "").toLowerCase().replace(/[^a-z0-9]/g, "");
const unitNumber = (name: string | null) => /(\d+)/.exec(name ?? "")?.[1] ?? null;

/**
 * SMBIOS units first, as they are; an IPMI unit is the same unit as an SMBIOS one with the same
 * name (case, blanks and punctuation ignored) or else the same unit number ("PS1 Status" ↔ "PSU1");
 * it then only fills the SMBIOS entry's status when that is null. IPMI units matching none are added.
 */
export function mergePowerSupplies(smbios: PowerSupply[], ipmi: PowerSupply[]): PowerSupply[] {
  const merged = smbios.map((unit) => ({ ...unit }));
  const taken = new Set<number>();
  for (const unit of ipmi) {
    let at = merged.findIndex((candidate, index) => !taken.has(index) && squash(candidate.name) !== "" && squash(candidate.name) === squash(unit.name));
    if (at === -1 && unitNumber(unit.name) !== null) {
      at = merged.findIndex((candidate, index) => !taken.has(index) && index < smbios.length && unitNumber(candidate.name) === unitNumber(unit.name));
    }
    if (at === -1 || at >= smbios.length) {
      merged.push({ ...unit });
      continue;
    }
    taken.add(at);
    if (merged[at]!.status === null) merged[at]!.status = unit.status;
  }
  return merged;
}
