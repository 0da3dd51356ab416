/**
 * `lsblk -J -O -b` → whole disks. Older util-linux prints numbers and booleans as strings
 * ("size": "512110190592", "rota": "1"); both are accepted. Loop, zram, ram, nbd and device-mapper
 * devices and CD-ROMs are not disks of the machine and are left out.
 */
import { clean, isRecord, parseJson, toBool, toInt, type Parsed } from "./common.js";

export interface LsblkDisk {
  name: string;
  model: string | null;
  vendor: string | null;
  serial: string | null;
  wwn: string | null;
  size_bytes: number | null;
  rotational: boolean | null;
  transport: string | null;
  removable: boolean | null;
}

const SOURCE = "raw/lsblk.json";
const NOT_A_DISK = /^(loop|zram|ram|nbd|dm-|sr|md)\d*/;

export function parseLsblk(text: string): Parsed<LsblkDisk[]> {
  const json = parseJson(text, SOURCE);
  const devices = isRecord(json.value) && Array.isArray(json.value.blockdevices) ? json.value.blockdevices : null;
  if (devices === null) {
    return { value: [], errors: json.errors.length ? json.errors : [{ source: SOURCE, message: "no blockdevices list in the JSON" }] };
  }
  const disks: LsblkDisk[] = [];
  for (const device of devices) {
    if (!isRecord(device) || device.type !== "disk") continue;
    const name = clean(device.kname) ?? clean(device.name);
    if (!name || NOT_A_DISK.test(name)) continue;
    disks.push({
      name,
      model: clean(device.model),
      vendor: clean(device.vendor),
      serial: clean(device.serial),
      wwn: clean(device.wwn),
      size_bytes: toInt(device.size),
      rotational: toBool(device.rota),
      transport: clean(device.tran),
      removable: toBool(device.rm),
    });
  }
  return { value: disks, errors: [] };
}
