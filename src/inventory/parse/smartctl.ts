/**
 * `smartctl -j -a /dev/<disk>` → identity and health. smartctl's exit status is a bit mask:
 * bits 0–1 mean it could not open/identify the device (then the JSON holds little more than
 * messages); higher bits describe the disk's health and are not parse errors.
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
