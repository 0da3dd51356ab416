/** /proc/meminfo → MemTotal in bytes (the kernel prints kB, meaning KiB). */
import type { Parsed } from "./common.js";

export function parseMeminfo(text: string): Parsed<{ total_bytes: number | null }> {
  const match = /^MemTotal:\s+(\d+)\s*kB/m.exec(text);
  return match
    ? { value: { total_bytes: Number(match[1]) * 1024 }, errors: [] }
    : { value: { total_bytes: null }, errors: [{ source: "raw/meminfo.txt", message: "no MemTotal line" }] };
}
