/**
 * `nvme list -o json` and `nvme id-ctrl /dev/<ctrl> -o json` (nvme-cli 1.x and 2.x). The plain
 * 2.x list and 1.x both give {"Devices": [{DevicePath, ModelNumber, SerialNumber, Firmware,
 * PhysicalSize}]}; 2.x verbose nests Subsystems → Controllers → Namespaces. Both are read.
 */
import { arrayOrEmpty, clean, isRecord, parseJson, toInt, type Parsed } from "./common.js";

export interface NvmeNamespace {
  /** Block device name (nvme0n1). */
  name: string;
  model: string | null;
  serial: string | null;
  firmware_version: string | null;
  size_bytes: number | null;
}

export function parseNvmeList(text: string): Parsed<NvmeNamespace[]> {
  const source = "raw/nvme-list.json";
  const json = parseJson(text, source);
  if (!isRecord(json.value) || !Array.isArray(json.value.Devices)) {
    return { value: [], errors: json.errors.length ? json.errors : [{ source, message: 'expected {"Devices": […]}' }] };
  }
  const namespaces: NvmeNamespace[] = [];
  for (const device of json.value.Devices) {
    if (!isRecord(device)) continue;
    if (typeof device.DevicePath === "string") {
      namespaces.push({
        name: device.DevicePath.replace(/^\/dev\//, ""),
        model: clean(device.ModelNumber),
        serial: clean(device.SerialNumber),
        firmware_version: clean(device.Firmware),
        size_bytes: toInt(device.PhysicalSize),
      });
      continue;
    }
    // nvme-cli 2.x verbose: Subsystems → Controllers → Namespaces.
    for (const subsystem of Array.isArray(device.Subsystems) ? device.Subsystems : []) {
      if (!isRecord(subsystem)) continue;
      for (const controller of Array.isArray(subsystem.Controllers) ? subsystem.Controllers : []) {
        if (!isRecord(controller)) continue;
        const namespaceList = [...arrayOrEmpty(controller.Namespaces), ...arrayOrEmpty(subsystem.Namespaces)];
        for (const namespace of namespaceList) {
          if (!isRecord(namespace) || typeof namespace.NameSpace !== "string") continue;
          if (namespaces.some((known) => known.name === namespace.NameSpace)) continue;
          namespaces.push({
            name: namespace.NameSpace,
            model: clean(controller.ModelNumber),
            serial: clean(controller.SerialNumber),
            firmware_version: clean(controller.Firmware),
            size_bytes: toInt(namespace.PhysicalSize),
          });
        }
      }
    }
  }
  return { value: namespaces, errors: [] };
}

export interface NvmeController {
  model: string | null;
  serial: string | null;
  firmware_version: string | null;
  /** PCI vendor id of the controller, four hex digits. */
  vendor_id: string | null;
}

export function parseNvmeIdCtrl(text: string, source: string): Parsed<NvmeController | null> {
  const json = parseJson(text, source);
  if (!isRecord(json.value)) return { value: null, errors: json.errors.length ? json.errors : [{ source, message: "expected a JSON object" }] };
  const vid = toInt(json.value.vid);
  if (vid === null && json.value.sn === undefined && json.value.mn === undefined)
    return { value: null, errors: [{ source, message: "no vid, sn or mn in id-ctrl JSON" }] };
  return {
    value: {
      model: clean(json.value.mn),
      serial: clean(json.value.sn),
      firmware_version: clean(json.value.fr),
      vendor_id: vid !== null ? vid.toString(16).padStart(4, "0") : null,
    },
    errors: [],
  };
}
