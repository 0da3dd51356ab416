/**
 * Export goldens: the sample fleet (sample-fleet.ts) rendered in every format and compared with
 * the whole text under test/golden/review/. After a deliberate change, regenerate with
 * `UPDATE_GOLDEN=1 npx vitest run --project unit src/review/exports` and review the diff.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { EMPTY_FLEET, reduceFleet } from "../../model/node-state.js";
import { analyzeFleet } from "../classes.js";
import { sampleEvents, sampleFleet } from "../sample-fleet.js";
import { csvCell, renderCsv } from "./csv.js";
import { renderAnsibleExport } from "./export-ansible.js";
import { CSV_COLUMNS, renderCsvExport } from "./export-csv.js";
import { exportNames, exportNodes, type ExportInput } from "./export-input.js";
import { renderJsonExport } from "./export-json.js";
import { renderNetboxExport, slugify } from "./export-netbox.js";

const GOLDEN = join(import.meta.dirname, "../../../test/golden/review");

async function golden(name: string, actual: string): Promise<void> {
  const path = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(path)) {
    if (process.env.CI && !existsSync(path)) throw new Error(`golden ${name} is missing`);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, actual);
  }
  expect(actual).toBe(await readFile(path, "utf8"));
}

function sampleInput(): ExportInput {
  const nodes = sampleFleet(4);
  const fleet = sampleEvents(nodes).reduce(reduceFleet, EMPTY_FLEET);
  // One node booted but never reported: it appears in JSON/CSV without an inventory.
  const booting = reduceFleet(fleet, { type: "dhcp-ack", at: "2026-11-21T11:59:00.000Z", mac: "52:54:00:09:00:01", ip: "172.30.213.250" });
  const inventories = new Map(nodes.map((node) => [node.mac, node.inventory]));
  return { generatedAt: "2026-11-21T12:30:00.000Z", nodes: exportNodes(booting, inventories), analysis: analyzeFleet(inventories) };
}

describe("csv", () => {
  it("quotes commas, quotes and line breaks, and guards formulas only when asked", () => {
    expect(csvCell('a,"b"', { guardFormulas: true })).toBe('"a,""b"""');
    expect(csvCell("two\nlines", { guardFormulas: false })).toBe('"two\nlines"');
    expect(csvCell(" padded", { guardFormulas: false })).toBe('" padded"');
    for (const start of ["=", "+", "-", "@", "\t"]) {
      expect(csvCell(`${start}SUM(A1)`, { guardFormulas: true })).toMatch(/^"?'/);
      expect(csvCell(`${start}SUM(A1)`, { guardFormulas: false }).replace(/^"/, "")).toMatch(new RegExp(`^\\${start === "\t" ? "t" : start}`));
    }
    expect(csvCell(-5, { guardFormulas: true })).toBe("-5");
    expect(csvCell(null, { guardFormulas: true })).toBe("");
    expect(csvCell(false, { guardFormulas: true })).toBe("false");
    expect(renderCsv(["a", "b"], [[1, "x"]], { guardFormulas: true })).toBe("a,b\r\n1,x\r\n");
  });
});

describe("export names", () => {
  it("uses a unique valid hostname, else recon-<mac>", () => {
    const names = exportNames([
      { mac: "52:54:00:00:00:01", state: undefined, inventory: { hostname: "web1" } as never },
      { mac: "52:54:00:00:00:02", state: undefined, inventory: { hostname: "debian" } as never },
      { mac: "52:54:00:00:00:03", state: undefined, inventory: { hostname: "debian" } as never },
      { mac: "52:54:00:00:00:04", state: undefined, inventory: { hostname: "<b>x</b>" } as never },
    ]);
    expect([...names.values()]).toEqual(["web1", "recon-525400000002", "recon-525400000003", "recon-525400000004"]);
  });

  it("slugifies for NetBox", () => {
    expect(slugify("Dell Inc.")).toBe("dell-inc");
    expect(slugify("<script>")).toBe("script");
    expect(slugify("***")).toBe("unknown");
  });
});

describe("exports match their goldens", () => {
  it("json: complete inventories, state and findings", async () => {
    const input = sampleInput();
    const text = renderJsonExport(input);
    const parsed = JSON.parse(text) as { nodes: Array<{ mac: string; inventory: unknown }> };
    const withInventory = input.nodes.filter((n) => n.inventory);
    for (const node of withInventory) expect(parsed.nodes.find((n) => n.mac === node.mac)!.inventory).toEqual(node.inventory);
    expect(parsed.nodes.find((n) => n.mac === "52:54:00:09:00:01")!.inventory).toBeNull();
    await golden("fleet.json", text);
  });

  it("csv: one row per node, stable columns, formula cells guarded", async () => {
    const input = sampleInput();
    const text = renderCsvExport(input);
    const lines = text.trimEnd().split("\r\n");
    expect(lines[0]).toBe(CSV_COLUMNS.map(([name]) => name).join(","));
    expect(lines).toHaveLength(input.nodes.length + 1);
    expect(text).toContain(`'=HYPERLINK(""http://x"",""click"")`);
    expect(text).not.toMatch(/(^|,)=HYPERLINK/m);
    await golden("fleet.csv", text);
  });

  it("ansible: groups per class and outliers, hostile templates tagged !unsafe", async () => {
    const input = sampleInput();
    const text = renderAnsibleExport(input);
    expect(text).toMatch(/serial_number: !unsafe '\{\{ lookup\(''pipe'', ''id''\) \}\}'/);
    const parsed = parseYaml(text, { customTags: [{ tag: "!unsafe", resolve: (s: string) => s }] }) as {
      all: { children: Record<string, { hosts: Record<string, Record<string, unknown> | null> }> };
    };
    const recon = parsed.all.children.recon!.hosts;
    expect(Object.keys(recon)).toHaveLength(input.nodes.filter((n) => n.inventory).length);
    // The missing DIMM and the old BIOS differ from their class; the failed disk is broken, not different.
    expect(Object.keys(parsed.all.children.recon_outliers!.hosts)).toEqual(["node-010002", "node-010003"]);
    expect(Object.keys(parsed.all.children.recon_critical!.hosts)).toEqual(["node-010004"]);
    const first = Object.values(recon)[0]!;
    expect(first.ansible_host).toMatch(/^172\.30\.213\./);
    await golden("ansible-inventory.yml", text);
  });

  it("netbox: files in import order", async () => {
    const files = renderNetboxExport(sampleInput());
    expect([...files.keys()]).toEqual([
      "README.txt",
      "01-manufacturers.csv",
      "02-device-roles.csv",
      "03-sites.csv",
      "04-device-types.csv",
      "05-devices.csv",
      "06-interfaces.csv",
      "07-mac-addresses.csv",
      "08-inventory-item-roles.csv",
      "09-inventory-items.csv",
    ]);
    for (const [name, text] of files) await golden(`netbox/${name}`, text);
  });
});
