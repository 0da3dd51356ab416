import { describe, expect, it } from "vitest";
import { emptyInventory, inventorySchema, parseInventory } from "./schema.js";
import { syntheticInventory } from "./synthetic.js";

describe("inventory schema", () => {
  it("accepts the empty inventory and rejects one with a missing field", () => {
    expect(parseInventory(emptyInventory())).toEqual(emptyInventory());
    const { bmc: _bmc, ...missing } = emptyInventory();
    expect(inventorySchema.safeParse(missing).success).toBe(false);
    const undefinedValue = { ...emptyInventory(), hostname: undefined };
    expect(inventorySchema.safeParse(undefinedValue).success).toBe(false);
  });

  it("synthetic inventories are schema-valid, deterministic and differ by seed", () => {
    for (let seed = 0; seed < 50; seed++) {
      const inventory = syntheticInventory(seed);
      expect(inventorySchema.safeParse(inventory).success).toBe(true);
      expect(syntheticInventory(seed)).toEqual(inventory);
    }
    expect(syntheticInventory(1).boot_mac).not.toBe(syntheticInventory(2).boot_mac);
    expect(syntheticInventory(1).system_vendor.serial_number).not.toBe(syntheticInventory(2).system_vendor.serial_number);
  });
});
