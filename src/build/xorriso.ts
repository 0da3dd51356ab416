/**
 * xorriso (the ISO tool KIWI itself uses): argument builders and a parser. Reading files out of
 * the ISO needs no loop mount and no root.
 */
import type { CommandRunner } from "../lib/run.js";
import { runChecked } from "../lib/run.js";

export function xorrisoExtractArgs(iso: string, pairs: Array<[isoPath: string, hostPath: string]>): string[] {
  const args = ["-osirrox", "on", "-indev", iso];
  for (const [isoPath, hostPath] of pairs) args.push("-extract", isoPath, hostPath);
  return args;
}

export function xorrisoListArgs(iso: string, dir: string): string[] {
  return ["-indev", iso, "-find", dir, "-exec", "lsdl", "--"];
}

type LsdlEntry = { path: string; sizeBytes: number; type: "file" | "dir" | "other" };

/** Parses `-exec lsdl` lines (`-rw-r--r--    1 0 0  12345 Nov 21 22:00 '/boot/x86_64/loader/linux'`). */
export function parseLsdl(output: string): LsdlEntry[] {
  const entries: LsdlEntry[] = [];
  for (const line of output.split("\n")) {
    const match = /^([-dlcbps])\S*\s+\d+\s+\S+\s+\S+\s+(\d+)\s+\S+\s+\d+\s+\S+\s+'(.*)'$/.exec(line.trim());
    if (!match) continue;
    const kind = match[1] === "-" ? "file" : match[1] === "d" ? "dir" : "other";
    entries.push({ path: match[3]!.replace(/'"'"'/g, "'"), sizeBytes: Number(match[2]), type: kind });
  }
  return entries;
}

export async function extractFromIso(
  runner: CommandRunner,
  iso: string,
  pairs: Array<[string, string]>,
): Promise<void> {
  await runChecked(runner, "xorriso", xorrisoExtractArgs(iso, pairs), {
    hint: `check that ${iso} is a complete ISO (rebuild it with the target 'target')`,
  });
}

export async function listIso(runner: CommandRunner, iso: string, dir = "/") {
  const result = await runChecked(runner, "xorriso", xorrisoListArgs(iso, dir));
  return parseLsdl(result.stdout);
}
