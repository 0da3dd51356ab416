/**
 * planMasterNfs, and the order of the commands startMasterNfs runs and undoes, against a recording
 * CommandRunner that keeps a mountinfo file as mount(8) would (the real NFS server needs nfsd, which
 * this host's kernel lacks: the lab e2e runs it; test/integration/master-nfs.test.ts runs the real
 * master into the missing-nfsd error).
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../lib/log.js";
import type { CommandRunner, RunResult } from "../../lib/run.js";
import { parseSiteConfig } from "../../model/site-config.js";
import type { ImageTree } from "../images.js";
import { planMasterNfs, startMasterNfs } from "./master-nfs.js";
import type { NfsPaths } from "./nfs-server.js";

const images: ImageTree[] = [
  { label: "debian-12", arch: "x86_64", kernelArgs: [], root: "/run/recon/medium", from: "own" },
  { label: "rocky-9", arch: "x86_64", kernelArgs: [], root: "/var/lib/recon/images/rocky-9", from: "data-partition" },
];
const config = (yaml: string) => parseSiteConfig(yaml, "site.yaml");
const NFS_HOSTS = 'defaults: { root: http }\nhosts:\n  "52:54:00:00:00:01": { root: nfs }\ngroups:\n  racks: { macs: ["52:54:00:00:00:02"], root: nfs }\n';

describe("planMasterNfs", () => {
  it("serves nothing when no layer sets root: nfs", () => {
    expect(planMasterNfs({ config: config(""), images, address: "10.77.0.1", prefix: 24 })).toBeUndefined();
    expect(planMasterNfs({ config: config('hosts:\n  "52:54:00:00:00:01": { root: nbd }\n'), images, address: "10.77.0.1", prefix: 24 })).toBeUndefined();
  });

  it("exports every image for the layers that want it; on the appliance the own ISO is the live medium", () => {
    const onAppliance = planMasterNfs({ config: config(NFS_HOSTS), images, address: "10.77.0.1", prefix: 24, ownIsoOnDevice: true })!;
    expect(onAppliance.wantedBy).toEqual(["groups.racks", "hosts.52:54:00:00:00:01"]);
    expect(onAppliance.server.exports.map((entry) => `${entry.clients}:${entry.path}`)).toEqual([
      "10.77.0.0/24:/run/recon-nfs/debian-12",
      "10.77.0.0/24:/run/recon-nfs/rocky-9",
    ]);
    expect(onAppliance.server.mounts.map((image) => image.steps[0]!.source)).toEqual(["/run/initramfs/live", "/var/lib/recon/images/rocky-9/isos/rocky-9.iso"]);
    const offAppliance = planMasterNfs({ config: config(NFS_HOSTS), images, address: "10.77.0.1", prefix: 24 })!;
    expect(offAppliance.server.mounts[0]!.steps[0]!.source).toBe("/run/recon/medium/isos/debian-12.iso");
  });
});

/** A runner that records argv and keeps `mountinfo` as the kernel would for mount and umount. */
function fakeSystem(mountinfo: string, options: { modprobe: number; mountdFails?: boolean }) {
  const calls: string[] = [];
  let nextId = 200;
  let nextLoop = 2;
  const result = (command: string, args: string[], exitCode = 0, stderr = ""): RunResult => ({ command, args, exitCode, stdout: "", stderr });
  const runner: CommandRunner = {
    async run(command, args, runOptions) {
      calls.push([command, ...args].join(" "));
      if (command === "modprobe")
        return result(
          command,
          args,
          options.modprobe,
          options.modprobe === 0 ? "" : "modprobe: FATAL: Module nfsd not found in directory /lib/modules/6.1.0-28-amd64\n",
        );
      if (command === "losetup" && args[0] === "--find") return { ...result(command, args), stdout: `/dev/loop${nextLoop++}\n` };
      if (command === "mount") {
        const [source, target] = args.slice(-2) as [string, string];
        const fsType = args[0] === "-t" ? args[1]! : "iso9660";
        const device = fsType === "nfsd" ? "nfsd" : args.includes("bind,ro") ? "/dev/sdb" : source;
        await writeFile(mountinfo, `${await readFile(mountinfo, "utf8")}${nextId++} 27 7:1 / ${target} ro,relatime - ${fsType} ${device} ro\n`);
      }
      if (command === "umount") {
        const lines = (await readFile(mountinfo, "utf8")).split("\n");
        const index = lines.map((line) => line.split(" ")[4]).lastIndexOf(args[0]);
        if (index < 0) return result(command, args, 32, `umount: ${args[0]}: not mounted.\n`);
        lines.splice(index, 1);
        await writeFile(mountinfo, lines.join("\n"));
      }
      if (command === "rpc.mountd" && options.mountdFails) {
        runOptions!.onLine?.("rpc.mountd: Unable to access /proc/fs/nfsd/exports", "stderr");
        return result(command, args, 1);
      }
      if (command === "rpc.mountd") {
        const signal = runOptions!.signal!;
        await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })));
        return result(command, args, 143);
      }
      return result(command, args);
    },
  };
  return { runner, calls };
}

describe("startMasterNfs", () => {
  let dir: string;
  let lines: string[];
  const log = () => createLogger({ component: "nfs" }, { write: (line) => lines.push(line) });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "recon-nfs-unit-"));
    lines = [];
    await writeFile(join(dir, "mountinfo"), "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n");
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const start = async (
    filesystems: string,
    modprobe: number,
    signal = new AbortController().signal,
    mountdFails = false,
    nfsdStats?: NfsPaths["nfsdStats"],
  ) => {
    await writeFile(join(dir, "filesystems"), filesystems);
    const system = fakeSystem(join(dir, "mountinfo"), { modprobe, mountdFails });
    const run = await startMasterNfs({
      config: config(NFS_HOSTS),
      images,
      address: "10.77.0.1",
      prefix: 24,
      runDir: join(dir, "run"),
      runner: system.runner,
      log: log(),
      signal,
      ownIsoOnDevice: true,
      paths: { procFilesystems: join(dir, "filesystems"), mountinfo: join(dir, "mountinfo"), makeMountPoint: async () => undefined, nfsdStats },
    });
    return { run, calls: system.calls };
  };

  it("without nfsd: logs the typed error naming the layers, mounts nothing, and returns no server", async () => {
    const { run, calls } = await start("nodev\tproc\n\tsquashfs\n", 1);
    expect(run).toBeUndefined();
    expect(calls).toEqual(["modprobe nfsd"]);
    const error = lines.find((line) => line.includes("level=error"))!;
    expect(error).toContain('msg="nfs root transport not served: these nodes will not boot"');
    expect(error).toContain("where=groups.racks,hosts.52:54:00:00:00:01");
    expect(error).toContain("code=NFS_UNAVAILABLE");
    expect(error).toContain("no kernel NFS server on this machine");
    expect(error).toContain("modprobe: FATAL: Module nfsd not found");
    expect(error).toMatch(/hint="boot the master from the recon stick .*set root: http or nbd/);
  });

  it("mounts, exports, starts mountd and nfsd in that order; stop undoes it in reverse, once", async () => {
    const { run, calls } = await start("nodev\tproc\nnodev\tnfsd\n", 0);
    expect(run).toBeDefined();
    const started = calls.splice(0);
    await run!.stop();
    await run!.stop();
    expect(started.join("\n")).toBe(`modprobe nfsd
mount -t nfsd nfsd /proc/fs/nfsd
mount -o bind,ro /run/initramfs/live /run/recon-nfs/.mnt/debian-12/iso
losetup --find --show --read-only /run/recon-nfs/.mnt/debian-12/iso/LiveOS/squashfs.img
mount -t squashfs -o ro /dev/loop2 /run/recon-nfs/.mnt/debian-12/squashfs
losetup --find --show --read-only /run/recon-nfs/.mnt/debian-12/squashfs/LiveOS/rootfs.img
mount -t ext4 -o ro,noload /dev/loop3 /run/recon-nfs/debian-12
losetup --find --show --read-only /var/lib/recon/images/rocky-9/isos/rocky-9.iso
mount -t iso9660 -o ro /dev/loop4 /run/recon-nfs/.mnt/rocky-9/iso
losetup --find --show --read-only /run/recon-nfs/.mnt/rocky-9/iso/LiveOS/squashfs.img
mount -t squashfs -o ro /dev/loop5 /run/recon-nfs/.mnt/rocky-9/squashfs
losetup --find --show --read-only /run/recon-nfs/.mnt/rocky-9/squashfs/LiveOS/rootfs.img
mount -t ext4 -o ro,noload /dev/loop6 /run/recon-nfs/rocky-9
exportfs -i -o ro,no_subtree_check,no_root_squash,fsid=ec3e674e-55db-7e86-b73c-aa0fe36c47c7,sec=sys 10.77.0.0/24:/run/recon-nfs/debian-12
exportfs -i -o ro,no_subtree_check,no_root_squash,fsid=2da49ee6-b76a-c8e3-0a05-4a937b71bb11,sec=sys 10.77.0.0/24:/run/recon-nfs/rocky-9
rpc.mountd --foreground --no-nfs-version 2 --no-nfs-version 3
rpc.nfsd --host 10.77.0.1 --no-nfs-version 3 --lease-time 15 --grace-time 15 8`);
    expect(calls.join("\n")).toBe(`exportfs -u 10.77.0.0/24:/run/recon-nfs/debian-12
exportfs -u 10.77.0.0/24:/run/recon-nfs/rocky-9
exportfs -f
rpc.nfsd 0
umount /run/recon-nfs/rocky-9
losetup --detach /dev/loop6
umount /run/recon-nfs/.mnt/rocky-9/squashfs
losetup --detach /dev/loop5
umount /run/recon-nfs/.mnt/rocky-9/iso
losetup --detach /dev/loop4
umount /run/recon-nfs/debian-12
losetup --detach /dev/loop3
umount /run/recon-nfs/.mnt/debian-12/squashfs
losetup --detach /dev/loop2
umount /run/recon-nfs/.mnt/debian-12/iso`);
    expect(lines.filter((line) => line.includes('msg="nfs export ready"')).map((line) => line.replace(/^.*msg=/, "msg="))).toEqual([
      'msg="nfs export ready" label=debian-12 path=/run/recon-nfs/debian-12 clients=10.77.0.0/24',
      'msg="nfs export ready" label=rocky-9 path=/run/recon-nfs/rocky-9 clients=10.77.0.0/24',
    ]);
    expect(await readFile(join(dir, "mountinfo"), "utf8")).not.toContain("recon-nfs");
    expect(await readFile(join(dir, "run", "nfs", "exports"), "utf8")).toContain("/run/recon-nfs/rocky-9 10.77.0.0/24(ro,");
  });

  it("logs nfsd's bytes read (/proc/net/rpc/nfsd of a real server) while it serves, and stops reading on the abort signal", async () => {
    await copyFile(join(import.meta.dirname, "../../../test/fixtures/nfsd/procfs-server.txt"), join(dir, "nfsd"));
    const abort = new AbortController();
    const { run } = await start("nodev\tproc\nnodev\tnfsd\n", 0, abort.signal, false, { file: join(dir, "nfsd"), everyMs: 20 });
    expect(run).toBeDefined();
    const read = () => lines.filter((line) => line.includes('msg="nfs server read"'));
    for (let i = 0; i < 100 && read().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    // Logged once per change, not every read.
    await new Promise((r) => setTimeout(r, 100));
    expect(read().map((line) => line.replace(/^.*msg=/, "msg="))).toEqual([
      'msg="nfs server read" read_bytes=157286400 written_bytes=0 exports=debian-12,rocky-9',
    ]);
    abort.abort();
    await run!.stop();
  });

  it("a restarted master process reuses the mounts the killed one left, and stops on the abort signal", async () => {
    const first = await start("nodev\tnfsd\n", 0);
    expect(first.run).toBeDefined();
    // Killed with -9: no stop; its mounts and nfsd's control file system stay mounted.
    const abort = new AbortController();
    const second = await start("nodev\tnfsd\n", 0, abort.signal);
    expect(second.calls.filter((call) => call.startsWith("mount ")).join("\n")).toBe("");
    expect(lines.filter((line) => line.includes("nfs mount reused from an earlier run"))).toHaveLength(6);
    abort.abort();
    await second.run!.stop();
    expect(second.calls.filter((call) => call.startsWith("umount ")).length).toBe(6);
    expect(await readFile(join(dir, "mountinfo"), "utf8")).not.toContain("recon-nfs");
    await first.run!.stop();
  });

  it("a start that fails (rpc.mountd exits at once) is logged with its words and undone; nfsd never started", async () => {
    const { run, calls } = await start("nodev\tnfsd\n", 0, undefined, true);
    expect(run).toBeUndefined();
    const error = lines.find((line) => line.includes("level=error"))!;
    expect(error).toContain("code=COMMAND_FAILED");
    expect(error).toContain("rpc.mountd did not start: exit 1: rpc.mountd: Unable to access /proc/fs/nfsd/exports");
    expect(calls.filter((call) => call.startsWith("rpc.nfsd"))).toEqual([]);
    expect(calls.filter((call) => call.startsWith("exportfs -u"))).toHaveLength(2);
    expect(calls.filter((call) => call.startsWith("umount "))).toHaveLength(6);
    expect(await readFile(join(dir, "mountinfo"), "utf8")).not.toContain("recon-nfs");
  });
});
