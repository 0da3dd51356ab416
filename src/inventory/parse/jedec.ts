/**
 * Memory makers as one name. SMBIOS type 17 "Manufacturer" is either a name ("Samsung", "Hynix
 * Semiconductor") or the module's SPD maker code printed as hex ("80CE", "00AD069D00AD": the first
 * byte is the JEP106 continuation count with its parity bit, the second the maker's code in that
 * bank). Both become the same name, so one vendor does not appear under two names in one server.
 */

/** JEP106 (JEDEC Standard Manufacturer's Identification Code), only makers seen in the real dumps: bank → code → name. */
const JEP106: Record<number, Record<number, string>> = {
  1: { 0x04: "Fujitsu", 0x2c: "Micron", 0x89: "Intel", 0xad: "SK Hynix", 0xce: "Samsung" },
  2: { 0x98: "Kingston" },
  5: { 0xcb: "A-DATA" },
  6: { 0x9b: "Crucial" },
};

/** Spellings of one maker in real dumps (lower case) → the name used. Hyundai Electronics became Hynix (same JEP106 code 0xAD). */
const ALIASES: Record<string, string> = {
  hynix: "SK Hynix",
  "hynix semiconductor": "SK Hynix",
  "hynix semiconductor inc.": "SK Hynix",
  "sk hynix": "SK Hynix",
  hyundai: "SK Hynix",
  samsung: "Samsung",
  "samsung electronics": "Samsung",
  micron: "Micron",
  "micron technology": "Micron",
  intel: "Intel",
  "intel(r) corporation": "Intel",
  "intel corporation": "Intel",
  kingston: "Kingston",
};

/** The maker's name for a cleaned type 17 Manufacturer; an unknown code or name is returned as it is. */
export function memoryMakerName(text: string | null): string | null {
  if (text === null) return null;
  const alias = ALIASES[text.toLowerCase()];
  if (alias) return alias;
  const hex = /^(?:0x)?([0-9A-F]{2})([0-9A-F]{2})(?:[0-9A-F]{8})?$/i.exec(text);
  if (hex) {
    const bank = (parseInt(hex[1]!, 16) & 0x7f) + 1;
    const name = JEP106[bank]?.[parseInt(hex[2]!, 16)];
    if (name) return name;
  }
  return text;
}
