/**
 * Every parser on odd input: empty, garbage, JSON of the wrong shape, and each real fixture cut
 * in half. None may throw; input that holds nothing usable must leave an entry in `errors`.
 */
import { describe, expect, it } from "vitest";
import { fixtureMachines, readFixtureFiles } from "../../../test/fixtures/inventory/fixtures.js";
import { normalizeRaw } from "../normalize.js";
import { inventorySchema } from "../schema.js";
import type { Parsed } from "./common.js";
import { parseDmidecode } from "./dmidecode.js";
import { parseEdac } from "./edac.js";
import { parseEfi } from "./efi.js";
import { parseEthtool, parseEthtoolDriver } from "./ethtool.js";
import { parseIpAddr, parseIpLink } from "./ip.js";
import { parseIpmiFru, parseIpmiLanPrint, parseIpmiMcInfo } from "./ipmitool.js";
import { parseLldpctl } from "./lldpctl.js";
import { parseLockdown } from "./lockdown.js";
import { parseLsblk } from "./lsblk.js";
import { parseLscpu } from "./lscpu.js";
import { parseLshw } from "./lshw.js";
import { parseLspci } from "./lspci.js";
import { parseManifest } from "./manifest.js";
import { parseMeminfo } from "./meminfo.js";
import { parseNvmeIdCtrl, parseNvmeList } from "./nvme.js";
import { parseSmartctl } from "./smartctl.js";

const PARSERS: Record<string, (text: string) => Parsed<unknown>> = {
  dmidecode: parseDmidecode,
  lshw: parseLshw,
  lscpu: parseLscpu,
  lsblk: parseLsblk,
  lspci: parseLspci,
  "ip-link": (text) => parseIpLink(text),
  "ip-addr": parseIpAddr,
  "ethtool-i": (text) => parseEthtoolDriver(text, "raw/ethtool-i.x.txt"),
  ethtool: (text) => parseEthtool(text, "raw/ethtool.x.txt"),
  smartctl: (text) => parseSmartctl(text, "raw/smartctl.x.json"),
  "nvme-list": parseNvmeList,
  "nvme-id-ctrl": (text) => parseNvmeIdCtrl(text, "raw/nvme-id-ctrl.x.json"),
  lldpctl: parseLldpctl,
  "ipmitool-mc-info": parseIpmiMcInfo,
  "ipmitool-lan-print": (text) => parseIpmiLanPrint(text, "raw/ipmitool-lan-print.1.txt"),
  "ipmitool-fru": parseIpmiFru,
  efi: parseEfi,
  lockdown: parseLockdown,
  meminfo: parseMeminfo,
  edac: parseEdac,
  manifest: parseManifest,
};

/** Which parser reads a raw file. */
function parserFor(path: string): string | undefined {
  const name = path.replace(/^raw\//, "").replace(/\.(json|txt)$/, "");
  if (name === "manifest") return "manifest";
  if (PARSERS[name]) return name;
  const prefix = /^(ethtool-i|ethtool|smartctl|nvme-id-ctrl|ipmitool-lan-print)\./.exec(name)?.[1];
  return prefix;
}

const NOTHING_USABLE = ["", "   \n", "\u0000\u0001garbage{[", "{", "null", "[]", "{}", "42", '"text"', "<html>error</html>"];

describe("parsers on odd input", () => {
  for (const [name, parse] of Object.entries(PARSERS)) {
    it(`${name}: never throws and reports input with nothing usable`, () => {
      for (const input of NOTHING_USABLE) {
        let result: Parsed<unknown> | undefined;
        expect(() => (result = parse(input)), JSON.stringify(input)).not.toThrow();
        // edac: "{}" and "[]"-like inputs without controllers legitimately mean "no EDAC".
        if (name === "edac" && input === "{}") continue;
        expect(result!.errors.length, `${name} on ${JSON.stringify(input)}`).toBeGreaterThan(0);
        for (const error of result!.errors) {
          expect(typeof error.source).toBe("string");
          expect(error.message.length).toBeGreaterThan(0);
        }
      }
    });
  }

  it("every real fixture file cut in half (truncated upload) parses without throwing", () => {
    let checked = 0;
    for (const machine of fixtureMachines()) {
      for (const [path, buffer] of readFixtureFiles(machine)) {
        const name = parserFor(path);
        if (!name) continue;
        const text = buffer.toString("utf8");
        const half = text.slice(0, Math.floor(text.length / 2));
        const result = PARSERS[name]!(half);
        if (path.endsWith(".json") && text.trim().length > 2) expect(result.errors.length, `${machine}/${path} truncated`).toBeGreaterThan(0);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(40);
  });

  it("normalizeRaw on an empty, a garbage and a truncated upload returns a schema-valid inventory with errors", () => {
    const empty = normalizeRaw(new Map());
    expect(inventorySchema.safeParse(empty).success).toBe(true);
    expect(empty.errors).toEqual([
      { source: "manifest.json", message: "missing: the upload does not say who collected it or which collectors failed", kind: "error" },
    ]);

    const garbage = new Map<string, Buffer>([
      ["manifest.json", Buffer.from("not json")],
      ["raw/lshw.json", Buffer.from("\u0000\u0001")],
      ["raw/lsblk.json", Buffer.from('{"blockdevices": "nope"}')],
      ["raw/ip-link.json", Buffer.from("{}")],
      ["raw/dmidecode.txt", Buffer.from("# dmidecode 3.4\n/dev/mem: Permission denied\n")],
      ["raw/smartctl.sda.json", Buffer.from("[1,2")],
    ]);
    const inventory = normalizeRaw(garbage);
    expect(inventorySchema.safeParse(inventory).success).toBe(true);
    expect(inventory.errors.map((error) => error.source).sort()).toEqual([
      "manifest.json",
      "raw/dmidecode.txt",
      "raw/ip-link.json",
      "raw/lsblk.json",
      "raw/lshw.json",
      "raw/smartctl.sda.json",
    ]);
    expect(inventory.disks).toEqual([]);

    for (const machine of fixtureMachines()) {
      const truncated = new Map([...readFixtureFiles(machine)].map(([path, buffer]) => [path, buffer.subarray(0, Math.floor(buffer.length / 3))]));
      const result = normalizeRaw(truncated);
      expect(inventorySchema.safeParse(result).success, machine).toBe(true);
      expect(result.errors.length, machine).toBeGreaterThan(0);
    }
  });
});
