/** ipmitool text: `mc info`, `lan print <channel>`, `fru` ("Key : value" lines). */
import type { SystemVendor } from "../schema.js";
import { clean, keyValueLines, normalizeMac, type Parsed } from "./common.js";

export interface IpmiMcInfo {
  firmware_version: string | null;
  manufacturer: string | null;
  ipmi_version: string | null;
}

export function parseIpmiMcInfo(text: string): Parsed<IpmiMcInfo> {
  const fields = keyValueLines(text);
  const errors = fields.has("Firmware Revision") ? [] : [{ source: "raw/ipmitool-mc-info.txt", message: "no 'Firmware Revision' line" }];
  return {
    value: {
      firmware_version: clean(fields.get("Firmware Revision")),
      manufacturer: clean(fields.get("Manufacturer Name")),
      ipmi_version: clean(fields.get("IPMI Version")),
    },
    errors,
  };
}

export interface IpmiLan {
  address: string | null;
  v6address: string | null;
  mac: string | null;
}

export function parseIpmiLanPrint(text: string, source: string): Parsed<IpmiLan> {
  const fields = keyValueLines(text);
  const address = clean(fields.get("IP Address"));
  // IPv6 blocks ("IPv6 Static Address 0:", "IPv6 Dynamic Address 0:") hold "Address: x/len" lines.
  let v6address: string | null = null;
  let inV6Block = false;
  for (const line of text.split("\n")) {
    if (/^IPv6 (Static|Dynamic) Address/.test(line)) inV6Block = true;
    else if (/^\S/.test(line)) inV6Block = false;
    const match = inV6Block ? /^\s+Address:\s*([0-9a-fA-F:]+)(?:\/\d+)?\s*$/.exec(line) : null;
    if (match && v6address === null && match[1] !== "::" && !/^fe80:/i.test(match[1]!)) v6address = match[1]!.toLowerCase();
  }
  const errors = fields.has("IP Address") || fields.has("MAC Address") ? [] : [{ source, message: "no 'IP Address' or 'MAC Address' line" }];
  return {
    value: { address: address === "0.0.0.0" ? null : address, v6address, mac: normalizeMac(fields.get("MAC Address")) },
    errors,
  };
}

/** The builtin FRU's product/board identity: a fallback for SMBIOS system information. */
export function parseIpmiFru(text: string): Parsed<SystemVendor> {
  const fields = keyValueLines(text);
  return {
    value: {
      manufacturer: clean(fields.get("Product Manufacturer")) ?? clean(fields.get("Board Mfg")),
      product_name: clean(fields.get("Product Name")) ?? clean(fields.get("Board Product")),
      serial_number: clean(fields.get("Product Serial")) ?? clean(fields.get("Board Serial")),
      uuid: null,
      sku: clean(fields.get("Product Part Number")),
    },
    errors: [],
  };
}
