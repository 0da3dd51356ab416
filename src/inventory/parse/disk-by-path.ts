/**
 * raw/disk-by-path.json (the agent's builtin reader of /dev/disk/by-path): disk name → its
 * by-path names. Pure and tolerant: anything unexpected is an error entry, never a throw.
 */
import type { Problem } from "../schema.js";

export function parseDiskByPath(text: string): { value: Map<string, string[]> | null; errors: Problem[] } {
  const source = "raw/disk-by-path.json";
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { value: null, errors: [{ source, message: `not JSON: ${(error as Error).message}` }] };
  }
  const byPath = (raw as { by_path?: unknown } | null)?.by_path;
  if (byPath === null || typeof byPath !== "object" || Array.isArray(byPath)) {
    return { value: null, errors: [{ source, message: "no by_path object" }] };
  }
  const value = new Map<string, string[]>();
  for (const [disk, names] of Object.entries(byPath as Record<string, unknown>)) {
    if (Array.isArray(names)) value.set(disk, names.filter((name): name is string => typeof name === "string").sort());
  }
  return { value, errors: [] };
}
