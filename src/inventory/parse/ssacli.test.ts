/**
 * ssacli `ctrl all show config detail` on real outputs of Smart Array P212 + P410i, P440ar, P400i
 * and P408i-a controllers, netdata's hpssa collector test data (test/fixtures/inventory/real/storage/SOURCES.md).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { INVENTORY_FIXTURES } from "../../../test/fixtures/inventory/fixtures.js";
import { parseSsacli, ssacliHealth } from "./ssacli.js";

const DIR = join(INVENTORY_FIXTURES, "real/storage");
const files = readdirSync(DIR)
  .filter((name) => /ssacli/.test(name))
  .sort();
const text = (name: string) => readFileSync(join(DIR, name), "utf8");
const parse = (name: string) => parseSsacli(text(name), "raw/workload/ssacli.out");

describe("parseSsacli on real outputs", () => {
  it("reads every real output without an error, as a whole-result snapshot", async () => {
    expect(files).toHaveLength(4);
    const results = files.map((name) => ({ name, ...parse(name) }));
    for (const result of results) expect(result.errors, result.name).toEqual([]);
    await expect(`${JSON.stringify(results, null, 2)}\n`).toMatchFileSnapshot("__snapshots__/ssacli-real.json");
  });

  it("one controller per 'in Slot' line, one logical drive per 'Logical Drive:' block", () => {
    for (const name of files) {
      const value = parse(name).value;
      expect(value, name).toHaveLength(text(name).match(/^\S.* in Slot /gm)!.length);
      expect(
        value.flatMap((controller) => controller.virtual_drives),
        name,
      ).toHaveLength(text(name).match(/^\s+Logical Drive: /gm)!.length);
    }
  });

  it("two controllers in one output (P212 in slot 5, embedded P410i): each its own fields and drives", () => {
    const [p212, p410i] = parse("netdata-ssacli-P212_P410i.txt").value;
    expect(p212).toEqual({
      pci_address: "0000:14:00.0",
      model: "Smart Array P212",
      firmware_version: "6.60-0",
      serial_number: "REDACTED",
      tool: "ssacli",
      virtual_drives: [{ id: "logicaldrive 1", raid_level: "RAID 5", state: "OK", health: "ok", size_bytes: Math.round(4.55 * 1024 ** 4) }],
    });
    expect(p410i).toMatchObject({ pci_address: "0000:04:00.0", model: "Smart Array P410i", firmware_version: "6.40-0" });
    expect(p410i!.virtual_drives.map((drive) => drive.raid_level)).toEqual(["RAID 1", "RAID 1+0"]);
  });

  it("the enclosure's firmware and serial are not the controller's; Gen10's upper-case PCI address is lower-cased", () => {
    expect(parse("netdata-ssacli-P408i-a.txt").value[0]).toMatchObject({
      pci_address: "0000:5c:00.0",
      model: "HPE Smart Array P408i-a SR Gen10",
      firmware_version: "6.52",
      virtual_drives: [{ id: "logicaldrive 1", raid_level: "RAID 6", state: "OK", health: "ok", size_bytes: Math.round(1.75 * 1024 ** 4) }],
    });
  });

  it("maps ssacli's status words to health", () => {
    expect(
      ["OK", "Interim Recovery Mode", "Recovering, 26% complete", "Ready for Rebuild", "Degraded", "Failed", "Wait for Rebuild?", null].map(ssacliHealth),
    ).toEqual(["ok", "degraded", "degraded", "degraded", "degraded", "failed", null, null]);
  });

  it("reads plain `show config` summary lines and the header's serial", () => {
    const plain = [
      "",
      "Smart Array P440ar in Slot 0 (Embedded)   (sn: PDNLH0BRH8J1OH)",
      "",
      "   Array A (SAS, Unused Space: 0  MB)",
      "",
      "      logicaldrive 1 (558.9 GB, RAID 1, Interim Recovery Mode)",
      "",
      "      physicaldrive 1I:1:1 (port 1I:box 1:bay 1, SAS HDD, 600 GB, Failed)",
      "",
    ].join("\n");
    expect(parseSsacli(plain).value).toEqual([
      {
        pci_address: null,
        model: "Smart Array P440ar",
        firmware_version: null,
        serial_number: "PDNLH0BRH8J1OH",
        tool: "ssacli",
        virtual_drives: [
          { id: "logicaldrive 1", raid_level: "RAID 1", state: "Interim Recovery Mode", health: "degraded", size_bytes: Math.round(558.9 * 1024 ** 3) },
        ],
      },
    ]);
  });

  it("ssacli's complaint or empty output is an error, never a throw", () => {
    expect(parseSsacli("Error: No controllers detected. Possible causes: ...\n").errors[0]!.message).toMatch(/Error: No controllers detected/);
    expect(parseSsacli("")).toEqual({ value: [], errors: [{ source: "raw/workload/ssacli.out", message: "empty output" }] });
  });
});
