/**
 * Several images and the IP layer (issue #13 items 1 and 4), with a real `recon images add` and a real
 * `recon master` inside a network namespace made for this run (DHCP off: no DHCP server at all; peers
 * have fixed addresses). The per-MAC iPXE scripts of hosts set to `image: rocky-9`, `root: nbd` and
 * `root: nfs`, and of a host whose IP entry overrides its host entry, are compared as whole texts
 * (the per-boot token masked), and the other image's kernel is served byte-identical from the data
 * partition. An incomplete image on the data partition is skipped with an error line; the rest is served.
 */
import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLab, runInNetns, type Lab, type SimulatedHost } from "../../src/lab/netns.js";
import { execaRunner } from "../../src/lib/run.js";
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
  const iso = Buffer.alloc(256 * 1024, seed);
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
});
