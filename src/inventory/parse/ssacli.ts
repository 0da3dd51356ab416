/**
 * HPE ssacli (hpssacli, hpacucli) `ctrl all show config detail` and `ctrl all show config` → one
 * entry per Smart Array controller: model, slot's serial, firmware, PCI address and its logical
 * drives. A controller starts at an unindented "<model> in Slot <n>" line; its own fields are the
 * "Key: Value" lines at the first indentation under it (enclosures, arrays and drives further in
 * have serials and firmware of their own). Logical drives are either detail blocks
 * ("Logical Drive: 1" over Size / Fault Tolerance / Status) or the summary lines of plain
 * `show config` ("logicaldrive 1 (558.9 GB, RAID 1, OK)").
 *
 * Sizes: ssacli names binary multiples "GB"/"TB": the P440ar fixture's RAID 1 of two 1 TB
 * ST1000LM024 disks (10^12 bytes each) is "931.5 GB", i.e. 931.5 GiB. Read as powers of 1024,
 * to the digits ssacli prints.
 */
import type { Problem, VirtualDrive } from "../schema.js";
import { clean, sizeToBytes, type Parsed } from "./common.js";
import type { RaidToolController } from "./storcli.js";

/** ssacli's logical drive status words; "Recovering, 26% complete" is read by its first word. */
export function ssacliHealth(state: string | null): VirtualDrive["health"] {
  if (state === null) return null;
  if (/^ok$/i.test(state)) return "ok";
  if (/^(interim recovery mode|recovering|degraded|ready for rebuild)\b/i.test(state)) return "degraded";
  if (/^failed\b/i.test(state)) return "failed";
  return null;
}

const HEADER = /^(\S.*?) in Slot \S+(.*)$/;
const SUMMARY = /^logicaldrive (\S+) \(([^,]+), ([^,]+), (.+)\)\s*$/;

const indentOf = (line: string) => line.length - line.trimStart().length;

/** "5" → "RAID 5", "1+0" → "RAID 1+0"; ssacli's own "RAID 1(ADM)" as it is. */
function raidLevel(faultTolerance: string | null): string | null {
  if (faultTolerance === null) return null;
  return /^raid\b/i.test(faultTolerance) ? faultTolerance : `RAID ${faultTolerance}`;
}

function logicalDrive(id: string, size: string | null, faultTolerance: string | null, status: string | null): VirtualDrive {
  const state = clean(status);
  return { id: `logicaldrive ${id}`, raid_level: raidLevel(clean(faultTolerance)), state, health: ssacliHealth(state), size_bytes: sizeToBytes(clean(size)) };
}

/** "Key: Value" of a line, or null; a colon inside parentheses is part of the key ("PCI Address (Domain:Bus:Device.Function): …"). */
function field(line: string): [string, string] | null {
  const match = /^\s*((?:[^:(]|\([^)]*\))+):(.*)$/.exec(line);
  return match ? [match[1]!.trim(), match[2]!.trim()] : null;
}

function parseController(lines: string[], header: string): RaidToolController {
  const [, model, rest] = HEADER.exec(header) ?? [];
  const fields = new Map<string, string>();
  const fieldIndent = indentOf(lines.find((line) => line.trim() !== "") ?? "");
  const drives: VirtualDrive[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const trimmed = line.trim();
    const kv = field(line);
    if (kv && indentOf(line) === fieldIndent && !fields.has(kv[0])) fields.set(kv[0], kv[1]);
    const summary = SUMMARY.exec(trimmed);
    if (summary) drives.push(logicalDrive(summary[1]!, summary[2]!, summary[3]!, summary[4]!));
    if (kv?.[0] !== "Logical Drive") continue;
    // A detail block: every deeper-indented line after "Logical Drive: N".
    const block = new Map<string, string>();
    for (let j = i + 1; j < lines.length && (lines[j]!.trim() === "" || indentOf(lines[j]!) > indentOf(line)); j++) {
      const inner = field(lines[j]!);
      if (inner && !block.has(inner[0])) block.set(inner[0], inner[1]);
    }
    drives.push(logicalDrive(kv[1], block.get("Size") ?? null, block.get("Fault Tolerance") ?? null, block.get("Status") ?? null));
  }
  const pci = /^([0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i.exec(fields.get("PCI Address (Domain:Bus:Device.Function)") ?? "");
  return {
    pci_address: pci ? (pci[1] ? pci[0].toLowerCase() : `0000:${pci[0].toLowerCase()}`) : null,
    model: clean(model),
    firmware_version: clean(fields.get("Firmware Version")),
    // Plain `show config` has the serial only on the header line: "... in Slot 0 (Embedded)   (sn: PDNLH0BRH8J1OH)".
    serial_number: clean(fields.get("Serial Number") ?? /\(sn: ([^)]+)\)/.exec(rest ?? "")?.[1]),
    tool: "ssacli",
    virtual_drives: drives,
  };
}

export function parseSsacli(text: string, source = "raw/workload/ssacli.out"): Parsed<RaidToolController[]> {
  const lines = text.replace(/\r/g, "").split("\n");
  const starts = lines.flatMap((line, index) => (HEADER.test(line) ? [index] : []));
  const controllers = starts.map((start, n) => parseController(lines.slice(start + 1, starts[n + 1] ?? lines.length), lines[start]!));
  // "Error: No controllers detected." and the like: ssacli's own words, as the error.
  const errors: Problem[] =
    controllers.length === 0
      ? [
          {
            source,
            message:
              text.trim() === "" ? "empty output" : `no "<model> in Slot <n>" controller line in ssacli output: "${text.trim().split("\n")[0]!.slice(0, 120)}"`,
          },
        ]
      : [];
  return { value: controllers, errors };
}
