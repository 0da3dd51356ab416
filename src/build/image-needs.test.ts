import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkImageNeeds, describeMissing, IMAGE_NEEDS, neededPaths, NEEDED_TOOLS, resolveInRoot, type ImageNeeds } from "./image-needs.js";

const needs: ImageNeeds = {
  tools: [
    { name: "lshw", roles: ["agent"], from: "test" },
    { name: "modprobe", roles: ["live"], from: "test" },
    { name: "dnsmasq", roles: ["master"], from: "test" },
  ],
  files: [{ path: "usr/lib/ipxe/undionly.kpxe", why: "test" }],
  snapshot: {
    kernel: "6.1.0-1-amd64",
    takenFrom: "test",
    modules: ["kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko", "kernel/drivers/net/ethernet/broadcom/tg3.ko"],
    firmware: ["tigon/tg3.bin", "intel/ice/ddp/ice.pkg"],
    tools: { lshw: "usr/bin/lshw", modprobe: "usr/sbin/modprobe", dnsmasq: "usr/sbin/dnsmasq" },
    libraries: ["usr/lib/x86_64-linux-gnu/libc.so.6"],
  },
};

let root: string;
async function put(path: string): Promise<void> {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), "x");
}
async function link(path: string, target: string): Promise<void> {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await symlink(target, join(root, path));
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "recon-needs-"));
  await link("sbin", "usr/sbin");
  await put("usr/bin/lshw");
  await put("usr/bin/kmod");
  // Debian's own absolute link: it must resolve inside the image root, not on this host.
  await link("usr/sbin/modprobe", "/bin/kmod");
  await link("bin", "usr/bin");
  await put("usr/lib/ipxe/undionly.kpxe");
  await put("usr/lib/modules/6.1.0-1-amd64/kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko");
  // A distribution that compresses its modules still has the driver.
  await put("usr/lib/modules/6.1.0-1-amd64/kernel/drivers/net/ethernet/broadcom/tg3.ko.xz");
  await put("usr/lib/firmware/tigon/tg3.bin");
  await put("usr/lib/x86_64-linux-gnu/libc.so.6");
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("checkImageNeeds", () => {
  it("names exactly what the root lacks", async () => {
    const report = await checkImageNeeds(root, needs);
    expect(report.kernels).toEqual(["6.1.0-1-amd64"]);
    expect(report.missing).toEqual({ tools: ["dnsmasq"], files: [], modules: [], firmware: ["intel/ice/ddp/ice.pkg"], libraries: [] });
    expect(describeMissing(report)).toEqual(["tools (1): dnsmasq", "firmware (1): intel/ice/ddp/ice.pkg"]);
  });

  it("sees a dangling link as missing, and checks every kernel present", async () => {
    await rm(join(root, "usr/bin/kmod"));
    await put("usr/lib/modules/6.1.0-2-amd64/kernel/drivers/net/ethernet/broadcom/tg3.ko");
    const report = await checkImageNeeds(root, needs);
    expect(report.missing.tools).toEqual(["modprobe", "dnsmasq"]);
    expect(report.missing.modules).toEqual(["6.1.0-2-amd64/kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko"]);
  });

  it("reports every module missing when the root has no kernel modules at all", async () => {
    await rm(join(root, "usr/lib/modules"), { recursive: true });
    expect((await checkImageNeeds(root, needs)).missing.modules).toEqual(needs.snapshot.modules);
  });
});

describe("resolveInRoot", () => {
  it("follows relative and absolute links inside the root and stops on loops", async () => {
    expect(await resolveInRoot(root, "sbin/modprobe")).toBe("usr/bin/kmod");
    await link("loop-a", "loop-b");
    await link("loop-b", "loop-a");
    expect(await resolveInRoot(root, "loop-a")).toBeUndefined();
    expect(await resolveInRoot(root, "usr/lib/../bin/lshw")).toBe("usr/bin/lshw");
  });
});

describe("the needs list", () => {
  it("has a snapshot path for every tool and names the NIC classes' modules and firmware", () => {
    const { snapshot } = IMAGE_NEEDS;
    expect(NEEDED_TOOLS.filter((tool) => !(tool.name in snapshot.tools))).toEqual([]);
    expect(snapshot.modules).toEqual(expect.arrayContaining(["kernel/drivers/net/ethernet/intel/ice/ice.ko", "kernel/drivers/net/ethernet/mellanox/mlx5/core/mlx5_core.ko", "kernel/drivers/scsi/megaraid/megaraid_sas.ko", "kernel/drivers/net/virtio_net.ko"]));
    expect(snapshot.firmware).toEqual(expect.arrayContaining(["tigon/tg3.bin", "intel/ice/ddp/ice.pkg", "qed/qed_init_values_zipped-8.59.1.0.bin"]));
    expect(new Set(neededPaths(IMAGE_NEEDS)).size).toBe(neededPaths(IMAGE_NEEDS).length);
  });
});
