/**
 * The nfs root transport's missing-kernel path (issue #13 item 2), with a real `recon master` inside a
 * network namespace made for this run (DHCP off; peers have fixed addresses). The site config sets
 * `root: nfs` for one host. This host's kernel has no NFS server (no nfsd in /proc/filesystems, no
 * modprobe), so the master must log the typed NFS_UNAVAILABLE error at level=error, naming the
 * settings layer, and keep serving: the other host (root: http) still gets its iPXE script, and so
 * does the nfs host (its initrd would wait for the server, which the error explains). The real NFS
 * serve runs only on a kernel with nfsd: the lab e2e (the master appliance in a VM).
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLab, killNetnsProcesses, runInNetns, type Lab, type SimulatedHost } from "../../src/lab/netns.js";
import { execaRunner } from "../../src/lib/run.js";
import { startMasterInNetns, testMasterArgs, waitForMaster, type MasterProcess } from "../helpers/master-process.js";

const PREFIX = `rcn-nfs${process.pid % 100000}`;
const BRIDGE = "rcnbrnfs";
const MASTER = "10.127.0.1";
const URL = `http://${MASTER}:8080`;
const NFS_MAC = "52:54:00:27:00:01";
const HTTP_MAC = "52:54:00:27:00:02";

let work: string;
let lab: Lab | undefined;
let master: MasterProcess | undefined;
const peers: SimulatedHost[] = [];

async function scriptOf(peer: SimulatedHost): Promise<string> {
  const result = await runInNetns(execaRunner, peer.ns, [
    "curl",
    "--silent",
    "--show-error",
    "--fail",
    "--max-time",
    "10",
    `${URL}/boot/${peer.mac.replaceAll(":", "-")}.ipxe?platform=pcbios&buildarch=i386`,
  ]);
  expect(result.exitCode, result.stderr).toBe(0);
  return result.stdout;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-master-nfs-"));
  await chmod(work, 0o755);
  // An http target's layout (build/http-tree.ts) with small stand-in files: nothing is mounted here.
  await mkdir(join(work, "http", "isos"), { recursive: true });
  await mkdir(join(work, "http", "install", "test"), { recursive: true });
  await writeFile(join(work, "http", "isos", "test.iso"), Buffer.alloc(64 * 1024, 1));
  await writeFile(join(work, "http", "install", "test", "linux"), Buffer.alloc(4096, 2));
  await writeFile(join(work, "http", "install", "test", "initrd"), Buffer.alloc(8192, 3));
  await writeFile(
    join(work, "http", "install", "test", "boot.json"),
    JSON.stringify({ label: "test", arch: "x86_64", volumeId: "RECON", imageKernelArgs: ["console=ttyS0,115200n8"] }),
  );
  await writeFile(
    join(work, "site.yaml"),
    [
      `interface: ${BRIDGE}`,
      `address: ${MASTER}/24`,
      "dhcp: { mode: off }",
      "http: { port: 8080, server: node }",
      "hosts:",
      `  "${NFS_MAC}": { root: nfs }`,
      `  "${HTTP_MAC}": { root: http }`,
      "",
    ].join("\n"),
  );
  lab = await createLab(execaRunner, { prefix: PREFIX, bridge: BRIDGE });
  peers.push(await lab.addHost({ name: "p1", mac: NFS_MAC, address: "10.127.0.11/24" }));
  peers.push(await lab.addHost({ name: "p2", mac: HTTP_MAC, address: "10.127.0.12/24" }));
  master = startMasterInNetns(lab.ns, testMasterArgs(work, { probeTimeoutMs: 1000 }));
  await waitForMaster(master, /msg="master ready"/, 30_000);
}, 60_000);

afterAll(async () => {
  try {
    await master?.stop();
  } finally {
    if (lab) await killNetnsProcesses(execaRunner, [lab.ns, ...peers.map((peer) => peer.ns)]);
    await lab?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  }
});

describe("root: nfs on a kernel without an NFS server", () => {
  it("logs NFS_UNAVAILABLE at level=error, naming the settings layer and the fix", async () => {
    expect(await readFile("/proc/filesystems", "utf8"), "this test is for a host without nfsd").not.toMatch(/\tnfsd\n/);
    const log = master!.log();
    expect(log).toMatch(/level=info component=nfs msg="nfs server wanted" by=hosts\.52:54:00:27:00:01 exports=test clients=10\.127\.0\.0\/24/);
    const error = log.split("\n").find((line) => line.includes('msg="nfs root transport not served: these nodes will not boot"'));
    expect(error, log.slice(-3000)).toBeDefined();
    expect(error).toMatch(/level=error component=nfs /);
    expect(error).toContain("where=hosts.52:54:00:27:00:01");
    expect(error).toContain("code=NFS_UNAVAILABLE");
    expect(error).toContain("no kernel NFS server on this machine (nfsd is not in /proc/filesystems; modprobe nfsd:");
    expect(error).toContain("the nodes of hosts.52:54:00:27:00:01 (root: nfs) cannot boot");
    expect(error).toContain("boot the master from the recon stick");
    expect(error).toContain("set root: http or nbd");
    // Nothing was mounted or exported for it.
    expect(log).not.toContain("nfs export ready");
    expect(await readFile("/proc/self/mountinfo", "utf8")).not.toContain("/run/recon-nfs");
  });

  it("keeps serving: the http host's iPXE script boots over HTTP, and the master stays up", async () => {
    const script = await scriptOf(peers[1]!);
    expect(script).toContain(`root=live:${URL}/isos/test.iso`);
    expect(script).toContain("rd.live.ram=1");
    // The nfs host still gets its script (the console names the NFS source the error above explains).
    expect(await scriptOf(peers[0]!)).toContain(`root=nfs4:${MASTER}:/run/recon-nfs/test:ro`);
    expect(master!.exited()).toBe(false);
  });
});
