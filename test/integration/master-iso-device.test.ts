/**
 * On the appliance the ISO peers boot is the master's boot medium: the first N bytes of a block
 * device, with the data partition after them. Here a file longer than the ISO stands in for the
 * stick (the same read path: fs streams with start/end), on loopback only.
 */
import { lstat, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { createLogger } from "../../src/lib/log.js";
import { execaRunner } from "../../src/lib/run.js";
import { placeForPeers, stageIsoInRam } from "../../src/master/live-image.js";
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
  // The staging test mounts a tmpfs below work/: unmount it (bounded, by path) before removing.
  if (work) await execa("umount", [join(work, "staged", "isos")], { reject: false, timeout: 10_000 });
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

describe("staging the ISO in RAM (nginx can then sendfile it)", () => {
  it("copies exactly the ISO's bytes into a tmpfs on isos/, under the name nginx serves, and logs progress", async () => {
    const lines: string[] = [];
    const log = createLogger({ component: "iso" }, { write: (line) => lines.push(line) });
    const httpRoot = join(work, "staged");
    const staged = await stageIsoInRam(execaRunner, log, { httpRoot, label: IMAGE_LABEL, isoDevice: { path: join(work, "stick.img"), sizeBytes: ISO_BYTES } });
    expect(staged, lines.join("\n")).toBe(true);
    const mounts = await execa("findmnt", ["--json", "--target", join(httpRoot, "isos")]);
    expect(JSON.parse(mounts.stdout).filesystems[0]).toMatchObject({ fstype: "tmpfs", target: join(httpRoot, "isos") });
    expect((await readFile(join(httpRoot, "isos", `${IMAGE_LABEL}.iso`))).equals(device.subarray(0, ISO_BYTES))).toBe(true);
    expect(await readdir(join(httpRoot, "isos"))).toEqual([`${IMAGE_LABEL}.iso`]);
    expect(lines.some((line) => line.includes('msg="staging the ISO in RAM" percent='))).toBe(true);
    expect(lines.at(-1)).toContain("ISO staged in RAM");
  });

  it("keeps the device route when memory is short, and says why", async () => {
    const lines: string[] = [];
    const log = createLogger({ component: "iso" }, { write: (line) => lines.push(line) });
    const meminfo = join(work, "meminfo");
    await writeFile(meminfo, "MemTotal: 2000000 kB\nMemAvailable:  900000 kB\n");
    const staged = await stageIsoInRam(execaRunner, log, {
      httpRoot: join(work, "short"),
      label: IMAGE_LABEL,
      isoDevice: { path: join(work, "stick.img"), sizeBytes: ISO_BYTES },
      meminfoPath: meminfo,
    });
    expect(staged).toBe(false);
    expect(lines.join("\n")).toMatch(/not staged in RAM.*would leave less than 1024 MiB/);
  });
});

describe("kernel and initrd for the nginx front", () => {
  it("links a world-readable file and copies a 0600 one (dracut's initrd) as 0644", async () => {
    const dir = join(work, "place");
    await execa("mkdir", ["-p", join(dir, "live"), join(dir, "http")]);
    await writeFile(join(dir, "live", "linux"), "kernel", { mode: 0o644 });
    await writeFile(join(dir, "live", "initrd"), "initrd bytes", { mode: 0o600 });
    expect(await placeForPeers(join(dir, "live", "linux"), join(dir, "http", "linux"))).toBe("link");
    expect(await placeForPeers(join(dir, "live", "initrd"), join(dir, "http", "initrd"))).toBe("copy");
    const copied = await stat(join(dir, "http", "initrd"));
    expect(copied.mode & 0o777).toBe(0o644);
    expect(await readFile(join(dir, "http", "initrd"), "utf8")).toBe("initrd bytes");
    expect((await lstat(join(dir, "http", "linux"))).isSymbolicLink()).toBe(true);
  });
});
