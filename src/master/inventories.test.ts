import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { packFiles } from "../../test/helpers/tarballs.js";
import { createLogger } from "../lib/log.js";
import { createInventoryNormalizer, needsRebuild } from "./inventories.js";
import { SCHEMA_VERSION } from "../inventory/schema.js";
import { createStore } from "./store/store.js";

describe("needsRebuild", () => {
  it("rebuilds a missing, unreadable or older-schema inventory and keeps a current one", () => {
    expect(needsRebuild(undefined)).toBe(true);
    expect(needsRebuild("{not json")).toBe(true);
    expect(needsRebuild('{"schema_version":0}')).toBe(true);
    expect(needsRebuild(`{"schema_version":${SCHEMA_VERSION}}`)).toBe(false);
    expect(needsRebuild('{"schema_version":1}')).toBe(true);
  });
});

describe("createInventoryNormalizer (on a real store in a temp dir)", () => {
  it("normalizes a node's latest upload after enqueue, and rebuilds a deleted inventory.json", async () => {
    const root = await mkdtemp(join(tmpdir(), "recon-inventories-"));
    try {
      const lines: string[] = [];
      const log = createLogger({}, { write: (line) => lines.push(line) });
      const store = await createStore(join(root, "store"), { log });
      const fixture = join(import.meta.dirname, "../../test/fixtures/inventory/vm-uefi-hpe");
      const files: Record<string, Buffer> = {};
      for (const path of await readdir(fixture, { recursive: true })) {
        const content = await readFile(join(fixture, path)).catch(() => undefined);
        if (content !== undefined && path !== "qemu-argv.txt") files[path] = content;
      }
      const body = await packFiles(join(root, "pack"), files);
      const mac = "52:54:00:aa:bb:01";
      await store.ingestUpload(mac, Readable.from([body]), { maxBodyBytes: 8 * 1024 * 1024 });
      const normalizer = createInventoryNormalizer(store, log);
      normalizer.enqueue(mac);
      await normalizer.idle();
      const golden = JSON.parse(await readFile(join(import.meta.dirname, "../../test/fixtures/inventory/golden/vm-uefi-hpe.json"), "utf8"));
      expect(JSON.parse((await store.readInventory(mac))!)).toEqual(golden);
      expect(await normalizer.rebuildMissing()).toBe(0);
      await rm(join(root, "store", "nodes", "52-54-00-aa-bb-01", "inventory.json"));
      expect(await normalizer.rebuildMissing()).toBe(1);
      expect(JSON.parse((await store.readInventory(mac))!)).toEqual(golden);
      await store.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
