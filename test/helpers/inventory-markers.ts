/**
 * Strings that must never reach an inventory: dmidecode's markers and the filler seen in the real
 * SMBIOS dumps (test/fixtures/inventory/real/dmi; the full list is docs/inventory.md "Placeholders").
 */
export const INVENTORY_MARKERS = [
  "<BAD INDEX>",
  "<OUT OF SPEC>",
  "Not Specified",
  "To Be Filled By O.E.M.",
  "To be filled by O.E.M.",
  "Default string",
  "Type1Sku0",
  "SKU Number",
  "SKU=",
  "NO DIMM",
  "Manufacturer01",
];
