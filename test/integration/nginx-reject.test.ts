/**
 * Early refusals through the nginx front (issue #9 item 5): an upload the master refuses while
 * it streams — a gzip bomb whose first tar header announces a 4 GiB entry, a bad token, a body
 * that is not gzip at all — reaches the client as its 4xx, every time. Before the fix express
 * answered and closed while nginx was still sending the body; nginx saw the reset and told the
 * client 502, which the agent retries for 30 minutes.
 *
 * `recon master` runs in a namespace made here (dhcp off; its nginx listens there only), the
 * client is curl in a peer namespace across the lab bridge, the way a peer's agent reaches it.
 */
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Header } from "tar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLab, runInNetns, type Lab, type SimulatedHost } from "../../src/lab/netns.js";
import { execaRunner } from "../../src/lib/run.js";
import { startMasterInNetns, testMasterArgs, waitForMaster, type MasterProcess } from "../helpers/master-process.js";
import { IMAGE_LABEL, makeHttpTree } from "../helpers/master-app.js";
import { packFiles } from "../helpers/tarballs.js";

const PREFIX = `rcn-r${process.pid % 100000}`;
const MASTER = "10.79.0.1";
const URL = `http://${MASTER}:8080`;
const PEER_MAC = "52:54:00:79:00:01";
const TRIES = 10;

let work: string;
let lab: Lab | undefined;
let proc: MasterProcess | undefined;
let peer: SimulatedHost;
let token: string;

/**
 * A gzip bomb as an attacker (or a broken agent) would send it: one tar header announcing a
 * 4 GiB file, then 4 GiB of zeros. Built from concatenated gzip members (valid gzip, RFC 1952
 * §2.2) so the test compresses 64 MiB once instead of 4 GiB: ~4 MiB on the wire.
 */
function bomb4GiB(): Buffer {
  const size = 4 * 1024 ** 3;
  const header = Buffer.alloc(512);
  new Header({ path: "raw/huge.bin", mode: 0o644, mtime: new Date(0), size, type: "File" }).encode(header, 0);
  const zeros = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
  return Buffer.concat([gzipSync(header), ...Array.from({ length: size / (64 * 1024 * 1024) }, () => zeros), gzipSync(Buffer.alloc(1024))]);
}

/** One upload from the peer like the agent's: Content-Length, no Expect, a fresh connection. */
async function upload(file: string, options: { token?: string; chunked?: boolean } = {}): Promise<{ status: string; body: string }> {
  const out = join(work, "answer.json");
  await rm(out, { force: true });
  const result = await runInNetns(execaRunner, peer.ns, [
    "curl",
    "--silent",
    "--show-error",
    "--max-time",
    "30",
    "-o",
    out,
    "-w",
    "%{http_code}",
    "-X",
    "POST",
    "-H",
    "Expect:",
    "-H",
    "Connection: close",
    "-H",
    "Content-Type: application/gzip",
    "-H",
    `Authorization: Bearer ${options.token ?? token}`,
    ...(options.chunked ? ["-H", "Transfer-Encoding: chunked"] : []),
    "--data-binary",
    `@${file}`,
    `${URL}/api/v1/nodes/${PEER_MAC.replace(/:/g, "-")}/inventory`,
  ]);
  return { status: result.stdout.trim() || `curl exit ${result.exitCode}: ${result.stderr.trim()}`, body: await readFile(out, "utf8").catch(() => "") };
}

async function tally(file: string, options: { token?: string; chunked?: boolean } = {}) {
  const statuses: string[] = [];
  let lastBody = "";
  for (let index = 0; index < TRIES; index++) {
    const answer = await upload(file, options);
    statuses.push(answer.status);
    lastBody = answer.body;
  }
  const counts: Record<string, number> = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  process.stdout.write(`${JSON.stringify({ figure: "nginx-early-reject", file: file.split("/").at(-1), chunked: options.chunked === true, counts })}\n`);
  return { statuses, counts, lastBody };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-nginx-reject-"));
  await chmod(work, 0o755);
  const httpRoot = join(work, "http");
  await makeHttpTree(httpRoot, 64 * 1024);
  const bridge = `rcnrb${process.pid % 100000}`;
  await writeFile(join(work, "site.yaml"), [`interface: ${bridge}`, `address: ${MASTER}/24`, "dhcp:", "  mode: off", "http:", "  port: 8080", ""].join("\n"));
  await writeFile(join(work, "bomb.tar.gz"), bomb4GiB());
  // 40 MiB that is not gzip: beyond nginx's client_max_body_size (32 MiB limit + 1 MiB).
  await writeFile(join(work, "noise.bin"), randomBytes(40 * 1024 * 1024));
  lab = await createLab(execaRunner, { prefix: PREFIX, bridge });
  peer = await lab.addHost({ name: "p", mac: PEER_MAC, address: "10.79.0.50/24" });
  proc = startMasterInNetns(lab.ns, testMasterArgs(work, { httpRoot: httpRoot, imageLabel: IMAGE_LABEL, probeTimeoutMs: 1500 }));
  await waitForMaster(proc, /msg="master ready"/, 30_000);
  expect(proc.log()).toMatch(/msg="http service listening".* server=nginx/);
  // The per-boot token, from the node's iPXE script as a real peer gets it.
  const script = await runInNetns(execaRunner, peer.ns, [
    "curl",
    "--silent",
    "--show-error",
    "--max-time",
    "10",
    `${URL}/boot/${PEER_MAC.replace(/:/g, "-")}.ipxe`,
  ]);
  const found = /recon\.token=(\S+)/.exec(script.stdout)?.[1];
  expect(found, script.stdout + script.stderr).toBeDefined();
  token = found!;
}, 90_000);

afterAll(async () => {
  try {
    await proc?.stop();
  } finally {
    await lab?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  }
});

describe("early refusals through the nginx front", () => {
  it(`a 4 GiB gzip bomb gets its 422 with the reason ${TRIES} times of ${TRIES} (no 502)`, async () => {
    const { statuses, lastBody } = await tally(join(work, "bomb.tar.gz"));
    expect(statuses).toEqual(Array(TRIES).fill("422"));
    expect(JSON.parse(lastBody)).toEqual({
      error: "UPLOAD_REJECTED",
      code: "UPLOAD_REJECTED",
      message: 'upload refused: entry larger than 16777216 bytes: "raw/huge.bin"',
    });
  });

  it(`an upload with a wrong token gets its 401 ${TRIES} times of ${TRIES}`, async () => {
    const { statuses, lastBody } = await tally(join(work, "bomb.tar.gz"), { token: "not-the-token" });
    expect(statuses).toEqual(Array(TRIES).fill("401"));
    expect(JSON.parse(lastBody)).toMatchObject({ code: "UNAUTHORIZED" });
  });

  it("a 40 MiB body gets nginx's 413 at once; sent chunked, a 4xx (never 502) every time", async () => {
    const declared = await tally(join(work, "noise.bin"));
    expect(declared.statuses).toEqual(Array(TRIES).fill("413"));
    const chunked = await tally(join(work, "noise.bin"), { chunked: true });
    expect(chunked.statuses.filter((status) => !/^4\d\d$/.test(status))).toEqual([]);
  });

  it("nothing refused was stored, and the master still takes a good upload afterwards", async () => {
    const uploadsDir = join(work, "data", "nodes", PEER_MAC.replace(/:/g, "-"), "uploads");
    expect(await readdir(uploadsDir).catch(() => [])).toEqual([]);
    const good = join(work, "good.tar.gz");
    await writeFile(good, await packFiles(join(work, "pack"), { "manifest.json": '{"format":"recon-raw/1"}\n', "raw/meminfo.txt": "MemTotal: 1 kB\n" }));
    const answer = await upload(good);
    expect(answer.status, answer.body).toBe("201");
    expect(await readdir(uploadsDir)).toHaveLength(1);
  });
});
