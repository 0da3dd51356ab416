/** raw/efi.json (written by the agent from /sys/firmware/efi) → boot mode and Secure Boot. */
import type { BootInfo } from "../schema.js";
import { isRecord, parseJson, toBool, type Parsed } from "./common.js";

export function parseEfi(text: string): Parsed<Pick<BootInfo, "current_boot_mode" | "secure_boot">> {
  const source = "raw/efi.json";
  const json = parseJson(text, source);
  if (!isRecord(json.value) || typeof json.value.efi !== "boolean") {
    return {
      value: { current_boot_mode: null, secure_boot: null },
      errors: json.errors.length ? json.errors : [{ source, message: 'expected {"efi": bool, …}' }],
    };
  }
  const efi = json.value.efi;
  return { value: { current_boot_mode: efi ? "uefi" : "bios", secure_boot: efi ? toBool(json.value.secure_boot) : false }, errors: [] };
}
