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

/**
 * A new ISO from `iso` with some files replaced (`-map host iso-path`), every boot record kept:
 * `-boot_image any replay` takes over the El Torito entries (BIOS, UEFI), the MBR/GPT of the
 * hybrid USB layout and appended partitions from the loaded image, as `-report_el_torito cmd`
 * and `-report_system_area cmd` describe them. The volume id stays the loaded image's.
 */
export function xorrisoReplaceArgs(iso: string, out: string, pairs: Array<[hostPath: string, isoPath: string]>): string[] {
  const args = ["-indev", iso, "-outdev", out, "-boot_image", "any", "replay"];
  for (const [hostPath, isoPath] of pairs) args.push("-map", hostPath, isoPath);
  return args;
}

export function xorrisoBootReportArgs(iso: string): string[] {
  return ["-indev", iso, "-pvd_info", "-report_el_torito", "plain", "-report_system_area", "plain"];
}

export interface IsoBootRecords {
  volumeId: string;
  /** One per El Torito boot image: platform, media, load size (LBAs differ from image to image). */
  elTorito: Array<{ platform: string; media: string; loadSize: string }>;
  /** The system area's kind ("MBR protective-msdos-label grub2-mbr cyl-align-off", "GPT" …) and MBR partition types. */
  systemArea: string[];
}

/**
 * Parses what xorrisoBootReportArgs prints: `Volume Id    : RECON`, `El Torito boot img :   1  BIOS
 * y   none  0x0000  0x00      4        2048` and `System area summary: MBR isohybrid cyl-align-on`,
 * `MBR partition    :   1 0x80  0x00       0   851712`, `GPT type GUID      :   2 …`.
 */
export function parseBootReport(output: string): IsoBootRecords {
  const volumeId = /^Volume Id\s*:\s*(.*)$/m.exec(output)?.[1]?.trim() ?? "";
  const elTorito = [...output.matchAll(/^El Torito boot img :\s+\d+\s+(\S+)\s+\S+\s+(\S+)\s+\S+\s+\S+\s+(\d+)\s+\d+/gm)].map((m) => ({
    platform: m[1]!,
    media: m[2]!,
    loadSize: m[3]!,
  }));
  const systemArea = [
    ...[...output.matchAll(/^System area summary:\s*(.*)$/gm)].map((m) => m[1]!.trim()),
    ...[...output.matchAll(/^MBR partition\s*:\s+(\d+)\s+\S+\s+(0x[0-9a-f]+)/gm)].map((m) => `MBR partition ${m[1]} type ${m[2]}`),
    ...[...output.matchAll(/^GPT type GUID\s*:\s+(\d+)\s+(\S+)/gm)].map((m) => `GPT partition ${m[1]} type ${m[2]}`),
  ];
  return { volumeId, elTorito, systemArea };
}

export async function readBootRecords(runner: CommandRunner, iso: string): Promise<IsoBootRecords> {
  const result = await runChecked(runner, "xorriso", xorrisoBootReportArgs(iso), { hint: `${iso} is not a readable ISO` });
  return parseBootReport(result.stdout + result.stderr);
}
