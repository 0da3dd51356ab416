/**
 * smartctl → identity and health, from either of its output formats, told apart by content:
 *
 * - JSON (`smartctl -j -a /dev/<disk>`, what the agent collects). smartctl's exit status is a bit
 *   mask: bits 0–1 mean it could not open/identify the device (then the JSON holds little more than
 *   messages); higher bits describe the disk's health and are not parse errors.
 * - Text (`smartctl -a` / `-x`, what other tools and people keep). The information section is
 *   "Key:   value" lines whose keys differ per protocol: ATA ("Device Model", "Serial Number",
 *   "LU WWN Device Id", "User Capacity"), SCSI/SAS ("Vendor", "Product", "Revision", "Serial number",
 *   "Logical Unit id", "Transport protocol"), NVMe ("Model Number", "Namespace 1 Size/Capacity",
 *   "Total NVM Capacity"). Health is "SMART overall-health self-assessment test result: PASSED" or
 *   "FAILED!" (ATA, NVMe), "SMART Health Status: OK" or a failure text (SCSI).
 */
import { clean, isRecord, parseJson, toInt, type Parsed } from "./common.js";

export interface SmartctlDisk {
  model: string | null;
  vendor: string | null;
  serial: string | null;
  wwn: string | null;
  firmware_version: string | null;
  size_bytes: number | null;
  /** rpm; 0 = solid state; null = not reported (NVMe, virtual disks). */
  rotation_rate: number | null;
  /** "ATA", "SCSI" or "NVMe", as smartctl's JSON spells device.protocol. */
  protocol: string | null;
  smart_passed: boolean | null;
}

/** smartctl's {naa, oui, id} → "0x5000c500a1b2c3d4", the form lsblk and udev print. */
function formatWwn(wwn: unknown): string | null {
  if (!isRecord(wwn)) return null;
  const naa = toInt(wwn.naa);
  const oui = toInt(wwn.oui);
  const id = toInt(wwn.id);
  if (naa === null || oui === null || id === null) return null;
  return `0x${naa.toString(16)}${oui.toString(16).padStart(6, "0")}${id.toString(16).padStart(9, "0")}`;
}

export function parseSmartctl(text: string, source: string): Parsed<SmartctlDisk | null> {
  return text.trimStart().startsWith("{") ? parseSmartctlJson(text, source) : parseSmartctlText(text, source);
}

function parseSmartctlJson(text: string, source: string): Parsed<SmartctlDisk | null> {
  const json = parseJson(text, source);
  if (!isRecord(json.value)) return { value: null, errors: json.errors.length ? json.errors : [{ source, message: "expected a JSON object" }] };
  const report = json.value;
  const meta = isRecord(report.smartctl) ? report.smartctl : {};
  const status = toInt(meta.exit_status) ?? 0;
  const messages = (Array.isArray(meta.messages) ? meta.messages : [])
    .filter((message): message is Record<string, unknown> => isRecord(message) && message.severity === "error")
    .map((message) => String(message.string));
  if ((status & 0b11) !== 0) {
    return {
      value: null,
      errors: [{ source, message: `smartctl could not read the device (exit status ${status})${messages.length ? `: ${messages.join("; ")}` : ""}` }],
    };
  }
  if (!isRecord(report.device) && !isRecord(report.smartctl))
    return { value: null, errors: [{ source, message: "no 'smartctl' or 'device' object in the JSON" }] };
  const device = isRecord(report.device) ? report.device : {};
  const capacity = isRecord(report.user_capacity) ? toInt(report.user_capacity.bytes) : null;
  const smart = isRecord(report.smart_status) ? report.smart_status : null;
  return {
    value: {
      model: clean(report.model_name) ?? clean(report.scsi_product) ?? clean(report.product),
      vendor: clean(report.scsi_vendor) ?? clean(report.vendor),
      serial: clean(report.serial_number),
      wwn: formatWwn(report.wwn),
      firmware_version: clean(report.firmware_version) ?? clean(report.scsi_revision) ?? clean(report.revision),
      size_bytes: capacity ?? toInt(report.nvme_total_capacity),
      rotation_rate: toInt(report.rotation_rate),
      protocol: clean(device.protocol),
      smart_passed: smart && typeof smart.passed === "boolean" ? smart.passed : null,
    },
    errors: [],
  };
}

/** "Key:   value" lines of smartctl's text, first occurrence wins, keys as smartctl spells them. */
function textFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.replace(/\r/g, "").split("\n")) {
    const match = /^([A-Za-z][A-Za-z0-9 ./()-]*?):\s+(\S.*?)\s*$/.exec(line);
    if (match && !fields.has(match[1]!)) fields.set(match[1]!, match[2]!);
  }
  return fields;
}

/** A value smartctl printed; "--" or "..." is what a report anonymizer left (linux-hardware.org). */
function textValue(value: string | undefined): string | null {
  if (value === undefined || /^-+$/.test(value.trim()) || value.includes("...")) return null;
  return clean(value);
}

/** "1,000,204,886,016 bytes [1.00 TB]" (any thousands separator smartctl's locale used) → bytes. */
function textCapacity(value: string | undefined): number | null {
  const match = value === undefined ? null : /^([\d,. \u00a0']+?)(?:\s*bytes)?\s*(?:\[|$)/.exec(value.trim());
  if (!match) return null;
  const digits = match[1]!.replace(/[^\d]/g, "");
  return digits === "" ? null : Number(digits);
}

/** ATA "5 000cca 32cc96cca" (NAA, OUI, id as hex groups) or SCSI "0x5000c50068d15045" → "0x…". */
function textWwn(value: string | null): string | null {
  if (value === null) return null;
  if (/^0x[0-9a-f]+$/i.test(value)) return value.toLowerCase();
  const groups = /^([0-9a-f]) ([0-9a-f]{6}) ([0-9a-f]{9})$/i.exec(value);
  return groups ? `0x${groups[1]}${groups[2]}${groups[3]}`.toLowerCase() : null;
}

function parseSmartctlText(text: string, source: string): Parsed<SmartctlDisk | null> {
  const fields = textFields(text);
  const open = /^Smartctl open device: .*$/m.exec(text) ?? /^.*(?:Unable to detect device type|No such device|Permission denied).*$/m.exec(text);
  const identified = ["Device Model", "Model Number", "Product", "Serial Number", "Serial number"].some((key) => fields.has(key));
  if (!identified) {
    const message = open
      ? `smartctl could not read the device: ${open[0].trim()}`
      : text.trim() === ""
        ? "empty output"
        : "neither smartctl JSON nor smartctl text (no 'Device Model', 'Model Number' or 'Product' line)";
    return { value: null, errors: [{ source, message }] };
  }
  const nvme = fields.has("Model Number") || fields.has("NVMe Version");
  const scsi = !nvme && (fields.has("Transport protocol") || (fields.has("Product") && !fields.has("Device Model")));
  const rotation = fields.get("Rotation Rate");
  const overall = /SMART overall-health self-assessment test result:\s*(\S+)/.exec(text)?.[1];
  const scsiHealth = fields.get("SMART Health Status");
  const smartPassed = overall !== undefined ? overall === "PASSED" : scsiHealth !== undefined ? scsiHealth === "OK" : null;
  return {
    value: {
      model: textValue(fields.get("Device Model")) ?? textValue(fields.get("Model Number")) ?? textValue(fields.get("Product")),
      vendor: textValue(fields.get("Vendor")),
      serial: textValue(fields.get("Serial Number")) ?? textValue(fields.get("Serial number")),
      wwn: textWwn(textValue(fields.get("LU WWN Device Id")) ?? textValue(fields.get("Logical Unit id"))),
      firmware_version: textValue(fields.get("Firmware Version")) ?? textValue(fields.get("Revision")),
      size_bytes:
        textCapacity(fields.get("User Capacity")) ?? textCapacity(fields.get("Total NVM Capacity")) ?? textCapacity(fields.get("Namespace 1 Size/Capacity")),
      rotation_rate: rotation === undefined ? null : /Solid State/i.test(rotation) ? 0 : toInt(/^(\d+)\s*rpm/i.exec(rotation)?.[1]),
      protocol: nvme ? "NVMe" : scsi ? "SCSI" : "ATA",
      smart_passed: smartPassed,
    },
    errors: [],
  };
}
