/**
 * Helpers every tool parser shares. Parsers are pure and never throw on odd input: whatever
 * they cannot read becomes an entry in `errors` and the rest is still returned.
 */
import { normalizeMac } from "../../model/net-address.js";
import type { Problem } from "../schema.js";

export interface Parsed<T> {
  value: T;
  errors: Problem[];
}

/** Placeholders firmware writes instead of a value (SMBIOS, lshw, ipmitool); compared lower case. */
const PLACEHOLDERS = new Set([
  "",
  "not specified",
  "not available",
  "not provided",
  "not present",
  "not applicable",
  "unknown",
  "none",
  "n/a",
  "na",
  "to be filled by o.e.m.",
  "to be filled by oem",
  "default string",
  "system serial number",
  "system product name",
  "system manufacturer",
  "chassis serial number",
  "base board serial number",
  "o.e.m.",
  "oem",
  "0123456789",
  "123456789",
  "xxxxxxxxxx",
  "00000000",
  "0000000000000000",
  "ffffffff",
  "no asset tag",
  "no module installed",
  "unknown!",
  // Seen in real SMBIOS dumps of servers (test/fixtures/inventory/real/dmi, docs/inventory.md "Placeholders").
  "undefined",
  "not support",
  "empty",
  "null",
  "(null)",
  "sku number",
  "type1sku0",
  "01234567890123456789ab",
  "--",
  "no dimm",
  "notprovided",
]);

/**
 * Filler that is a pattern, not one string: dmidecode's own markers anywhere in the value
 * ("<BAD INDEX>", "x4 <OUT OF SPEC>"), vendor counters ("Manufacturer00", "SerNum01",
 * "PartNum3", "AssetTagNum2"), and control bytes (a ROM record read as text).
 */
const PLACEHOLDER_PATTERNS = [
  /<(bad index|out of spec)>/i,
  /^(manufacturer|sernum|partnum|assettagnum|serial ?number|part ?number)\s*\d*$/i,
  /[\u0000-\u0008\u000e-\u001f\u007f-\u009f\ufffd]/,
];

/** true for a value firmware wrote instead of saying something: the list above and the patterns. */
export function isPlaceholder(trimmed: string): boolean {
  return PLACEHOLDERS.has(trimmed.toLowerCase()) || PLACEHOLDER_PATTERNS.some((pattern) => pattern.test(trimmed));
}

/** A trimmed string, or null for empty/placeholder/non-string values. */
export function clean(value: unknown): string | null {
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value !== "string") return null;
  const trimmed = value.replace(/\s+/g, " ").trim();
  return isPlaceholder(trimmed) ? null : trimmed;
}

/** As clean, but the firmware's inner spacing kept ("PROC  1 DIMM  9" stays as it is). */
export function cleanVerbatim(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const trimmed = value.trim();
  return isPlaceholder(trimmed.replace(/\s+/g, " ")) ? null : trimmed;
}

/** An integer from a number or a numeric string; null otherwise. */
export function toInt(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? Math.trunc(value) : null;
  if (typeof value === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) return Math.trunc(Number(value));
  return null;
}

export function toNumber(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  return null;
}

/** true/false from booleans, 0/1 and "0"/"1"/"yes"/"no"/"true"/"false"; null otherwise. */
export function toBool(value: unknown): boolean | null {
  if (typeof value === "boolean") return value;
  if (value === 1 || value === "1" || value === "yes" || value === "true") return true;
  if (value === 0 || value === "0" || value === "no" || value === "false") return false;
  return null;
}

/** A MAC address as model/net-address.ts writes it, or null: not a string, not a MAC, all zeros. */
export function macOrNull(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const mac = normalizeMac(value.trim());
  return mac === undefined || mac === "00:00:00:00:00:00" ? null : mac;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The value when it is an array (its items still unchecked), else an empty one. */
export function arrayOrEmpty(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** JSON.parse that reports instead of throwing. */
export function parseJson(text: string, source: string): Parsed<unknown> {
  if (text.trim() === "") return { value: undefined, errors: [{ source, message: "empty output" }] };
  try {
    return { value: JSON.parse(text) as unknown, errors: [] };
  } catch (error) {
    return { value: undefined, errors: [{ source, message: `not valid JSON: ${(error as Error).message}` }] };
  }
}

/**
 * The envelope of the agent's builtin JSON readers (`{"disks": {...}}`, `{"by_path": {...}}`): the
 * object under `key`, or null with one error naming the file (not JSON, or no such object).
 */
export function jsonObjectAt(text: string, source: string, key: string): Parsed<Record<string, unknown> | null> {
  const parsed = parseJson(text, source);
  if (parsed.errors.length > 0) return { value: null, errors: parsed.errors };
  const inner = isRecord(parsed.value) ? parsed.value[key] : undefined;
  return isRecord(inner) ? { value: inner, errors: [] } : { value: null, errors: [{ source, message: `no ${key} object` }] };
}

/** Bytes from "16 GB", "16384 MB", "512 kB", "1.5 TiB" (binary units, as dmidecode and meminfo mean them). */
export function sizeToBytes(text: string | null | undefined): number | null {
  if (!text) return null;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgtpe]?)i?b?(?:ytes)?\s*$/i.exec(text);
  if (!match) return null;
  const power = " kmgtpe".indexOf((match[2] || " ").toLowerCase());
  return Math.round(Number(match[1]) * 1024 ** Math.max(power, 0));
}

/** "a: b" lines into a map (first occurrence of a key wins); `separator` splits key and value. */
export function keyValueLines(text: string, separator = ":"): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split("\n")) {
    const index = line.indexOf(separator);
    if (index <= 0) continue;
    const key = line.slice(0, index).trim();
    if (key && !map.has(key)) map.set(key, line.slice(index + separator.length).trim());
  }
  return map;
}

/** "MM/DD/YYYY" or "MM/DD/YY" (SMBIOS; YY < 70 is 20YY) or "YYYYMMDD…" (lshw) → "YYYY-MM-DD"; other text is kept as it is. */
export function isoDate(text: string | null): string | null {
  if (!text) return null;
  const us = /^(\d{1,2})\/(\d{1,2})\/(\d{4}|\d{2})$/.exec(text);
  if (us) {
    const year = us[3]!.length === 4 ? us[3]! : `${Number(us[3]) < 70 ? "20" : "19"}${us[3]}`;
    return `${year}-${us[1]!.padStart(2, "0")}-${us[2]!.padStart(2, "0")}`;
  }
  const iso = /^(\d{4})-?(\d{2})-?(\d{2})/.exec(text);
  if (iso) return `${iso[1]}-${iso[2]}-${iso[3]}`;
  return text;
}
