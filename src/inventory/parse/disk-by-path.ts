/**
 * raw/disk-by-path.json (the agent's builtin reader of /dev/disk/by-path): disk name → its
 * by-path names. Pure and tolerant: anything unexpected is an error entry, never a throw.
 */
import type { Problem } from "../schema.js";
import { jsonObjectAt } from "./common.js";

export function parseDiskByPath(text: string): { value: Map<string, string[]> | null; errors: Problem[] } {
  const source = "raw/disk-by-path.json";
  const byPath = jsonObjectAt(text, source, "by_path");
  if (byPath.value === null) return { value: null, errors: byPath.errors };
  const value = new Map<string, string[]>();
  for (const [disk, names] of Object.entries(byPath.value)) {
    if (Array.isArray(names)) value.set(disk, names.filter((name): name is string => typeof name === "string").sort());
  }
  return { value, errors: [] };
}
