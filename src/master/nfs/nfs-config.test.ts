import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseMountinfo } from "./mountinfo.js";
import {
  exportfsArgs,
  exportfsFlushArgs,
  exportfsUnexportArgs,
  filesystemsHaveNfsd,
  modprobeNfsdArgs,
  mountArgs,
  mountNfsdFsArgs,
  nfsFsid,
  planImageMounts,
  planMountActions,
  planNfsServer,
  renderExports,
  rpcMountdArgs,
  rpcNfsdArgs,
  rpcNfsdStopArgs,
  subnetOf,
  umountArgs,
  unmountOrder,
  type MountAction,
} from "./nfs-config.js";

const fixtures = join(import.meta.dirname, "../../../test/fixtures/nfs");
const plan = planNfsServer({
  address: "10.77.0.1",
  prefix: 24,
  images: [
    { label: "debian-12", iso: "/run/initramfs/live", isoMounted: true },
    { label: "rocky-9", iso: "/var/lib/recon/images/rocky-9/isos/rocky-9.iso" },
  ],
});
const argv = (command: string, args: string[]) => [command, ...args].join(" ");
const show = (actions: MountAction[]) =>
  actions.map((a) => (a.kind === "umount" ? `umount ${a.target}` : `${a.kind} ${argv("mount", mountArgs(a.step, "/dev/loopN"))}`)).join("\n");

describe("planNfsServer", () => {
  it("exports every image read-only to the boot subnet, each with its own stable fsid", () => {
    expect(renderExports(plan)).toBe(`# Written by recon (src/master/nfs/nfs-config.ts) at each start; exported with exportfs -i, not read from here.
/run/recon-nfs/debian-12 10.77.0.0/24(ro,no_subtree_check,no_root_squash,fsid=ec3e674e-55db-7e86-b73c-aa0fe36c47c7,sec=sys)
/run/recon-nfs/rocky-9 10.77.0.0/24(ro,no_subtree_check,no_root_squash,fsid=2da49ee6-b76a-c8e3-0a05-4a937b71bb11,sec=sys)
`);
    expect(nfsFsid("debian-12")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(nfsFsid("debian-12")).toBe(nfsFsid("debian-12"));
    // The same build under a second label (its ext4 UUID is the same) gets an fsid of its own.
    expect(nfsFsid("debian-12-alt")).not.toBe(nfsFsid("debian-12"));
  });

  it("takes the subnet from the boot address and prefix", () => {
    expect(subnetOf("10.77.0.1", 24)).toBe("10.77.0.0/24");
    expect(subnetOf("192.168.17.130", 25)).toBe("192.168.17.128/25");
    expect(subnetOf("172.16.5.9", 16)).toBe("172.16.0.0/16");
    expect(() => subnetOf("10.77.0", 24)).toThrow(/not an IPv4/);
  });

  it("mounts the ISO, its squashfs and the ext4 root tree read-only; the appliance's own ISO is bound from the live medium", () => {
    const mounts = plan.mounts.flatMap((image) => image.steps.map((step) => argv("mount", mountArgs(step, "/dev/loopN"))));
    expect(mounts.join("\n")).toBe(`mount -o bind,ro /run/initramfs/live /run/recon-nfs/.mnt/debian-12/iso
mount -t squashfs -o ro /dev/loopN /run/recon-nfs/.mnt/debian-12/squashfs
mount -t ext4 -o ro,noload /dev/loopN /run/recon-nfs/debian-12
mount -t iso9660 -o ro /dev/loopN /run/recon-nfs/.mnt/rocky-9/iso
mount -t squashfs -o ro /dev/loopN /run/recon-nfs/.mnt/rocky-9/squashfs
mount -t ext4 -o ro,noload /dev/loopN /run/recon-nfs/rocky-9`);
    // Off the appliance (or for the own image in an http root) the own ISO is a file like any other.
    expect(argv("mount", mountArgs(planImageMounts({ label: "test", iso: "/srv/http/isos/test.iso" }).steps[0]!, "/dev/loopN"))).toBe(
      "mount -t iso9660 -o ro /dev/loopN /run/recon-nfs/.mnt/test/iso",
    );
    expect(unmountOrder(plan.mounts).join("\n")).toBe(`/run/recon-nfs/rocky-9
/run/recon-nfs/.mnt/rocky-9/squashfs
/run/recon-nfs/.mnt/rocky-9/iso
/run/recon-nfs/debian-12
/run/recon-nfs/.mnt/debian-12/squashfs
/run/recon-nfs/.mnt/debian-12/iso`);
  });

  it("builds the argv of every command: NFSv4 only, on the boot address, -i so /etc/exports is not read", () => {
    const rocky = plan.exports[1]!;
    expect(
      [
        argv("modprobe", modprobeNfsdArgs()),
        argv("mount", mountNfsdFsArgs()),
        argv("exportfs", exportfsArgs(rocky)),
        argv("rpc.mountd", rpcMountdArgs()),
        argv("rpc.nfsd", rpcNfsdArgs(plan)),
        argv("exportfs", exportfsUnexportArgs(rocky)),
        argv("exportfs", exportfsFlushArgs()),
        argv("rpc.nfsd", rpcNfsdStopArgs()),
        argv("umount", umountArgs(rocky.path)),
      ].join("\n"),
    ).toBe(`modprobe nfsd
mount -t nfsd nfsd /proc/fs/nfsd
exportfs -i -o ro,no_subtree_check,no_root_squash,fsid=2da49ee6-b76a-c8e3-0a05-4a937b71bb11,sec=sys 10.77.0.0/24:/run/recon-nfs/rocky-9
rpc.mountd --foreground --no-nfs-version 2 --no-nfs-version 3
rpc.nfsd --host 10.77.0.1 --no-nfs-version 3 --lease-time 15 --grace-time 15 8
exportfs -u 10.77.0.0/24:/run/recon-nfs/rocky-9
exportfs -f
rpc.nfsd 0
umount /run/recon-nfs/rocky-9`);
  });
});

describe("filesystemsHaveNfsd", () => {
  it("refuses this host's kernel and accepts a kernel that lists nfsd", () => {
    const host = readFileSync(join(fixtures, "filesystems-host.txt"), "utf8");
    expect(host).toMatch(/\tsquashfs\n/);
    expect(filesystemsHaveNfsd(host)).toBe(false);
    // fs/filesystems.c prints "nodev\t<name>" for a file system without a device, as nfsd is.
    expect(filesystemsHaveNfsd(`${host}nodev\tnfsd\n`)).toBe(true);
    expect(filesystemsHaveNfsd("nodev\tnfsd4\n")).toBe(false);
  });
});

describe("planMountActions", () => {
  const mountinfo = parseMountinfo(readFileSync(join(fixtures, "mountinfo-host.txt"), "utf8"));

  it("parses this host's mountinfo, escapes undone", () => {
    expect(mountinfo.find((entry) => entry.mountPoint === "/run/recon-nfs/debian-12")).toEqual({
      mountId: 116,
      parentId: 27,
      mountPoint: "/run/recon-nfs/debian-12",
      fsType: "ext4",
      source: "/dev/loop2",
      options: ["ro", "relatime"],
    });
    expect(mountinfo.find((entry) => entry.source === "recon-cap")?.mountPoint).toBe("/tmp/nfscap/a b");
    expect(mountinfo.find((entry) => entry.mountPoint === "/")?.fsType).toBe("ext4");
  });

  it("mounts everything on a fresh boot", () => {
    expect(show(planMountActions(plan.mounts.slice(1), parseMountinfo("")))).toBe(`mount mount -t iso9660 -o ro /dev/loopN /run/recon-nfs/.mnt/rocky-9/iso
mount mount -t squashfs -o ro /dev/loopN /run/recon-nfs/.mnt/rocky-9/squashfs
mount mount -t ext4 -o ro,noload /dev/loopN /run/recon-nfs/rocky-9`);
  });

  it("takes down a partial chain of an earlier run top first and mounts it again; other images are mounted", () => {
    // The host's mountinfo has debian-12's squashfs and ext4 mounted, not its ISO (no iso9660 here).
    expect(show(planMountActions(plan.mounts, mountinfo))).toBe(`umount /run/recon-nfs/debian-12
umount /run/recon-nfs/.mnt/debian-12/squashfs
mount mount -o bind,ro /run/initramfs/live /run/recon-nfs/.mnt/debian-12/iso
mount mount -t squashfs -o ro /dev/loopN /run/recon-nfs/.mnt/debian-12/squashfs
mount mount -t ext4 -o ro,noload /dev/loopN /run/recon-nfs/debian-12
mount mount -t iso9660 -o ro /dev/loopN /run/recon-nfs/.mnt/rocky-9/iso
mount mount -t squashfs -o ro /dev/loopN /run/recon-nfs/.mnt/rocky-9/squashfs
mount mount -t ext4 -o ro,noload /dev/loopN /run/recon-nfs/rocky-9`);
  });

  it("reuses a whole chain, and unmounts the mounts of an image no longer served", () => {
    // The chain the host has mounted (squashfs → ext4), as one image's plan.
    const twoSteps = [{ label: "debian-12", steps: planImageMounts({ label: "debian-12", iso: "/x.iso" }).steps.slice(1) }];
    expect(show(planMountActions(twoSteps, mountinfo))).toBe(`reuse mount -t squashfs -o ro /dev/loopN /run/recon-nfs/.mnt/debian-12/squashfs
reuse mount -t ext4 -o ro,noload /dev/loopN /run/recon-nfs/debian-12`);
    expect(
      show(planMountActions(plan.mounts.slice(1), mountinfo))
        .split("\n")
        .slice(0, 2),
    ).toEqual(["umount /run/recon-nfs/debian-12", "umount /run/recon-nfs/.mnt/debian-12/squashfs"]);
  });
});
