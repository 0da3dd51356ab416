/**
 * Crash safety of upload ingest: 100 concurrent uploads to a master in its own process, which is
 * killed with SIGKILL mid-way. After a restart on the same store, every upload that was
 * acknowledged (201) must be complete and readable, and no temp or partial files may remain.
 * A kill -9 keeps the page cache, so this proves the ordering (nothing visible before it is
 * complete), not power-loss durability; the fsyncs are checked in master-http.test.ts.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { list } from "tar";
import { issueToken } from "../../src/model/peer-token.js";
import { type UploadMeta } from "../../src/master/store/store.js";
import { macDirName } from "../../src/model/store-layout.js";
import { rawRequest } from "../helpers/http-request.js";
import { spawnMaster, type SpawnedMaster } from "../helpers/spawn-master.js";
import { packFiles } from "../helpers/tarballs.js";

const UPLOADS = 100;
const KILL_AFTER_ACKS = 20;
const FILE_BYTES = 96 * 1024;

let work: string;
let storeDir: string;
let httpRoot: string;
const children: SpawnedMaster[] = [];

interface Attempt {
  mac: string;
  body: Buffer;
  /** Size of each file in the tar, to compare with what extraction produced. */
  files: Record<string, number>;
  status?: number;
  id?: string;
  error?: string;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-durability-"));
  storeDir = join(work, "store");
  httpRoot = join(work, "http");
});

afterAll(async () => {
  for (const child of children) await child.kill("SIGKILL");
  await rm(work, { recursive: true, force: true });
});

async function makeAttempts(): Promise<Attempt[]> {
  const attempts: Attempt[] = [];
  for (let index = 0; index < UPLOADS; index += 1) {
    const mac = `52:54:00:aa:00:${index.toString(16).padStart(2, "0")}`;
    // Random content does not compress, so each upload is ~100 KB on the wire and the kill
    // lands while many are still streaming or extracting.
    const files = {
      "raw/blob.bin": randomBytes(FILE_BYTES - index),
      "raw/lshw.json": JSON.stringify({ id: mac, index }),
    };
    const body = await packFiles(join(work, "agent", String(index)), files);
    attempts.push({ mac, body, files: Object.fromEntries(Object.entries(files).map(([path, data]) => [path, Buffer.byteLength(data)])) });
  }
  return attempts;
}

describe("upload durability across kill -9", () => {
  it("keeps every acknowledged upload complete and leaves no partial files", async () => {
    const attempts = await makeAttempts();
    const first = await spawnMaster(storeDir, httpRoot);
    children.push(first);
    const secret = await readFile(join(storeDir, "secret"));

    let acks = 0;
    let killed = false;
    const killOnce = async () => {
      if (killed) return;
      killed = true;
      await first.kill("SIGKILL");
    };
    const started = Date.now();
    const requests = attempts.map(async (attempt) => {
      try {
        const res = await rawRequest(first.url, {
          method: "POST",
          path: `/api/v1/nodes/${macDirName(attempt.mac)}/inventory`,
          headers: { authorization: `Bearer ${issueToken(secret, attempt.mac, "durability-1")}`, "content-type": "application/gzip" },
          body: attempt.body,
          timeoutMs: 30_000,
        });
        attempt.status = res.status;
        if (res.status === 201) {
          attempt.id = (res.json() as { id: string }).id;
          acks += 1;
          if (acks >= KILL_AFTER_ACKS) await killOnce();
        }
      } catch (error) {
        attempt.error = (error as Error).message;
      }
    });
    // Bounded: kill after 20 s even if fewer acks came (the assertions below then say so).
    const deadline = setTimeout(() => void killOnce(), 20_000);
    await Promise.all(requests);
    clearTimeout(deadline);
    await killOnce();
    expect(Date.now() - started).toBeLessThan(60_000);

    const acked = attempts.filter((attempt) => attempt.status === 201);
    const failed = attempts.filter((attempt) => attempt.status !== 201);
    // Mid-way: some acknowledged, some cut off by the kill (otherwise the test proved nothing).
    expect(acked.length).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);
    expect(failed.length).toBeGreaterThan(0);
    // Nothing but 201 or a dropped connection: no request was refused for being well-formed.
    expect(failed.every((attempt) => attempt.status === undefined)).toBe(true);

    const second = await spawnMaster(storeDir, httpRoot);
    children.push(second);

    // Recovery: tmp/ is empty (a kill mid-ingest leaves work there, which start-up removes).
    expect(await readdir(join(storeDir, "tmp"))).toEqual([]);

    // Every acknowledged upload is complete: raw bytes identical, meta.json right (each file
    // the size it had in the tar), and the raw tar still lists.
    for (const attempt of acked) {
      const dir = join(storeDir, "nodes", macDirName(attempt.mac)!, "uploads", attempt.id!);
      const raw = await readFile(join(dir, "raw.tar.gz"));
      expect(raw.equals(attempt.body), attempt.mac).toBe(true);
      const meta = JSON.parse(await readFile(join(dir, "meta.json"), "utf8")) as UploadMeta;
      expect(meta).toMatchObject({ id: attempt.id, mac: attempt.mac, rawBytes: attempt.body.length, entries: 2 });
      expect(meta.rawSha256).toBe(createHash("sha256").update(attempt.body).digest("hex"));
      expect(Object.fromEntries(meta.files.map((file) => [file.path, file.size]))).toEqual(attempt.files);
      const listed: string[] = [];
      await list({ file: join(dir, "raw.tar.gz"), onReadEntry: (entry) => listed.push(entry.path) });
      expect(listed.sort()).toEqual(Object.keys(attempt.files).sort());
      const served = await rawRequest(second.url, { path: `/nodes/${macDirName(attempt.mac)}/${attempt.id}/raw.tar.gz` });
      expect(served.body.equals(attempt.body)).toBe(true);
    }

    // Uploads that were never acknowledged are either absent or complete (stored, then the
    // kill took the answer): every upload directory on disk is whole and one we sent.
    const bodies = new Map(attempts.map((attempt) => [createHash("sha256").update(attempt.body).digest("hex"), attempt]));
    let onDisk = 0;
    for (const node of await readdir(join(storeDir, "nodes"))) {
      // A kill between creating nodes/<mac>/ and nodes/<mac>/uploads/ leaves the node directory
      // alone; that is a legal crash state (nothing was acknowledged for it), so read it as empty.
      const uploadIds = await readdir(join(storeDir, "nodes", node, "uploads")).catch((error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return [] as string[];
        throw error;
      });
      for (const id of uploadIds) {
        onDisk += 1;
        const dir = join(storeDir, "nodes", node, "uploads", id);
        expect((await readdir(dir)).sort()).toEqual(["meta.json", "raw.tar.gz"]);
        const meta = JSON.parse(await readFile(join(dir, "meta.json"), "utf8")) as UploadMeta;
        const sent = bodies.get(meta.rawSha256);
        expect(sent?.mac).toBe(meta.mac);
        expect((await readFile(join(dir, "raw.tar.gz"))).equals(sent!.body)).toBe(true);
      }
    }
    expect(onDisk).toBeGreaterThanOrEqual(acked.length);
    expect(onDisk).toBeLessThan(UPLOADS);

    // The restarted master takes uploads again.
    const retry = failed[0]!;
    const again = await rawRequest(second.url, {
      method: "POST",
      path: `/api/v1/nodes/${macDirName(retry.mac)}/inventory`,
      headers: { authorization: `Bearer ${issueToken(secret, retry.mac, "durability-2")}`, "content-type": "application/gzip" },
      body: retry.body,
    });
    expect(again.status).toBe(201);
    console.log(JSON.stringify({ acked: acked.length, cutOff: failed.length, onDiskAfterKill: onDisk, removedTemp: second.recovery.removedTemp.length }));
    await second.kill("SIGTERM");
  });
});
