/**
 * raw/lockdown.txt: /sys/kernel/security/lockdown as the agent found it. The kernel lists the
 * modes it supports and brackets the active one (security/lockdown/lockdown.c, lockdown_read):
 * `[none] integrity confidentiality`, `none [integrity] confidentiality`, `none integrity [confidentiality]`.
 */
import type { BootInfo } from "../schema.js";
import type { Parsed } from "./common.js";

const SOURCE = "raw/lockdown.txt";
const MODES = ["none", "integrity", "confidentiality"] as const;

export function parseLockdown(text: string): Parsed<BootInfo["lockdown"]> {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const active = words.filter((word) => /^\[.*\]$/.test(word)).map((word) => word.slice(1, -1));
  const mode = MODES.find((candidate) => candidate === active[0]);
  if (active.length === 1 && mode !== undefined) return { value: mode, errors: [] };
  return {
    value: null,
    errors: [
      { source: SOURCE, message: `expected the modes with the active one in brackets (none [integrity] confidentiality), got '${text.trim().slice(0, 80)}'` },
    ],
  };
}
