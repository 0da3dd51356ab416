/**
 * Several images and the IP layer (issue #13 items 1 and 4), with a real `recon images add` and a real
 * `recon master` inside a network namespace made for this run (DHCP off: no DHCP server at all; peers
 * have fixed addresses). The per-MAC iPXE scripts of hosts set to `image: rocky-9`, `root: nbd` and
 * `root: nfs`, and of a host whose IP entry overrides its host entry, are compared as whole texts
 * (the per-boot token masked), and the other image's kernel is served byte-identical from the data
 * partition. An incomplete image on the data partition is skipped with an error line; the rest is served.
 * The hosts set to `root: nbd` make the master start nbd-server on its boot address, inside the
 * namespace: libnbd's nbdcopy (a userspace NBD client; this host has no nbd kernel module for
 * nbd-client) reads the ISO's first blocks from a peer's namespace, byte-identical with the ISO, and
 * the transaction logs give the bytes read (the master logs them too).
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLab, killNetnsProcesses, runInNetns, type Lab, type SimulatedHost } from "../../src/lab/netns.js";
import { execaRunner } from "../../src/lib/run.js";
import { parseTransactionLog, sumTransactionSummaries } from "../../src/master/nbd/transaction-log.js";
import { startMasterInNetns, testMasterArgs, waitForMaster, type MasterProcess } from "../helpers/master-process.js";
import { reconBin, repoRoot } from "../helpers/repo.js";

const PREFIX = `rcn-i${process.pid % 100000}`;
const BRIDGE = "rcnbr13";
const MASTER = "10.113.0.1";
const URL = `http://${MASTER}:8080`;
const mac = (n: number) => `52:54:00:13:00:${n.toString(16).padStart(2, "0")}`;
const ip = (n: number) => `10.113.0.${10 + n}`;

let work: string;
let lab: Lab | undefined;
let master: MasterProcess | undefined;
const peers: SimulatedHost[] = [];
const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/** An http target's layout (build/http-tree.ts): the ISO, kernel, initrd and boot.json with the ISO's sum. */
async function writeHttpTree(root: string, label: string, volumeId: string, kernelArgs: string[], seed: number): Promise<void> {
  await mkdir(join(root, "isos"), { recursive: true });
  await mkdir(join(root, "install", label), { recursive: true });
  // Random, so a byte-identical read over NBD says the right bytes came, not only the right count.
  const iso = randomBytes(256 * 1024);
  await writeFile(join(root, "isos", `${label}.iso`), iso);
  await writeFile(join(root, "install", label, "linux"), Buffer.alloc(4096, seed + 1));
  await writeFile(join(root, "install", label, "initrd"), Buffer.alloc(8192, seed + 2));
  await writeFile(
    join(root, "install", label, "boot.json"),
    JSON.stringify({
      label,
      arch: "x86_64",
      volumeId,
      iso: { path: `isos/${label}.iso`, sizeBytes: iso.length, sha256: sha256(iso) },
      imageKernelArgs: kernelArgs,
    }),
  );
}

async function peerCurl(peer: SimulatedHost, url: string, out?: string) {
  return runInNetns(execaRunner, peer.ns, ["curl", "--silent", "--show-error", "--fail", "--max-time", "10", ...(out ? ["--output", out] : []), url]);
}

/** The script for a BIOS machine, its per-boot token masked (it changes with every request). */
async function scriptOf(peer: SimulatedHost): Promise<string> {
  const result = await peerCurl(peer, `${URL}/boot/${peer.mac.replaceAll(":", "-")}.ipxe?platform=pcbios&buildarch=i386`);
  expect(result.exitCode, result.stderr).toBe(0);
  return result.stdout.replace(/recon\.token=\S+/, "recon.token=<token>");
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-multi-image-"));
  await chmod(work, 0o755);
  await writeHttpTree(join(work, "http"), "test", "RECON", ["console=ttyS0,115200n8"], 7);
  await writeHttpTree(join(work, "rocky-http"), "rocky-9", "ROCKY_9", ["inst.text"], 21);
  const added = await execa(reconBin, ["images", "add", join(work, "rocky-http"), "--data-dir", join(work, "data")], { cwd: repoRoot, reject: false });
  expect(added.exitCode, added.stderr).toBe(0);
  // Incomplete: no initrd. Logged and skipped at start.
  await mkdir(join(work, "data", "images", "broken-1", "install", "broken-1"), { recursive: true });
  await mkdir(join(work, "data", "images", "broken-1", "isos"), { recursive: true });
  await writeFile(join(work, "data", "images", "broken-1", "isos", "broken-1.iso"), "x");
  await writeFile(join(work, "data", "images", "broken-1", "install", "broken-1", "linux"), "x");
  await writeFile(
    join(work, "site.yaml"),
    [
      `interface: ${BRIDGE}`,
      `address: ${MASTER}/24`,
      "dhcp: { mode: off }",
      "http: { port: 8080, server: node }",
      "hosts:",
      `  "${mac(1)}": { image: rocky-9 }`,
      `  "${mac(2)}": { root: nbd }`,
      `  "${mac(3)}": { root: nfs }`,
      `  "${mac(4)}": { image: rocky-9, root: nbd, kernelArgs: [by-host], postAction: stay }`,
      "ips:",
      `  "${ip(4)}": { image: test, root: http, kernelArgs: [by-ip], postAction: reboot }`,
      "",
    ].join("\n"),
  );
  lab = await createLab(execaRunner, { prefix: PREFIX, bridge: BRIDGE });
  for (let n = 1; n <= 4; n++) peers.push(await lab.addHost({ name: `p${n}`, mac: mac(n), address: `${ip(n)}/24` }));
  master = startMasterInNetns(lab.ns, testMasterArgs(work, { probeTimeoutMs: 1000 }));
  await waitForMaster(master, /msg="master ready"/, 30_000);
}, 90_000);

afterAll(async () => {
  try {
    await master?.stop();
  } finally {
    // Anything still running in the lab's namespaces (nbd-server's per-client children, a client) ends first.
    if (lab) await killNetnsProcesses(execaRunner, [lab.ns, ...peers.map((peer) => peer.ns)]);
    await lab?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  }
});

describe("several images and the IP layer", () => {
  it("recon images add put the tree on the data partition with its sums, nothing half-copied left", async () => {
    const dir = join(work, "data", "images", "rocky-9");
    const sums = await readFile(join(dir, "SHA256SUMS"), "utf8");
    const iso = await readFile(join(dir, "isos", "rocky-9.iso"));
    expect(sums).toContain(`${sha256(iso)}  isos/rocky-9.iso\n`);
    expect(sums.trim().split("\n")).toHaveLength(4);
    expect((await readdir(join(work, "data", "images"))).sort()).toEqual(["broken-1", "rocky-9"]);
  });

  it("a second add of the same label is refused", async () => {
    const again = await execa(reconBin, ["images", "add", join(work, "rocky-http"), "--data-dir", join(work, "data")], { cwd: repoRoot, reject: false });
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toContain("already exists: the data partition holds an image labelled rocky-9");
  });

  it("serves its own image and the data partition's, and skips the incomplete one with the reason", () => {
    const log = master!.log();
    expect(log).toMatch(/msg="serving image" image=test arch=x86_64 from=own/);
    expect(log).toMatch(/msg="serving image" image=rocky-9 arch=x86_64 from=data-partition/);
    expect(log).toMatch(
      /level=error component=images msg="image skipped: its tree is incomplete" image=broken-1 .*broken-1\/install\/broken-1\/initrd is missing/,
    );
  });

  it.each([
    [1, "image-rocky-9"],
    [2, "root-nbd"],
    [3, "root-nfs"],
    [4, "ip-over-host"],
  ])("peer %i's per-MAC script (%s) names the right kernel, initrd and root", async (n, name) => {
    await expect(await scriptOf(peers[n - 1]!)).toMatchFileSnapshot(`__snapshots__/multi-image.${name}.ipxe`);
  });

  it("sends the other image's kernel and ISO byte-identical from the data partition", async () => {
    for (const path of ["install/rocky-9/linux", "isos/rocky-9.iso"]) {
      const out = join(work, `fetched-${path.replaceAll("/", "-")}`);
      const result = await peerCurl(peers[0]!, `${URL}/${path}`, out);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(sha256(await readFile(out))).toBe(sha256(await readFile(join(work, "rocky-http", path))));
    }
  });

  it("runs nbd-server on the boot address for the root: nbd hosts; a peer reads the ISO's first blocks byte-identical", async () => {
    const log = master!.log();
    expect(log).toMatch(/level=info component=nbd msg="nbd-server wanted" by=hosts\.52:54:00:13:00:02,hosts\.52:54:00:13:00:04 exports=test,rocky-9/);
    expect(log).toMatch(/level=info component=nbd msg="nbd-server serving" pid=\d+ address=10\.113\.0\.1 port=10809 exports=test,rocky-9/);
    // The nfs host: this host's kernel has no NFS server (test/integration/master-nfs.test.ts); the nbd hosts are not named.
    expect(log).toMatch(
      /level=error component=nfs msg="nfs root transport not served: these nodes will not boot" where=hosts\.52:54:00:13:00:03 code=NFS_UNAVAILABLE/,
    );
    expect(log).not.toMatch(/not served.*where=\S*hosts\.52:54:00:13:00:0[24]/);
    // nbd-server listens on the boot address only (listenaddr), never on every address.
    const listening = await runInNetns(execaRunner, lab!.ns, ["ss", "-Htln", "sport = :10809"]);
    expect(
      listening.stdout
        .trim()
        .split("\n")
        .map((line) => line.split(/\s+/)[3]),
    ).toEqual(["10.113.0.1:10809"]);
    const first = 64 * 1024;
    const out = join(work, "nbd-first-blocks");
    const read = await runInNetns(
      execaRunner,
      peers[1]!.ns,
      ["sh", "-c", `nbdcopy -C 1 -R 1 --request-size=${first} nbd://${MASTER}/test - | head -c ${first} > ${out}`],
      {
        timeoutMs: 20_000,
      },
    );
    expect(read.exitCode, read.stderr).toBe(0);
    const iso = await readFile(join(work, "http", "isos", "test.iso"));
    expect(sha256(await readFile(out))).toBe(sha256(iso.subarray(0, first)));
    // The whole ISO by the other image's export too, to see the count: exactly its size.
    const whole = await runInNetns(execaRunner, peers[1]!.ns, ["nbdcopy", "-C", "1", "--no-extents", `nbd://${MASTER}/rocky-9`, "null:"], {
      timeoutMs: 20_000,
    });
    expect(whole.exitCode, whole.stderr).toBe(0);
  });

  it("the transaction logs give the bytes read per export, and the master logs them", async () => {
    const nbdDir = join(work, "run", "nbd");
    const readOf = async (label: string) => {
      const files = (await readdir(nbdDir)).filter((name) => name.startsWith(`${label}.trlog`));
      return sumTransactionSummaries(files.map((name) => parseTransactionLog(readFileSync(join(nbdDir, name)))));
    };
    const rocky = await readOf("rocky-9");
    expect(rocky).toMatchObject({ readBytes: 256 * 1024, highestReadEnd: 256 * 1024, errors: 0, writes: 0 });
    const test = await readOf("test");
    // The first 64 KiB, and at most the request nbdcopy had in flight when head closed the pipe.
    expect(test.readBytes).toBeGreaterThanOrEqual(64 * 1024);
    expect(test.readBytes).toBeLessThanOrEqual(3 * 64 * 1024);
    // The master reads the same logs every 10 s and logs what changed.
    await waitForMaster(master!, /msg="nbd export read" export=rocky-9 read_bytes=262144 export_bytes=262144/, 15_000);
    expect(master!.log()).toMatch(new RegExp(`msg="nbd export read" export=test read_bytes=${test.readBytes} export_bytes=262144`));
  }, 20_000);

  it("stops nbd-server with the master", async () => {
    await master!.stop();
    expect(master!.log()).toMatch(/level=info component=nbd msg="nbd-server stopped"/);
    const left = await runInNetns(execaRunner, lab!.ns, ["ss", "-Htln", "sport = :10809"]);
    expect(left.stdout.trim()).toBe("");
  }, 30_000);
});
