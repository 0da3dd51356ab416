/**
 * ipmitool text from the in-band BMC: `mc info`, `lan print <channel>`, `fru`. The
 * "Key : value" listings are read by ipmitool-text.ts (the same parsers the power code uses
 * on the out-of-band side); this file maps them into the inventory and adds what only
 * the inventory needs (IPv6 address, FRU identity).
 */
import type { SystemVendor } from "../schema.js";
import { parseColonListing, parseLanPrint, parseMcInfo } from "./ipmitool-text.js";
import { clean, macOrNull, type Parsed } from "./common.js";

export interface IpmiMcInfo {
  firmware_version: string | null;
  manufacturer: string | null;
  ipmi_version: string | null;
}

export function parseIpmiMcInfo(text: string): Parsed<IpmiMcInfo> {
  const info = parseMcInfo(text);
  const errors = info.firmwareRevision === undefined ? [{ source: "raw/ipmitool-mc-info.txt", message: "no 'Firmware Revision' line" }] : [];
  return {
    value: { firmware_version: clean(info.firmwareRevision), manufacturer: clean(info.manufacturerName), ipmi_version: clean(info.ipmiVersion) },
    errors,
  };
}

export interface IpmiLan {
  address: string | null;
  v6address: string | null;
  mac: string | null;
}

export function parseIpmiLanPrint(text: string, source: string): Parsed<IpmiLan> {
  const lan = parseLanPrint(text);
  // IPv6 blocks ("IPv6 Static Address 0:", "IPv6 Dynamic Address 0:") hold "Address: x/len" lines.
  let v6address: string | null = null;
  let inV6Block = false;
  for (const line of text.split("\n")) {
    if (/^IPv6 (Static|Dynamic) Address/.test(line)) inV6Block = true;
    else if (/^\S/.test(line)) inV6Block = false;
    const match = inV6Block ? /^\s+Address:\s*([0-9a-fA-F:]+)(?:\/\d+)?\s*$/.exec(line) : null;
    if (match && v6address === null && match[1] !== "::" && !/^fe80:/i.test(match[1]!)) v6address = match[1]!.toLowerCase();
  }
  const found = lan.ipAddressSource !== undefined || lan.macAddress !== undefined || /^IP Address\s*:/m.test(text);
  return {
    value: { address: clean(lan.ipAddress), v6address, mac: macOrNull(lan.macAddress) },
    errors: found ? [] : [{ source, message: "no 'IP Address' or 'MAC Address' line" }],
  };
}

/** The builtin FRU's product/board identity: a fallback for SMBIOS system information. */
export function parseIpmiFru(text: string): Parsed<SystemVendor> {
  const fields = parseColonListing(text);
  const get = (key: string) => clean(fields.get(key)?.[0]);
  const errors = fields.size === 0 ? [{ source: "raw/ipmitool-fru.txt", message: "no 'Key : value' lines in ipmitool fru output" }] : [];
  return {
    value: {
      manufacturer: get("Product Manufacturer") ?? get("Board Mfg"),
      product_name: get("Product Name") ?? get("Board Product"),
      serial_number: get("Product Serial") ?? get("Board Serial"),
      uuid: null,
      sku: get("Product Part Number"),
    },
    errors,
  };
}
