/**
 * The GRUB texts the shim → signed network GRUB chains read, as whole files under __snapshots__/: by TFTP (the
 * chain file every GRUB reads first, a machine's own file for a boot and for an ignore plan) and by HTTP (UEFI
 * HTTP boot's chain file and a machine's own file, kernel and initrd on GRUB's own $root).
 */
import { describe, expect, it } from "vitest";
import { parseSiteConfig } from "../model/site-config.js";
import { planBoot, type BootPlan, type BootServer } from "./plan-boot.js";
import { GRUB_NODE_DIR, grubNodeFile, renderGrubChainConfig, renderGrubHttpChainConfig, renderGrubNodeConfig } from "./render-grub.js";

const server: BootServer = {
  address: "10.20.0.1",
  httpPort: 8080,
  imageLabel: "debian-12",
  imageArch: "x86_64",
  arm64Firmware: false,
  imageKernelArgs: ["rd.live.image"],
};
const config = parseSiteConfig(`
defaults:
  consoles: ["ttyS1,115200n8"]
hosts:
  52:54:00:00:00:02: { action: ignore }
  52:54:00:00:00:03: { postAction: reboot, kernelArgs: ["x=$y"], hostname: db-1 }
`);

const grubPlan = (mac: string, token?: string): BootPlan => planBoot({ mac, arch: "efi64", loader: "grub" }, config, undefined, server, token);

describe("renderGrubChainConfig", () => {
  it("sources the machine's own file by TFTP, a bounded number of times, then returns to the firmware", async () => {
    await expect(renderGrubChainConfig({ tftpServer: "10.20.0.1", waitSeconds: 10 })).toMatchFileSnapshot("__snapshots__/render-grub.chain.cfg");
  });

  it("tries at least once", () => {
    expect(renderGrubChainConfig({ tftpServer: "10.20.0.1", waitSeconds: 0 })).toContain("\nfor try in 1; do\n");
    expect(renderGrubChainConfig({ tftpServer: "10.20.0.1", waitSeconds: 3 })).toContain("\nfor try in 1 2 3; do\n");
  });
});

describe("renderGrubNodeConfig", () => {
  it("boot: kernel and initrd by TFTP from the master, every argument single-quoted, no initrd=", async () => {
    const plan = grubPlan("52:54:00:00:00:03", "tok-$1");
    expect(plan).toMatchObject({ kind: "boot", loader: "grub" });
    const text = renderGrubNodeConfig(plan, { via: "tftp", server: server.address });
    await expect(text).toMatchFileSnapshot("__snapshots__/render-grub.node-boot.cfg");
    expect(text).not.toContain("initrd=");
    // GRUB expands `$` only outside single quotes: the host's argument and the token stay literal.
    expect(text).toContain(" 'x=$y'");
    expect(text).toContain(" 'recon.token=tok-$1' ");
  });

  it("ignore: says why (a reason with ' and $ kept literal, the quote dropped) and exits to the firmware", async () => {
    const ignored = grubPlan("52:54:00:00:00:02");
    expect(ignored.kind).toBe("ignore");
    const text = renderGrubNodeConfig({ ...ignored, reason: "it's ${net_default_ip} $(reboot)\nlinux /evil" } as BootPlan, {
      via: "tftp",
      server: server.address,
    });
    await expect(text).toMatchFileSnapshot("__snapshots__/render-grub.node-ignore.cfg");
    expect(text.split("\n").filter((line) => line.startsWith("linux"))).toEqual([]);
  });

  it("names the per-MAC file as GRUB's $net_default_mac spells it, under the chain file's directory", () => {
    expect(grubNodeFile("52:54:00:12:34:56")).toBe("grub/nodes/52:54:00:12:34:56.cfg");
    expect(renderGrubChainConfig({ tftpServer: "10.20.0.1", waitSeconds: 1 })).toContain(`(tftp,10.20.0.1)/${GRUB_NODE_DIR}/\${net_default_mac}.cfg`);
  });
});

describe("the HTTP-boot GRUB files", () => {
  it("chain: the machine's own file by HTTP from GRUB's $root, once (it is rendered on request), then back to the firmware", async () => {
    const text = renderGrubHttpChainConfig();
    await expect(text).toMatchFileSnapshot("__snapshots__/render-grub.http-chain.cfg");
    expect(text).toContain(`\nsource /${GRUB_NODE_DIR}/\${net_default_mac}.cfg\n`);
    expect(text).not.toContain("tftp");
    expect(text.trimEnd().split("\n").at(-1)).toBe("exit 1");
  });

  it("node: kernel and initrd by HTTP paths on $root (no device, no TFTP), the same arguments as by TFTP", async () => {
    const plan = grubPlan("52:54:00:00:00:03", "tok-$1");
    const text = renderGrubNodeConfig(plan, { via: "http" });
    await expect(text).toMatchFileSnapshot("__snapshots__/render-grub.node-boot-http.cfg");
    expect(text).toContain("\nif ! linux /install/debian-12/linux 'root=live:");
    expect(text).toContain("\nif ! initrd /install/debian-12/initrd; then\n");
    expect(text).not.toContain("tftp");
    const byTftp = renderGrubNodeConfig(plan, { via: "tftp", server: server.address });
    expect(text.replaceAll("/install/", "(tftp,10.20.0.1)/install/")).toBe(byTftp);
  });
});
