import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { gzipBomb, packFiles, rawTarGz } from "../../../test/helpers/tarballs.js";
import { ReconError } from "../../lib/errors.js";
import { createLogger } from "../../lib/log.js";
import { createStore, newUploadId, type Store } from "./store.js";
import { isUploadId, macDirName } from "../../model/store-layout.js";
import { DEFAULT_UPLOAD_LIMITS } from "../../lib/archive/tar-entry-check.js";

const log = createLogger({}, { write: () => {} });
const mac = "52:54:00:12:34:56";
const limits = { ...DEFAULT_UPLOAD_LIMITS, maxTotalBytes: 1024 * 1024, maxEntries: 50 };
const ingestOptions = { maxBodyBytes: 256 * 1024, limits };

let work: string;
let root: string;
let store: Store;
let synced: string[];
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-store-"));
  root = join(work, "data");
  synced = [];
  store = await createStore(root, { log, onSync: (path) => synced.push(path) });
});
afterEach(async () => {
  await store.close();
  await rm(work, { recursive: true, force: true });
});

/** Every path below `dir`, so a test can say "nothing changed". */
async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

async function inventory(): Promise<Buffer> {
  return packFiles(join(work, "src"), { "raw/lshw.json": '{"id":"node"}\n', "raw/dmidecode.txt": "System Information\n" });
}

async function refusal(promise: Promise<unknown>): Promise<ReconError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ReconError);
  return error as ReconError;
}

describe("store layout", () => {
  it("names directories FAT-safely", () => {
    expect(macDirName("52:54:00:AB:CD:EF")).toBe("52-54-00-ab-cd-ef");
    expect(macDirName("nope")).toBeUndefined();
    const id = newUploadId(new Date("2026-11-21T10:15:00.123Z"));
    expect(id).toMatch(/^20261121T101500\.123Z-[0-9a-f]{8}$/);
    expect(isUploadId(id)).toBe(true);
    expect(isUploadId("../x")).toBe(false);
  });

  it("creates the secret once, mode 600, and keeps it", async () => {
    const secret = await store.secret();
    expect(secret.length).toBe(32);
    expect((await stat(join(root, "secret"))).mode & 0o777).toBe(0o600);
    await store.close();
    store = await createStore(root, { log });
    expect((await store.secret()).equals(secret)).toBe(true);
    expect(await readdir(join(root, "tmp"))).toEqual([]);
  });
});

describe("ingestUpload", () => {
  it("stores raw and meta, both fsynced, lists the files, and leaves no temp", async () => {
    const body = await inventory();
    const meta = await store.ingestUpload(mac, Readable.from([body]), ingestOptions);
    expect(meta).toMatchObject({ mac, rawBytes: body.length, entries: 2 });
    const dir = join(root, "nodes", "52-54-00-12-34-56", "uploads", meta.id);
    expect((await readFile(join(dir, "raw.tar.gz"))).equals(body)).toBe(true);
    expect((await stat(join(dir, "raw.tar.gz"))).mode & 0o777).toBe(0o444);
    expect(await readdir(dir)).toEqual(["meta.json", "raw.tar.gz"].sort());
    expect(meta.files.map((file) => file.path).sort()).toEqual(["raw/dmidecode.txt", "raw/lshw.json"]);
    expect((await store.readUploadFile(mac, meta.id, "raw/lshw.json"))?.toString()).toBe('{"id":"node"}\n');
    expect(await store.readUploadFile(mac, meta.id, "raw/none.json")).toBeUndefined();
    expect([...((await store.readUploadFiles(mac, meta.id)) ?? new Map()).keys()].sort()).toEqual(["raw/dmidecode.txt", "raw/lshw.json"]);
    expect(JSON.parse(await readFile(join(dir, "meta.json"), "utf8"))).toEqual(meta);
    expect(await readdir(join(root, "tmp"))).toEqual([]);
    // The temp copies were synced before the rename, and the new name's parent after it.
    expect(synced.some((path) => path.endsWith("/raw.tar.gz"))).toBe(true);
    expect(synced.some((path) => path.endsWith("/meta.json"))).toBe(true);
    expect(synced.at(-1)).toBe(join(root, "nodes", "52-54-00-12-34-56", "uploads"));
    expect(await store.listUploads(mac)).toEqual([meta]);
    expect(await store.uploadDir("52-54-00-12-34-56", meta.id)).toBe(dir);
  });

  it("keeps every upload of a node (raw uploads are never replaced)", async () => {
    const body = await inventory();
    const first = await store.ingestUpload(mac, Readable.from([body]), ingestOptions);
    const second = await store.ingestUpload(mac, Readable.from([body]), ingestOptions);
    expect(first.id).not.toBe(second.id);
    expect((await store.listUploads(mac)).map((meta) => meta.id)).toEqual([first.id, second.id].sort());
  });

  const hostile: Array<[string, () => Promise<Buffer | Readable>, string]> = [
    ["an empty body", async () => Buffer.alloc(0), "UPLOAD_REJECTED"],
    ["a body over the limit", async () => Buffer.alloc(300 * 1024, 1), "PAYLOAD_TOO_LARGE"],
    ["plain text", async () => Buffer.from("hello"), "UPLOAD_REJECTED"],
    ["a truncated gzip", async () => (await inventory()).subarray(0, 40), "UPLOAD_REJECTED"],
    ["a gzip bomb", () => gzipBomb(64 * 1024 * 1024), "UPLOAD_REJECTED"],
    ["a symlink", async () => rawTarGz([{ path: "raw/x", type: "SymbolicLink", linkpath: "/etc/shadow" }]), "UPLOAD_REJECTED"],
    ["a '..' path", async () => rawTarGz([{ path: "../escape", body: Buffer.from("x") }]), "UPLOAD_REJECTED"],
    [
      "a file then a path through it",
      async () =>
        rawTarGz([
          { path: "a", body: Buffer.from("x") },
          { path: "a/b", body: Buffer.from("y") },
        ]),
      "UPLOAD_REJECTED",
    ],
    [
      "a body that fails mid-stream",
      async () =>
        new Readable({
          read() {
            this.push(Buffer.from([0x1f, 0x8b, 8, 0]));
            this.destroy(new Error("connection reset"));
          },
        }),
      "BAD_REQUEST",
    ],
  ];
  it.each(hostile)("refuses %s and leaves nothing behind", async (_name, make, code) => {
    const before = await tree(root);
    const made = await make();
    const body = made instanceof Readable ? made : Readable.from([made]);
    const error = await refusal(store.ingestUpload(mac, body, ingestOptions));
    expect(error.code).toBe(code);
    expect(await tree(root)).toEqual(before);
  });

  it("refuses a malformed MAC before touching disk", async () => {
    const before = await tree(root);
    expect((await refusal(store.ingestUpload("../../etc", Readable.from([await inventory()]), ingestOptions))).code).toBe("BAD_REQUEST");
    expect(await tree(root)).toEqual(before);
  });
});

describe("recovery", () => {
  it("removes unfinished work and keeps completed uploads", async () => {
    const meta = await store.ingestUpload(mac, Readable.from([await inventory()]), ingestOptions);
    await store.close();
    // What a kill -9 mid-ingest leaves: a half-written upload and a secret not yet linked.
    await mkdir(join(root, "tmp", "upload-20261121T000000.000Z-deadbeef", "extracted"), { recursive: true });
    await writeFile(join(root, "tmp", "upload-20261121T000000.000Z-deadbeef", "raw.tar.gz"), "partial");
    await writeFile(join(root, "tmp", "secret-abc"), "x");
    store = await createStore(root, { log });
    expect(store.recovery.removedTemp.sort()).toEqual(["secret-abc", "upload-20261121T000000.000Z-deadbeef"]);
    expect(await readdir(join(root, "tmp"))).toEqual([]);
    expect(await store.listUploads(mac)).toEqual([meta]);
  });

  it("cuts a torn last event line and keeps appending cleanly", async () => {
    await store.appendEvent({ type: "agent-hello", at: "2026-11-21T00:00:00.000Z", mac });
    await store.close();
    await writeFile(join(root, "state", "events.jsonl"), '{"type":"agent-hello"', { flag: "a" });
    store = await createStore(root, { log });
    expect(store.recovery.truncatedEventBytes).toBe(21);
    await store.appendEvent({ type: "powered-off", at: "2026-11-21T00:00:01.000Z", mac });
    expect((await store.readEvents()).map((event) => event.type)).toEqual(["agent-hello", "powered-off"]);
  });
});

describe("events", () => {
  it("appends concurrent events in order, all durable when each resolves", async () => {
    const events = Array.from({ length: 50 }, (_, index) => ({
      type: "image-bytes" as const,
      at: "2026-11-21T00:00:00.000Z",
      mac,
      bytes: index,
    }));
    await Promise.all(events.map((event) => store.appendEvent(event)));
    expect(await store.readEvents()).toEqual(events);
    // Group commit: far fewer fsyncs of the log than events.
    const logSyncs = synced.filter((path) => path.endsWith("events.jsonl")).length;
    expect(logSyncs).toBeGreaterThan(0);
    expect(logSyncs).toBeLessThan(events.length);
  });
});

describe("one master per store", () => {
  it("refuses a second open of a store in use, and allows it after close", async () => {
    await expect(createStore(root, { log })).rejects.toThrow(/another recon master is using the store/);
    await store.close();
    store = await createStore(root, { log });
    expect(store.root).toBe(root);
  });
});
