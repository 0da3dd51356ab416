/**
 * storcli `/cALL show all J` on real outputs: a MegaRAID (ServeRAID M5015, one RAID6) and an HBA
 * (HBA 9500-8i, mpt3sas, JBOD only), netdata's collector test data
 * (test/fixtures/inventory/real/storage/SOURCES.md).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { INVENTORY_FIXTURES } from "../../../test/fixtures/inventory/fixtures.js";
import { parseStorcliJson, storcliHealth, storcliPciAddress } from "./storcli.js";

const DIR = join(INVENTORY_FIXTURES, "real/storage");
const FILES = ["netdata-storcli-megaraid-controllers-info.json", "netdata-storcli-mpt3sas-controllers-info.json"];
const parse = (name: string) => parseStorcliJson(readFileSync(join(DIR, name), "utf8"), `raw/workload/storcli.out`);

describe("parseStorcliJson on real outputs", () => {
  it("reads both real outputs without an error, as a whole-result snapshot", async () => {
    const results = FILES.map((name) => ({ name, ...parse(name) }));
    for (const result of results) expect(result.errors, result.name).toEqual([]);
    await expect(`${JSON.stringify(results, null, 2)}\n`).toMatchFileSnapshot("__snapshots__/storcli-real.json");
  });

  it("a MegaRAID: model, firmware (not the package build), serial, PCI address and its RAID6 of 58.207 TB (binary)", () => {
    expect(parse(FILES[0]!).value).toEqual([
      {
        pci_address: "0000:0a:00.0",
        model: "ServeRAID M5015 SAS/SATA Controller",
        firmware_version: "2.130.403-4660",
        serial_number: "SV04616189",
        tool: "storcli",
        virtual_drives: [{ id: "0/0", raid_level: "RAID6", state: "Optl", health: "ok", size_bytes: Math.round(58.207 * 1024 ** 4) }],
      },
    ]);
  });

  it("an HBA in IT mode has no VD LIST: no virtual drives, no error", () => {
    expect(parse(FILES[1]!).value).toMatchObject([{ pci_address: "0000:01:00.0", model: "HBA 9500-8i", firmware_version: "28.00.00.00", virtual_drives: [] }]);
  });

  it("perccli is the same document, named by the caller", () => {
    expect(parseStorcliJson(readFileSync(join(DIR, FILES[0]!), "utf8"), "raw/workload/perccli.out", "perccli").value[0]!.tool).toBe("perccli");
  });

  it("maps storcli's legend words to health; unknown words are null", () => {
    expect(["Optl", "Dgrd", "Pdgd", "Rec", "OfLn", "Failed", "OPTL", "Cac", "", null].map((word) => storcliHealth(word))).toEqual([
      "ok",
      "degraded",
      "degraded",
      "degraded",
      "failed",
      "failed",
      "ok",
      null,
      null,
      null,
    ]);
  });

  it("reads storcli's PCI address forms", () => {
    expect(storcliPciAddress("00:0a:00:00")).toBe("0000:0a:00.0");
    expect(storcliPciAddress("00:86:00:00")).toBe("0000:86:00.0");
    expect(storcliPciAddress("0a:00:00")).toBe("0000:0a:00.0");
    expect(storcliPciAddress("0000:3b:00.0")).toBe("0000:3b:00.0");
    expect(storcliPciAddress("00:0a:00:09")).toBeNull();
    expect(storcliPciAddress("N/A")).toBeNull();
    expect(storcliPciAddress(7)).toBeNull();
  });

  it("a failed command, broken JSON or another document is an error, never a throw", () => {
    const failure = JSON.stringify({ Controllers: [{ "Command Status": { Controller: 0, Status: "Failure", Description: "Controller 0 not found" } }] });
    expect(parseStorcliJson(failure, "raw/workload/storcli.out")).toEqual({
      value: [],
      errors: [{ source: "raw/workload/storcli.out", message: "storcli controller 0: Failure: Controller 0 not found" }],
    });
    expect(parseStorcliJson("", "s").errors).toHaveLength(1);
    expect(parseStorcliJson("{", "s").errors[0]!.message).toMatch(/^not valid JSON/);
    expect(parseStorcliJson("[1,2]", "s").errors[0]!.message).toMatch(/no "Controllers"/);
    expect(
      parseStorcliJson('{"Controllers":[null, {"Command Status":{"Status":"Success"},"Response Data":{"VD LIST":[1,{"DG/VD":"0/1"}]}}]}', "s"),
    ).toMatchObject({
      value: [{ pci_address: null, model: null, virtual_drives: [{ id: "0/1", state: null, health: null, size_bytes: null }] }],
      errors: [{ message: "storcli controller 0: no Response Data" }],
    });
  });
});
