/**
 * `recon inventory normalize` on every real fixture under test/fixtures/inventory/real/ (dumps of
 * real machines from public sources, each folder's SOURCES.md says where from). Each fixture
 * becomes the raw file the agent would write (docs/raw-upload.md), copied byte for byte into a
 * raw upload directory with a manifest written here; the real CLI must exit 0 with a
 * schema-valid inventory holding no dmidecode marker or placeholder (docs/inventory.md "Placeholders").
 */
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INVENTORY_FIXTURES } from "../fixtures/inventory/fixtures.js";
import { reconBin, repoRoot } from "../helpers/repo.js";
import { INVENTORY_MARKERS as MARKERS } from "../helpers/inventory-markers.js";
import { inventorySchema, type Inventory } from "../../src/inventory/schema.js";

const REAL = join(INVENTORY_FIXTURES, "real");

/** The raw file the agent writes for a fixture, by its folder and name; null when no collector writes such a file. */
function rawName(folder: string, file: string): string | null {
  if (folder === "dmi" || /dmidecode\.txt$/.test(file)) return "raw/dmidecode.txt";
  if (/\.sel-[a-z-]+\.txt$/.test(file)) return "raw/ipmitool-sel.txt";
  if (/\.sdr-[a-z-]+\.txt$/.test(file)) return "raw/ipmitool-sdr.txt";
  if (/\.sensor\.txt$/.test(file)) return "raw/ipmitool-sensor.txt";
  if (/\.smartctl-[ax]\.txt$/.test(file)) return "raw/smartctl.sda.txt";
  if (/\.smartctl\.json$/.test(file) || (folder === "smart" && file.endsWith(".json"))) return "raw/smartctl.sda.json";
  if (folder === "lspci" || /\.lspci(-[a-z]+)?\.txt$/.test(file)) return "raw/lspci.txt";
  if (/smartctl-scan/.test(file)) return "raw/smartctl-scan.txt";
  // A disk behind a MegaRAID controller, named as the agent names it (docs/raw-upload.md).
  if (/smart-megaraid\d+\.json$/.test(file)) return "raw/smartctl.bus!0:megaraid,1.json";
  // Vendor RAID tools run by a site's workload (docs/workload.md).
  if (/storcli/.test(file)) return "raw/workload/storcli.out";
  if (/ssacli/.test(file)) return "raw/workload/ssacli.out";
  if (/\.lscpu\.json$/.test(file)) return "raw/lscpu.json";
  if (/\.lscpu\.txt$/.test(file)) return "raw/lscpu.txt";
  return null;
}

const fixtures = readdirSync(REAL)
  .filter((folder) => statSync(join(REAL, folder)).isDirectory())
  .flatMap((folder) =>
    readdirSync(join(REAL, folder))
      .filter((file) => statSync(join(REAL, folder, file)).isFile() && file !== "SOURCES.md" && !file.endsWith(".md"))
      .map((file) => ({ folder, file, raw: rawName(folder, file) })),
  );

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-real-fixtures-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("recon inventory normalize on every real fixture", () => {
  it("finds the real fixtures (at least the 20 SMBIOS dumps)", () => {
    expect(fixtures.filter((fixture) => fixture.folder === "dmi").length).toBeGreaterThanOrEqual(20);
  });

  it("runs every real fixture: none is left out for want of a raw file name", () => {
    expect(fixtures.filter((fixture) => fixture.raw === null).map((fixture) => `${fixture.folder}/${fixture.file}`)).toEqual([]);
  });

  for (const { folder, file, raw } of fixtures.filter((fixture) => fixture.raw !== null)) {
    it(`${folder}/${file} as ${raw}`, async () => {
      const dir = join(work, `${folder}-${basename(file)}`);
      await mkdir(dirname(join(dir, raw!)), { recursive: true });
      await copyFile(join(REAL, folder, file), join(dir, raw!));
      const manifest = {
        format: "recon-raw/1",
        agent_version: "real-fixtures.test.ts",
        collected_at: "2026-12-02T00:00:00.000Z",
        boot_mac: null,
        hostname: null,
        kernel: null,
        collectors: [{ id: basename(raw!).replace(/\.(txt|json)$/, ""), files: [raw], argv: [], exit_code: 0, duration_ms: 0, timed_out: false }],
      };
      await writeFile(join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
      expect((await readdir(join(dir, "raw"), { recursive: true })).filter((name) => name !== "workload")).toEqual([raw!.slice("raw/".length)]);
      const result = await execa(reconBin, ["inventory", "normalize", dir], { cwd: repoRoot, reject: false });
      expect(result.stderr).toBe("");
      expect(result.exitCode).toBe(0);
      expect(inventorySchema.safeParse(JSON.parse(result.stdout)).success).toBe(true);
      for (const marker of MARKERS) expect(result.stdout, marker).not.toContain(marker);
      const inventory = JSON.parse(result.stdout) as Inventory;
      // Each fixture is under a name recon reads: none may come back as a file recon ignored.
      expect(inventory.errors.filter((error) => /not a file recon reads/.test(error.message))).toEqual([]);
      if (raw === "raw/workload/storcli.out" || raw === "raw/workload/ssacli.out") {
        expect(inventory.storage_controllers.length).toBeGreaterThan(0);
        expect(inventory.storage_controllers.every((controller) => controller.tool !== null && controller.model !== null)).toBe(true);
      }
      if (raw!.includes(":megaraid,")) {
        expect(inventory.disks.map((disk) => [disk.name, disk.smartctl_device])).toEqual([["bus/0:megaraid,1", "megaraid,1"]]);
        expect(inventory.disks[0]!.serial).not.toBeNull();
      }
      if (raw === "raw/lspci.txt") expect(inventory.pci_devices.length).toBeGreaterThan(0);
    }, 60_000);
  }
});
