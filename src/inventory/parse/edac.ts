/**
 * raw/edac.json → corrected/uncorrected memory error totals. The agent writes
 * {"present": bool, "mc": [{"name", "ce_count", "ue_count", "dimms": [...]}]} from
 * /sys/devices/system/edac/mc; without EDAC (no driver, most VMs) the totals are null.
 */
import { isRecord, parseJson, toInt, type Parsed } from "./common.js";

export interface EdacTotals {
  correctable_errors: number | null;
  uncorrectable_errors: number | null;
}

export function parseEdac(text: string): Parsed<EdacTotals> {
  const source = "raw/edac.json";
  const json = parseJson(text, source);
  const none = { correctable_errors: null, uncorrectable_errors: null };
  if (!isRecord(json.value)) return { value: none, errors: json.errors.length ? json.errors : [{ source, message: "expected a JSON object" }] };
  const controllers = Array.isArray(json.value.mc) ? json.value.mc.filter(isRecord) : [];
  if (controllers.length === 0) return { value: none, errors: [] };
  const sum = (key: string) => {
    const counts = controllers.map((mc) => toInt(mc[key]));
    return counts.some((count) => count === null) ? null : counts.reduce<number>((a, b) => a + (b ?? 0), 0);
  };
  return { value: { correctable_errors: sum("ce_count"), uncorrectable_errors: sum("ue_count") }, errors: [] };
}
