/**
 * On the appliance the ISO peers boot is the master's boot medium: the first N bytes of a block
 * device, with the data partition after them. Here a file longer than the ISO stands in for the
 * stick (the same read path: fs streams with start/end), on loopback only.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMAGE_LABEL, makeHttpTree, startTestMaster, type TestMaster } from "../helpers/master-app.js";

const ISO_BYTES = 2 * 1024 * 1024 + 123;
let work: string;
let master: TestMaster;
let device: Buffer;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-iso-device-"));
  await makeHttpTree(join(work, "http"), 16);
  device = Buffer.alloc(ISO_BYTES + 1024 * 1024);
  for (let i = 0; i < device.length; i++) device[i] = (i * 7 + (i >> 10)) & 0xff;
  await writeFile(join(work, "stick.img"), device);
  master = await startTestMaster({
    storeDir: join(work, "store"),
    httpRoot: join(work, "http"),
    isoDevice: { path: join(work, "stick.img"), sizeBytes: ISO_BYTES },
  });
});

afterAll(async () => {
  await master?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("/isos/<label>.iso from the boot medium", () => {
  it("serves exactly the ISO's bytes, not the device behind them", async () => {
    const response = await fetch(`${master.url}/isos/${IMAGE_LABEL}.iso`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-length")).toBe(String(ISO_BYTES));
    const body = Buffer.from(await response.arrayBuffer());
    expect(body.equals(device.subarray(0, ISO_BYTES))).toBe(true);
  });

  it("answers a byte range with 206 and the exact bytes", async () => {
    const response = await fetch(`${master.url}/isos/${IMAGE_LABEL}.iso`, { headers: { Range: "bytes=1000-1999" } });
    expect(response.status).toBe(206);
    expect(response.headers.get("content-range")).toBe(`bytes 1000-1999/${ISO_BYTES}`);
    expect(Buffer.from(await response.arrayBuffer()).equals(device.subarray(1000, 2000))).toBe(true);
  });

  it("answers a suffix range at the end of the ISO", async () => {
    const response = await fetch(`${master.url}/isos/${IMAGE_LABEL}.iso`, { headers: { Range: "bytes=-100" } });
    expect(response.status).toBe(206);
    expect(Buffer.from(await response.arrayBuffer()).equals(device.subarray(ISO_BYTES - 100, ISO_BYTES))).toBe(true);
  });

  it("refuses a range past the end with 416", async () => {
    const response = await fetch(`${master.url}/isos/${IMAGE_LABEL}.iso`, { headers: { Range: `bytes=${ISO_BYTES}-` } });
    expect(response.status).toBe(416);
    expect(response.headers.get("content-range")).toBe(`bytes */${ISO_BYTES}`);
  });

  it("answers HEAD with the size and no body", async () => {
    const response = await fetch(`${master.url}/isos/${IMAGE_LABEL}.iso`, { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-length")).toBe(String(ISO_BYTES));
    expect(response.headers.get("accept-ranges")).toBe("bytes");
  });
});
