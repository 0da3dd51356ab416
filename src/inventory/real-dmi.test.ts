/**
 * normalizeRaw on real SMBIOS dumps of data-centre servers (test/fixtures/inventory/real/dmi,
 * published by the linux-hardware project; SOURCES.md says where each came from). Per dump, the
 * identity, memory, CPU, BMC and PSU sections as a file snapshot (test/fixtures/inventory/real/dmi/golden/),
 * and per defect class of issue #12 a focused test naming the dump that shows it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { INVENTORY_MARKERS as MARKERS } from "../../test/helpers/inventory-markers.js";
import { normalizeRaw } from "./normalize.js";
import { inventorySchema, type Inventory } from "./schema.js";

const DIR = join(import.meta.dirname, "../../test/fixtures/inventory/real/dmi");
const dumps = readdirSync(DIR).filter((name) => name.endsWith(".txt"));

function normalizeDump(name: string): Inventory {
  return normalizeRaw(new Map([["raw/dmidecode.txt", readFileSync(join(DIR, name))]]));
}

describe("real SMBIOS dumps", () => {
  it("has at least 20 dumps", () => expect(dumps.length).toBeGreaterThanOrEqual(20));

  for (const name of dumps) {
    it(`${name}: schema-valid, no marker, equal to its golden sections`, async () => {
      const inventory = normalizeDump(name);
      expect(inventorySchema.safeParse(inventory).success).toBe(true);
      const { system_vendor, baseboard, chassis, firmware, cpu, memory, bmc, power_supplies } = inventory;
      const text = `${JSON.stringify({ system_vendor, baseboard, chassis, firmware, cpu, memory, bmc, power_supplies }, null, 2)}\n`;
      for (const marker of MARKERS) expect(text, marker).not.toContain(marker);
      const slots = memory.dimms.map((dimm) => dimm.slot);
      expect(new Set(slots).size).toBe(slots.length);
      await expect(text).toMatchFileSnapshot(join(DIR, "golden", name.replace(/\.txt$/, ".json")));
    });
  }
});

describe("defect classes of #12 on real dumps", () => {
  it("1 persistent memory is not RAM (supermicro-sys-1029u-trt: Optane PMem 126 GB modules)", () => {
    const { memory } = normalizeDump("supermicro-sys-1029u-trt-5BEDDF6C5270.txt");
    const pmem = memory.dimms.filter((dimm) => dimm.kind === "persistent");
    expect(pmem.length).toBeGreaterThan(0);
    for (const dimm of pmem) expect(dimm).toMatchObject({ size_bytes: 0, non_volatile_size_bytes: 126 * 1024 ** 3 });
    const dram = memory.dimms.filter((dimm) => dimm.kind === "dram");
    expect(memory.physical_mb).toBe(dram.reduce((sum, dimm) => sum + dimm.size_bytes! / 1024 ** 2, 0));
    expect(memory.persistent_mb).toBe(pmem.length * 126 * 1024);
  });

  it("2 an installed module of unknown size is listed and physical_mb is marked incomplete (supermicro-x11dai-n: P1-DIMMB1 Size Unknown)", () => {
    const { memory } = normalizeDump("supermicro-x11dai-n-883610D37508.txt");
    expect(memory.dimms.find((dimm) => dimm.locator === "P1-DIMMB1")).toMatchObject({
      size_bytes: null,
      part_number: "HMA84GR7JJR4N-WM",
      manufacturer: "SK Hynix",
    });
    expect(memory.physical_mb_complete).toBe(false);
  });

  it("3 slots are unique where the locator repeats, locators kept (amd-volcano: 'DIMM 0' per channel; oracle-server-x5-2: D0 per CPU)", () => {
    for (const name of ["amd-volcano-59C634EF9C63.txt", "oracle-server-x5-2-B6860ED621C9.txt"]) {
      const { dimms } = normalizeDump(name).memory;
      const locators = dimms.map((dimm) => dimm.locator);
      expect(new Set(locators).size, name).toBeLessThan(locators.length);
      expect(new Set(dimms.map((dimm) => dimm.slot)).size, name).toBe(dimms.length);
    }
    expect(normalizeDump("amd-volcano-59C634EF9C63.txt").memory.dimms[0]).toMatchObject({
      slot: "P0 CHANNEL A / DIMM 0",
      locator: "DIMM 0",
      bank_locator: "P0 CHANNEL A",
    });
  });

  it("9 a configured speed above the rated one is null (fujitsu-primergy-41B1E7A57925: 32768 MT/s on a 1333 module)", () => {
    const { dimms } = normalizeDump("fujitsu-primergy-41B1E7A57925.txt").memory;
    const module = dimms.find((dimm) => dimm.speed_mts === 1333)!;
    expect(module.configured_speed_mts).toBeNull();
    expect(dimms.map((dimm) => dimm.configured_speed_mts)).not.toContain(32768);
  });

  it("4 type 38, type 2 and type 3 are kept (depo-super-server: 'Super Server' on board X10SRi-F, KCS)", () => {
    const inventory = normalizeDump("depo-super-server-45CFAE6C8D53.txt");
    expect(inventory.system_vendor.product_name).toBe("Super Server");
    expect(inventory.baseboard).toMatchObject({ manufacturer: "Supermicro", product_name: "X10SRi-F" });
    expect(inventory.bmc).toMatchObject({ interface: "KCS", ipmi_version: "2.0" });
    expect(inventory.chassis.type).not.toBeNull();
  });

  it("6 markers and filler become null (asrockrack-altrad8ud-1l2t: <BAD INDEX>; huawei-rh2288-v3: Type1Sku0)", () => {
    const altra = JSON.stringify(normalizeDump("asrockrack-altrad8ud-1l2t-33DCD26EDA10.txt"));
    expect(altra).not.toMatch(/<BAD INDEX>|<OUT OF SPEC>/);
    expect(normalizeDump("huawei-rh2288-v3-EC438425FBC0.txt").system_vendor.sku).toBeNull();
  });

  it("7 the BIOS flash chip is not a DIMM (depo-x8dtu: Type Flash, 4 MB)", () => {
    const { memory } = normalizeDump("depo-x8dtu-0D6533604B8A.txt");
    expect(memory.dimms.filter((dimm) => dimm.type === "Flash")).toEqual([]);
  });

  it("10 Dell's composite SKU: SKU=NotProvided;ModelName=… → null (dell-oem-r720xd)", () => {
    expect(normalizeDump("dell-oem-r720xd-153B982DDDBD.txt").system_vendor.sku).toBeNull();
  });

  it("11 a two-digit-year BIOS date becomes ISO (depo-x8dtu: 08/27/11 -> 2011-08-27)", () => {
    const dates = dumps.map((name) => normalizeDump(name).firmware.build_date);
    expect(dates).toContain("2011-08-27");
    for (const date of dates) if (date !== null) expect(date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it("12 JEDEC maker codes become names (dell-poweredge-1950 / others: 00CE… → Samsung, 80AD… → SK Hynix)", () => {
    const makers = new Set(dumps.flatMap((name) => normalizeDump(name).memory.dimms.map((dimm) => dimm.manufacturer)));
    // "1315" (hpe-ml10gen9) is no JEP106 code (bank 20) and stays as the firmware wrote it.
    for (const maker of makers) expect(maker ?? "").not.toMatch(/^[0-9A-F]{12}$/i);
    const dell = normalizeDump("dell-poweredge-1950-12946989497B.txt").memory.dimms.map((dimm) => dimm.manufacturer);
    expect(new Set(dell)).toEqual(new Set(["SK Hynix", "Samsung"].filter((name) => dell.includes(name))));
    expect(dell.length).toBeGreaterThan(0);
    expect(makers).not.toContain("Hynix");
  });
});
