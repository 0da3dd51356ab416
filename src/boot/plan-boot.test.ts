import { describe, expect, it } from "vitest";
import { parseSiteConfig } from "../model/site-config.js";
import {
  archFromClientArch,
  archFromIpxe,
  checkBootSettings,
  chooseImage,
  httpBootFile,
  imageArchFromBootJson,
  planBoot,
  type BootPlan,
  type BootServer,
  type Machine,
  type NodeBootRecord,
} from "./plan-boot.js";

const server: BootServer = {
  address: "10.20.0.1",
  httpPort: 80,
  imageLabel: "debian-12",
  imageArch: "x86_64",
  imageKernelArgs: ["rd.live.image"],
  arm64Firmware: false,
};

const config = parseSiteConfig(`
defaults:
  kernelArgs: [loglevel=4]
networks:
  10.20.0.0/24: { kernelArgs: [net] }
groups:
  old-nics:
    macs: ["52:54:00:00:00:05"]
    firmwareFile: snponly.efi
    postAction: reboot
hosts:
  52:54:00:00:00:02: { action: ignore }
  52:54:00:00:00:03: { reinventory: true, kernelArgs: [host], hostname: db-1 }
  52:54:00:00:00:04: { postAction: stay, consoles: [tty0] }
`);

function boot(plan: BootPlan): Extract<BootPlan, { kind: "boot" }> {
  if (plan.kind !== "boot") throw new Error(`expected a boot plan, got: ${plan.reason}`);
  return plan;
}

describe("planBoot", () => {
  it("writes every arg a UEFI peer needs, in order", () => {
    const plan = boot(planBoot({ mac: "52:54:00:00:00:01", arch: "efi64", ip: "10.20.0.50" }, config, undefined, server, "tok123"));
    expect(plan).toEqual({
      kind: "boot",
      mac: "52:54:00:00:00:01",
      arch: "efi64",
      hostname: undefined,
      kernelUrl: "http://10.20.0.1/install/debian-12/linux",
      initrdUrl: "http://10.20.0.1/install/debian-12/initrd",
      isoUrl: "http://10.20.0.1/isos/debian-12.iso",
      image: "debian-12",
      root: "http",
      rootSource: "http://10.20.0.1/isos/debian-12.iso",
      kernelArgs: [
        "root=live:http://10.20.0.1/isos/debian-12.iso",
        "rd.live.ram=1",
        "ip=dhcp",
        "rd.neednet=1",
        "BOOTIF=01-52-54-00-00-00-01",
        "pxeaddr=10.20.0.1",
        "recon.master=10.20.0.1",
        "recon.token=tok123",
        "recon.post=poweroff",
        "initrd=initrd",
        "console=ttyS0,115200n8",
        "console=tty0",
        "rd.live.image",
        "loglevel=4",
        "net",
      ],
      postAction: "poweroff",
      firmwareFile: "shimx64.efi",
      loader: "ipxe",
      kernelTftpPath: "/install/debian-12/linux",
      initrdTftpPath: "/install/debian-12/initrd",
      firstStage: {
        bios: { via: "tftp", file: "undionly.kpxe" },
        efi64: { via: "tftp", file: "shimx64.efi" },
        efi64Http: { via: "http", file: "shimx64.efi", url: "http://10.20.0.1/tftp/uefi-http/shimx64.efi" },
        arm64: undefined,
        ipxe: { via: "http", url: "http://10.20.0.1/boot.ipxe" },
      },
      scriptUrl: "http://10.20.0.1/boot/52-54-00-00-00-01.ipxe",
      wake: { wake: true },
      sources: ["defaults", "networks.10.20.0.0/24"],
    });
  });

  it("under GRUB (shim's second stage): the same args without initrd=, kernel and initrd as TFTP paths", () => {
    const viaIpxe = boot(planBoot({ mac: "52:54:00:00:00:01", arch: "efi64" }, config, undefined, server, "tok123"));
    const viaGrub = boot(planBoot({ mac: "52:54:00:00:00:01", arch: "efi64", loader: "grub" }, config, undefined, server, "tok123"));
    expect(viaGrub.loader).toBe("grub");
    expect(viaGrub.kernelArgs).toEqual(viaIpxe.kernelArgs.filter((arg) => arg !== "initrd=initrd"));
    expect(viaIpxe.kernelArgs).toContain("initrd=initrd");
    expect([viaGrub.kernelTftpPath, viaGrub.initrdTftpPath]).toEqual(["/install/debian-12/linux", "/install/debian-12/initrd"]);
  });

  it("uses GRUB only for x86-64 UEFI: a BIOS or unknown machine asking as GRUB is planned for iPXE", () => {
    expect(boot(planBoot({ mac: "52:54:00:00:00:01", arch: "bios", loader: "grub" }, config, undefined, server, "t")).loader).toBe("ipxe");
    const unknown = boot(planBoot({ mac: "52:54:00:00:00:01", arch: "unknown", loader: "grub" }, config, undefined, server, "t"));
    expect(unknown.loader).toBe("ipxe");
    expect(unknown.kernelArgs).toContain("initrd=initrd");
  });

  it("hands UEFI HTTP boot shim by URL from its own directory (either DHCP mode), or the node's own iPXE binary", () => {
    const shim = planBoot({ mac: "52:54:00:00:00:01", arch: "efi64" }, config, undefined, { ...server, httpPort: 8080 }, "t");
    expect(shim.firstStage.efi64).toEqual({ via: "tftp", file: "shimx64.efi" });
    expect(shim.firstStage.efi64Http).toEqual({ via: "http", file: "shimx64.efi", url: "http://10.20.0.1:8080/tftp/uefi-http/shimx64.efi" });
    // Proxy mode: the TFTP default turns to ipxe.efi (Debian 12's GRUB), HTTP boot's stays shim (Debian 13's GRUB reads its boot URL).
    const proxy = planBoot({ mac: "52:54:00:00:00:01", arch: "efi64" }, config, undefined, { ...server, dhcpMode: "proxy" }, "t");
    expect(proxy.firstStage.efi64).toEqual({ via: "tftp", file: "ipxe.efi" });
    expect(proxy.firstStage.efi64Http).toEqual({ via: "http", file: "shimx64.efi", url: "http://10.20.0.1/tftp/uefi-http/shimx64.efi" });
    const snp = planBoot({ mac: "52:54:00:00:00:05", arch: "efi64" }, config, undefined, server, "t");
    expect(snp.firstStage.efi64Http).toEqual({ via: "http", file: "snponly.efi", url: "http://10.20.0.1/tftp/snponly.efi" });
    expect([httpBootFile(undefined), httpBootFile("shimx64.efi"), httpBootFile("ipxe.efi"), httpBootFile("snponly.efi")]).toEqual([
      "shimx64.efi",
      "shimx64.efi",
      "ipxe.efi",
      "snponly.efi",
    ]);
  });

  it("puts the port into URLs and recon.master but not pxeaddr", () => {
    const plan = boot(planBoot({ mac: "52:54:00:00:00:01", arch: "bios" }, config, undefined, { ...server, httpPort: 8080 }, "t"));
    expect(plan.kernelUrl).toBe("http://10.20.0.1:8080/install/debian-12/linux");
    expect(plan.kernelArgs).toContain("root=live:http://10.20.0.1:8080/isos/debian-12.iso");
    expect(plan.kernelArgs).toContain("recon.master=10.20.0.1:8080");
    expect(plan.kernelArgs).toContain("pxeaddr=10.20.0.1");
  });

  const table: Array<{
    name: string;
    machine: Machine;
    record?: NodeBootRecord;
    kind: "boot" | "ignore";
    reason?: string;
    firmwareFile?: string;
    postAction?: string;
    hasInitrdArg?: boolean;
    tail?: string[];
    hostname?: string;
  }> = [
    {
      name: "BIOS gets undionly.kpxe and no initrd= arg",
      machine: { mac: "52:54:00:00:00:01", arch: "bios" },
      kind: "boot",
      firmwareFile: "undionly.kpxe",
      hasInitrdArg: false,
      tail: ["rd.live.image", "loglevel=4"],
    },
    {
      name: "unknown arch keeps initrd= (harmless on BIOS, needed on EFI)",
      machine: { mac: "52:54:00:00:00:01", arch: "unknown", userClass: "iPXE" },
      kind: "boot",
      firmwareFile: "shimx64.efi",
      hasInitrdArg: true,
    },
    {
      name: "a group prefers snponly.efi and reboot",
      machine: { mac: "52:54:00:00:00:05", arch: "efi64" },
      kind: "boot",
      firmwareFile: "snponly.efi",
      postAction: "reboot",
    },
    {
      name: "a host stays up and uses only tty0",
      machine: { mac: "52:54:00:00:00:04", arch: "efi64" },
      kind: "boot",
      postAction: "stay",
      tail: ["initrd=initrd", "console=tty0", "rd.live.image", "loglevel=4"],
    },
    {
      name: "ignore from the site config names the layers",
      machine: { mac: "52:54:00:00:00:02", arch: "bios" },
      kind: "ignore",
      reason: "the site config says ignore (defaults → hosts.52:54:00:00:00:02)",
    },
    {
      name: "an uploaded node is left alone",
      machine: { mac: "52:54:00:00:00:01", arch: "bios" },
      record: { uploads: 1 },
      kind: "ignore",
      reason: "inventory already stored",
    },
    { name: "a node with a record but no upload yet boots again", machine: { mac: "52:54:00:00:00:01", arch: "bios" }, record: { uploads: 0 }, kind: "boot" },
    {
      name: "reinventory boots an uploaded node; host args last",
      machine: { mac: "52-54-00-00-00-03", arch: "efi64", ip: "10.20.0.9" },
      record: { uploads: 3 },
      kind: "boot",
      tail: ["loglevel=4", "net", "host"],
      hostname: "db-1",
    },
    { name: "32-bit UEFI is refused", machine: { mac: "52:54:00:00:00:01", arch: "efi32" }, kind: "ignore", reason: "32-bit UEFI" },
    {
      name: "arm64 cannot run an x86_64 image",
      machine: { mac: "52:54:00:00:00:01", arch: "arm64" },
      kind: "ignore",
      reason: "the image debian-12 is x86_64 and this machine is arm64",
    },
  ];

  it.each(table)("$name", (row) => {
    const plan = planBoot(row.machine, config, row.record, server, "t");
    expect(plan.kind).toBe(row.kind);
    if (plan.kind === "ignore") {
      expect(plan.reason).toContain(row.reason);
      return;
    }
    if (row.firmwareFile) expect(plan.firmwareFile).toBe(row.firmwareFile);
    if (row.postAction) {
      expect(plan.postAction).toBe(row.postAction);
      expect(plan.kernelArgs).toContain(`recon.post=${row.postAction}`);
    }
    if (row.hasInitrdArg !== undefined) expect(plan.kernelArgs.includes("initrd=initrd")).toBe(row.hasInitrdArg);
    if (row.tail) expect(plan.kernelArgs.slice(-row.tail.length)).toEqual(row.tail);
    if (row.hostname) expect(plan.hostname).toBe(row.hostname);
  });

  it("boots arm64 only with an aarch64 image and an arm64 iPXE binary", () => {
    const arm = { ...server, imageArch: "aarch64" as const };
    expect(planBoot({ mac: "52:54:00:00:00:01", arch: "arm64" }, config, undefined, arm, "t")).toMatchObject({
      kind: "ignore",
      reason: "no arm64 iPXE binary in the TFTP root",
    });
    expect(boot(planBoot({ mac: "52:54:00:00:00:01", arch: "arm64" }, config, undefined, { ...arm, arm64Firmware: true }, "t")).firmwareFile).toBe(
      "ipxe-arm64.efi",
    );
    expect(planBoot({ mac: "52:54:00:00:00:01", arch: "efi64" }, config, undefined, arm, "t").kind).toBe("ignore");
  });
});

describe("arch detection", () => {
  it.each([
    [0, "bios"],
    [6, "efi32"],
    [7, "efi64"],
    [9, "efi64"],
    [11, "arm64"],
    [16, "efi64"],
    [10, "unknown"],
  ])("client-arch %i → %s", (code, arch) => {
    expect(archFromClientArch(code)).toBe(arch);
  });

  it.each([
    ["pcbios", "i386", "bios"],
    ["efi", "x86_64", "efi64"],
    ["efi", "i386", "efi32"],
    ["efi", "arm64", "arm64"],
    [undefined, undefined, "unknown"],
    ["efi", "riscv64", "unknown"],
  ])("iPXE %s/%s → %s", (platform, buildarch, arch) => {
    expect(archFromIpxe(platform, buildarch)).toBe(arch);
  });
});

describe("the image's arch from boot.json", () => {
  it("reads arch, and takes a boot.json without one (older trees) as x86_64", () => {
    expect(imageArchFromBootJson({ arch: "aarch64" })).toBe("aarch64");
    expect(imageArchFromBootJson({ arch: "x86_64" })).toBe("x86_64");
    expect(imageArchFromBootJson({})).toBe("x86_64");
  });

  it("refuses an arch recon cannot boot", () => {
    expect(() => imageArchFromBootJson({ arch: "riscv64" })).toThrow('boot.json names arch "riscv64"');
  });
});

describe("several images", () => {
  const multi: BootServer = {
    ...server,
    otherImages: [
      { label: "rocky-9", arch: "x86_64", kernelArgs: ["rd.live.image", "inst.text"] },
      { label: "debian-12-arm", arch: "aarch64", kernelArgs: [] },
    ],
  };
  const site = parseSiteConfig(`
defaults: { kernelArgs: [loglevel=4] }
hosts:
  52:54:00:00:01:01: { image: rocky-9 }
  52:54:00:00:01:02: { image: rocky-9 }
  52:54:00:00:01:03: { image: debian-12-arm }
ips:
  10.20.0.102: { image: debian-12 }
`);

  it("boots a node set to another image from that image's kernel, initrd, ISO and boot.json args", () => {
    const plan = boot(planBoot({ mac: "52:54:00:00:01:01", arch: "bios", ip: "10.20.0.101" }, site, undefined, multi));
    expect(plan.image).toBe("rocky-9");
    expect([plan.kernelUrl, plan.initrdUrl, plan.isoUrl, plan.kernelTftpPath, plan.initrdTftpPath]).toEqual([
      "http://10.20.0.1/install/rocky-9/linux",
      "http://10.20.0.1/install/rocky-9/initrd",
      "http://10.20.0.1/isos/rocky-9.iso",
      "/install/rocky-9/linux",
      "/install/rocky-9/initrd",
    ]);
    expect(plan.kernelArgs[0]).toBe("root=live:http://10.20.0.1/isos/rocky-9.iso");
    expect(plan.kernelArgs.slice(-3)).toEqual(["rd.live.image", "inst.text", "loglevel=4"]);
  });

  it("the IP layer overrides the host's image", () => {
    const plan = boot(planBoot({ mac: "52:54:00:00:01:02", arch: "bios", ip: "10.20.0.102" }, site, undefined, multi));
    expect(plan.image).toBe("debian-12");
    expect(plan.sources).toEqual(["defaults", "hosts.52:54:00:00:01:02", "ips.10.20.0.102"]);
    expect(plan.kernelUrl).toBe("http://10.20.0.1/install/debian-12/linux");
  });

  it("checks the arch of the chosen image, not the master's own", () => {
    const plan = planBoot({ mac: "52:54:00:00:01:03", arch: "efi64" }, site, undefined, multi);
    expect(plan).toMatchObject({ kind: "ignore", why: "arch", reason: "the image debian-12-arm is aarch64 and this machine is efi64" });
  });

  it("an unknown label is CONFIG_INVALID naming the layer and the labels served, at plan time and at master start", () => {
    const wrong = parseSiteConfig("groups:\n  rack-b: { macs: ['52:54:00:00:02:01'], image: centos-7 }\n");
    const expected =
      "the site config (defaults → groups.rack-b) sets image: centos-7, but this master serves no image labelled centos-7; it serves debian-12, rocky-9, debian-12-arm";
    expect(() => planBoot({ mac: "52:54:00:00:02:01", arch: "bios" }, wrong, undefined, multi)).toThrow(expected);
    expect(() => checkBootSettings(wrong, multi)).toThrow(
      "the site config's groups.rack-b sets image: centos-7, but this master serves no image labelled centos-7; it serves debian-12, rocky-9, debian-12-arm",
    );
    try {
      checkBootSettings(wrong, multi);
    } catch (error) {
      expect(error).toMatchObject({ code: "CONFIG_INVALID", hint: expect.stringContaining("recon images add") });
    }
    expect(() => checkBootSettings(site, multi)).not.toThrow();
    // A node the site config ignores is never planned, so its label does not matter to planBoot.
    const ignored = parseSiteConfig("hosts:\n  52:54:00:00:02:02: { action: ignore, image: centos-7 }\n");
    expect(planBoot({ mac: "52:54:00:00:02:02", arch: "bios" }, ignored, undefined, multi).kind).toBe("ignore");
  });

  it("without image: a node boots the master's own image", () => {
    expect(chooseImage({ image: undefined, sources: ["defaults"] }, multi).label).toBe("debian-12");
  });
});

describe("peer assist (#14 item 5)", () => {
  const site = parseSiteConfig(`
distribution: { peerAssist: true, seedTimeS: 90, seedRatio: 3 }
hosts:
  52:54:00:00:03:02: { root: nbd }
  52:54:00:00:03:03: { image: rocky-9 }
`);
  const served: BootServer = {
    ...server,
    imageVolumeId: "RECON",
    otherImages: [{ label: "rocky-9", arch: "x86_64", kernelArgs: [] }],
    torrentLabels: new Set(["debian-12"]),
  };

  it("hands a root http node the torrent of its image and the seeding bounds, in that order", () => {
    const plan = boot(planBoot({ mac: "52:54:00:00:03:01", arch: "bios", ip: "10.20.0.31" }, site, undefined, served, "tok"));
    expect(plan.kernelArgs.join(" ")).toBe(
      "root=live:torrent://10.20.0.1/torrent/debian-12.torrent rd.live.ram=1 ip=dhcp rd.neednet=1 BOOTIF=01-52-54-00-00-03-01 pxeaddr=10.20.0.1 " +
        "recon.master=10.20.0.1 recon.token=tok recon.post=poweroff recon.seed=90,3 console=ttyS0,115200n8 console=tty0 rd.live.image",
    );
    expect(plan.rootSource).toBe(
      "torrent://10.20.0.1/torrent/debian-12.torrent (BitTorrent from the other peers, web seed http://10.20.0.1/isos/debian-12.iso)",
    );
    expect(plan.isoUrl).toBe("http://10.20.0.1/isos/debian-12.iso");
  });

  it("gives plain HTTP to an image without a torrent yet, and leaves nbd alone", () => {
    const other = boot(planBoot({ mac: "52:54:00:00:03:03", arch: "bios" }, site, undefined, served));
    expect(other.kernelArgs[0]).toBe("root=live:http://10.20.0.1/isos/rocky-9.iso");
    expect(other.kernelArgs.some((arg) => arg.startsWith("recon.seed="))).toBe(false);
    const nbd = boot(planBoot({ mac: "52:54:00:00:03:02", arch: "bios" }, site, undefined, served));
    expect(nbd.kernelArgs.slice(0, 2)).toEqual(["root=live:CDLABEL=RECON", "netroot=nbd:10.20.0.1:debian-12"]);
    expect(nbd.kernelArgs.some((arg) => arg.startsWith("recon.seed="))).toBe(false);
    const before = boot(planBoot({ mac: "52:54:00:00:03:01", arch: "bios" }, site, undefined, { ...served, torrentLabels: undefined }));
    expect(before.kernelArgs[0]).toBe("root=live:http://10.20.0.1/isos/debian-12.iso");
  });
});
