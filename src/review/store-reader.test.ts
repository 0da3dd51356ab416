import { mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { syntheticInventory } from "../inventory/synthetic.js";
import { createInventoryCache, readStoredEvents, readUploads } from "./store-reader.js";

let dir: string;
const write = async (mac: string, value: unknown) => {
  const nodeDir = join(dir, "nodes", mac.replace(/:/g, "-"));
  await mkdir(nodeDir, { recursive: true });
  await writeFile(join(nodeDir, "inventory.json"), typeof value === "string" ? value : JSON.stringify(value));
  return join(nodeDir, "inventory.json");
};

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "recon-store-reader-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("inventory cache", () => {
  it("reads valid inventories, reports invalid ones, and rereads only what changed", async () => {
    await write("52:54:00:00:00:01", syntheticInventory(1));
    await write("52:54:00:00:00:02", { schema_version: 1 });
    await write("52:54:00:00:00:03", "{not json");
    await mkdir(join(dir, "nodes", "not-a-mac"), { recursive: true });
    const cache = createInventoryCache(dir);
    expect(await cache.refresh()).toEqual(["52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03"]);
    expect([...cache.inventories.keys()]).toEqual(["52:54:00:00:00:01"]);
    expect(cache.problems.get("52:54:00:00:00:02")!.message).toMatch(/collected_at|Required/);
    expect(cache.problems.get("52:54:00:00:00:03")!.message).toMatch(/JSON/);
    const version = cache.version;
    expect(await cache.refresh()).toEqual([]);
    expect(cache.version).toBe(version);
    const path = await write("52:54:00:00:00:02", syntheticInventory(2));
    await utimes(path, new Date(), new Date(Date.now() + 5000));
    expect(await cache.refresh()).toEqual(["52:54:00:00:00:02"]);
    expect(cache.inventories.get("52:54:00:00:00:02")!.system_vendor.serial_number).toBe(syntheticInventory(2).system_vendor.serial_number);
    expect(cache.problems.has("52:54:00:00:00:02")).toBe(false);
    expect(cache.version).toBe(version + 1);
    await rm(join(dir, "nodes", "52-54-00-00-00-01"), { recursive: true });
    expect(await cache.refresh()).toEqual(["52:54:00:00:00:01"]);
    expect(cache.inventories.has("52:54:00:00:00:01")).toBe(false);
  });

  it("is empty for a store without nodes/", async () => {
    const cache = createInventoryCache(join(dir, "missing"));
    expect(await cache.refresh()).toEqual([]);
  });
});

describe("events and uploads", () => {
  it("skips a torn last event line and lists uploads oldest first", async () => {
    await mkdir(join(dir, "state"), { recursive: true });
    await writeFile(join(dir, "state", "events.jsonl"), '{"type":"agent-hello","at":"2026-11-21T12:00:00.000Z","mac":"52:54:00:00:00:01"}\n{"type":"agent-he');
    expect(await readStoredEvents(dir)).toEqual([{ type: "agent-hello", at: "2026-11-21T12:00:00.000Z", mac: "52:54:00:00:00:01" }]);
    const uploads = join(dir, "nodes", "52-54-00-00-00-01", "uploads");
    for (const id of ["20261121T120500.000Z-bbbbbbbb", "20261121T120000.000Z-aaaaaaaa"]) {
      await mkdir(join(uploads, id), { recursive: true });
      await writeFile(join(uploads, id, "meta.json"), JSON.stringify({ receivedAt: id, rawBytes: 10, files: [{ path: "raw/lshw.json", size: 3 }] }));
    }
    await mkdir(join(uploads, "tmp-junk"));
    const listed = await readUploads(dir, "52:54:00:00:00:01");
    expect(listed.map((u) => u.id)).toEqual(["20261121T120000.000Z-aaaaaaaa", "20261121T120500.000Z-bbbbbbbb"]);
    expect(listed[0]!.files).toEqual([{ path: "raw/lshw.json", size: 3 }]);
  });
});
