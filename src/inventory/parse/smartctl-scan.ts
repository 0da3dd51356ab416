/**
 * `smartctl --scan` / `--scan-open` → the devices smartctl would open and the `-d TYPE` it would
 * open each with. Behind a RAID controller that is how the member disks are reached
 * ("/dev/bus/0 -d megaraid,3", "/dev/sda -d cciss,0", "/dev/sg1 -d sat+megaraid,1"), so the
 * agent can run `smartctl -x -d TYPE DEVICE` per disk.
 *
 * Text lines are `DEVICE -d TYPE # COMMENT`; everything else (a shell prompt pasted with the
 * output, smartctl's "Warning: DEFAULT entry missing in drive database" line) is skipped.
 * `--scan-open` comments out a device it could not open ("# /dev/sdb -d scsi # ..., open failed"),
 * so a line starting with "#" is not a device. `smartctl --scan -j` JSON ({"devices": [{name,
 * info_name, type, protocol}]}) is read too; its `info_name` becomes the comment.
 */
import { arrayOrEmpty, isRecord, parseJson, type Parsed } from "./common.js";

export interface ScannedDevice {
  /** The path smartctl opens: /dev/sda, /dev/nvme0, /dev/bus/0, /dev/sg1. */
  device: string;
  /** The `-d` argument: scsi, sat, nvme, megaraid,0, sat+megaraid,1, cciss,0. */
  type: string;
  /** What smartctl printed after "#" ("/dev/bus/0 [megaraid_disk_00], SCSI device"), null when nothing. */
  comment: string | null;
}

const SOURCE = "raw/smartctl-scan.txt";
const DEVICE_LINE = /^(\/\S+)\s+-d\s+(\S+)(?:\s+#\s*(.*?))?\s*$/;

function parseScanJson(text: string): Parsed<ScannedDevice[]> {
  const json = parseJson(text, SOURCE);
  if (!isRecord(json.value))
    return { value: [], errors: json.errors.length > 0 ? json.errors : [{ source: SOURCE, message: "smartctl --scan JSON is not an object" }] };
  const devices: ScannedDevice[] = [];
  for (const entry of arrayOrEmpty(json.value.devices)) {
    if (!isRecord(entry) || typeof entry.name !== "string" || typeof entry.type !== "string") continue;
    devices.push({ device: entry.name, type: entry.type, comment: typeof entry.info_name === "string" ? entry.info_name : null });
  }
  return { value: devices, errors: [] };
}

export function parseSmartctlScan(text: string): Parsed<ScannedDevice[]> {
  const trimmed = text.replace(/\r/g, "").trim();
  if (trimmed.startsWith("{")) return parseScanJson(trimmed);
  const devices: ScannedDevice[] = [];
  for (const line of trimmed.split("\n")) {
    const match = DEVICE_LINE.exec(line.trim());
    if (match) devices.push({ device: match[1]!, type: match[2]!, comment: match[3] ? match[3] : null });
  }
  // No device at all is a machine smartctl sees no disk on (empty output), not an error; text
  // without a single device line is some other tool's output or an error message.
  const errors =
    devices.length === 0 && trimmed !== ""
      ? [{ source: SOURCE, message: `no "DEVICE -d TYPE" line in smartctl --scan output: "${trimmed.split("\n")[0]!.slice(0, 120)}"` }]
      : [];
  return { value: devices, errors };
}
