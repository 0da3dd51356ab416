/**
 * The NetBox files' columns against NetBox's own import forms: every column must be a field of
 * the form for that object type, and every required field must be there. The field lists in
 * test/golden/netbox/import-form-fields.json are copied from netbox/dcim/forms/bulk_import.py
 * of NetBox 4.6.8 (the commit is named in the file).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeFleet } from "../classes.js";
import { sampleFleet } from "../sample-fleet.js";
import { DEFAULT_NETBOX_OPTIONS, interfaceType, planNetboxImport } from "./export-netbox.js";

const NETBOX = JSON.parse(readFileSync(join(import.meta.dirname, "../../../test/golden/netbox/import-form-fields.json"), "utf8")) as {
  forms: Record<string, { fields: string[]; required: string[] }>;
  interface_types: { values: string[] };
  device_status: string[];
};

const FORM_OF_FILE: Record<string, string> = {
  "01-manufacturers.csv": "ManufacturerImportForm",
  "02-device-roles.csv": "DeviceRoleImportForm",
  "03-sites.csv": "SiteImportForm",
  "04-device-types.csv": "DeviceTypeImportForm",
  "05-devices.csv": "DeviceImportForm",
  "06-interfaces.csv": "InterfaceImportForm",
  "07-mac-addresses.csv": "MACAddressImportForm",
  "08-inventory-item-roles.csv": "InventoryItemRoleImportForm",
  "09-inventory-items.csv": "InventoryItemImportForm",
};

function plan() {
  const nodes = sampleFleet();
  const inventories = new Map(nodes.map((n) => [n.mac, n.inventory]));
  return planNetboxImport({
    generatedAt: "x",
    nodes: nodes.map((n) => ({ mac: n.mac, state: undefined, inventory: n.inventory })),
    analysis: analyzeFleet(inventories),
  });
}

describe("NetBox import files", () => {
  it.each(Object.entries(FORM_OF_FILE))("%s uses %s's field names and all its required fields", (file, form) => {
    const found = plan().find((f) => f.name === file);
    expect(found, file).toBeDefined();
    const fields = NETBOX.forms[form]!;
    for (const column of found!.header) expect(fields.fields, `${file}: column ${column}`).toContain(column);
    for (const required of fields.required) expect(found!.header, `${file}: required ${required}`).toContain(required);
    for (const row of found!.rows) expect(row).toHaveLength(found!.header.length);
  });

  it("keeps inventory item names unique per device (repeated DIMM locators get #2)", () => {
    const nodes = sampleFleet();
    const inv = nodes[0]!.inventory;
    inv.memory.dimms = inv.memory.dimms.map((dimm) => ({ ...dimm, slot: "DIMM 0" }));
    const inventories = new Map(nodes.map((n) => [n.mac, n.inventory]));
    const files = planNetboxImport({
      generatedAt: "x",
      nodes: nodes.map((n) => ({ mac: n.mac, state: undefined, inventory: n.inventory })),
      analysis: analyzeFleet(inventories),
    });
    const items = files
      .find((f) => f.name === "09-inventory-items.csv")!
      .rows.filter((row) => row[0] === "node-010001")
      .map((row) => String(row[1]));
    expect(new Set(items).size).toBe(items.length);
    expect(items).toContain("DIMM 0 #2");
  });

  it("covers every file it writes", () => {
    expect(plan().map((f) => f.name)).toEqual(Object.keys(FORM_OF_FILE));
  });

  it("writes only interface types and statuses NetBox knows, speeds in Kbps", () => {
    for (const speed of [null, 10, 100, 1000, 2500, 10000, 25000, 40000, 100000, 200000]) {
      expect(NETBOX.interface_types.values).toContain(interfaceType(speed));
    }
    expect(NETBOX.device_status).toContain(DEFAULT_NETBOX_OPTIONS.status);
    const interfaces = plan().find((f) => f.name === "06-interfaces.csv")!;
    const speed = interfaces.header.indexOf("speed");
    expect(interfaces.rows.some((row) => row[speed] === 10_000_000)).toBe(true);
  });

  it("refers only to objects the earlier files create", () => {
    const files = new Map(plan().map((f) => [f.name, f]));
    const column = (file: string, name: string) => {
      const f = files.get(file)!;
      const at = f.header.indexOf(name);
      return new Set(f.rows.map((row) => row[at]).filter((v) => v !== null && v !== undefined && v !== ""));
    };
    const manufacturers = column("01-manufacturers.csv", "name");
    const devices = column("05-devices.csv", "name");
    for (const m of column("04-device-types.csv", "manufacturer")) expect(manufacturers).toContain(m);
    for (const m of column("05-devices.csv", "manufacturer")) expect(manufacturers).toContain(m);
    for (const m of column("09-inventory-items.csv", "manufacturer")) expect(manufacturers).toContain(m);
    for (const t of column("05-devices.csv", "device_type")) expect(column("04-device-types.csv", "model")).toContain(t);
    for (const d of column("06-interfaces.csv", "device")) expect(devices).toContain(d);
    for (const d of column("09-inventory-items.csv", "device")) expect(devices).toContain(d);
    for (const r of column("09-inventory-items.csv", "role")) expect(column("08-inventory-item-roles.csv", "name")).toContain(r);
    const interfaces = files.get("06-interfaces.csv")!.rows.map((row) => `${row[0]}/${row[1]}`);
    for (const row of files.get("07-mac-addresses.csv")!.rows) expect(interfaces).toContain(`${row[1]}/${row[2]}`);
    expect(devices.size).toBe(files.get("05-devices.csv")!.rows.length);
  });
});
