/**
 * Plain `lscpu` (class 5 of #12: it gave nothing before, as the JSON parser saw "not valid JSON").
 * Real outputs from linuxhw/LsCPU (test/fixtures/inventory/real/lscpu/SOURCES.md).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readFixtureFiles } from "../../../test/fixtures/inventory/fixtures.js";
import { normalizeRaw } from "../normalize.js";
import { parseLscpu } from "./lscpu.js";

const DIR = join(import.meta.dirname, "../../../test/fixtures/inventory/real/lscpu");
const fixtures = readdirSync(DIR)
  .filter((name) => name.endsWith(".lscpu.txt"))
  .sort();
const read = (name: string) => readFileSync(join(DIR, name), "utf8");

describe("parseLscpu on real plain lscpu outputs", () => {
  it("has the real fixtures", () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(3);
  });

  it("every fixture: no errors, and the fields in full (snapshot)", async () => {
    const all = fixtures.map((name) => {
      const { value, errors } = parseLscpu(read(name), "raw/lscpu.txt");
      expect(errors, name).toEqual([]);
      return { name, ...value, flags: value.flags.length };
    });
    await expect(`${JSON.stringify(all, null, 2)}\n`).toMatchFileSnapshot("__snapshots__/lscpu-real.json");
  });

  it("two-socket EPYC 7742, SMT off: 128 cores, 128 threads, max 2250 MHz", () => {
    expect(parseLscpu(read("epyc-7742-2s.lscpu.txt")).value).toMatchObject({
      model_name: "AMD EPYC 7742 64-Core Processor",
      architecture: "x86_64",
      sockets: 2,
      cores: 128,
      threads: 128,
      frequency_mhz: 2250,
    });
  });

  it("four-socket Xeon Gold 6126: sockets × cores per socket", () => {
    const { value } = parseLscpu(read("xeon-gold-6126-4s.lscpu.txt"));
    expect(value.sockets).toBe(4);
    expect(value.cores).toBe(4 * 12);
    expect(value.model_name).toMatch(/Xeon\(R\) Gold 6126/);
  });

  it("text that is neither JSON nor lscpu is an error, never a silent empty result", () => {
    const { value, errors } = parseLscpu("lscpu: command not found\n", "raw/lscpu.txt");
    expect(value.model_name).toBeNull();
    expect(errors).toEqual([{ source: "raw/lscpu.txt", message: expect.stringMatching(/neither lscpu JSON nor plain lscpu/) }]);
  });
});

describe("normalizeRaw with a plain lscpu kept as raw/lscpu.txt", () => {
  it("takes the CPU from it when there is no raw/lscpu.json (it was ignored before, with no error)", () => {
    const files = readFixtureFiles("vm-bios-dell");
    files.delete("raw/lscpu.json");
    files.set("raw/lscpu.txt", Buffer.from(read("epyc-7742-2s.lscpu.txt")));
    const inventory = normalizeRaw(files);
    expect(inventory.cpu).toMatchObject({ model_name: "AMD EPYC 7742 64-Core Processor", sockets: 2, cores: 128, threads: 128, frequency_mhz: 2250 });
    expect(inventory.errors.filter((error) => error.source.startsWith("raw/lscpu"))).toEqual([]);
  });
});
