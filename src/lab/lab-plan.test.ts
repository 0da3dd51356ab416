import { describe, expect, it } from "vitest";
import { parseSiteConfig } from "../model/site-config.js";
import { resolveNodeSettings } from "../model/resolve-node-settings.js";
import { fleetBmcs } from "../master/power/bmcs.js";
import { qemuArgs } from "./qemu.js";
import { labImageTree, labVarStores, parseLabFirmware, planLab, renderLabSiteConfig } from "./lab-plan.js";
import { dataPartitionStart } from "./stick.js";
import { parseLabRoots } from "./lab-cli.js";

const OPTIONS = { peers: 2, firmware: "mixed", iso: "/b/recon.iso", dir: "/var/tmp/lab", debug: true } as const;
const plan = planLab(OPTIONS);

describe("planLab", () => {
  it("the master's site config: its address, a pool, one BMC per peer by password file, and it parses", () => {
    expect(renderLabSiteConfig(plan)).toBe(`# recon lab ${plan.id}: written by 'recon lab up' (src/lab/lab-plan.ts)
address: 10.77.0.1/24
dhcp:
  mode: auto
  pool:
    start: 10.77.0.100
    end: 10.77.0.199
defaults:
  postAction: poweroff
  kernelArgs:
    - rd.debug
bmcs:
  - name: peer1
    mac: 52:54:00:77:00:11
    address: 10.77.0.201
    username: admin
    passwordFile: /var/lib/recon/bmc/peer1.password
  - name: peer2
    mac: 52:54:00:77:00:12
    address: 10.77.0.202
    username: admin
    passwordFile: /var/lib/recon/bmc/peer2.password
power:
  wake: true
  bootdevPxe: true
  confirmOffAfterS: 600
burnIn:
  enabled: true
  cpuS: 10
  memoryS: 10
  memoryPercent: 5
  memtesterMiB: 4
  memtesterS: 180
  diskReadS: 10
`);
    const config = parseSiteConfig(renderLabSiteConfig(plan));
    expect(config.burnIn).toEqual({ enabled: true, cpuS: 10, memoryS: 10, memoryPercent: 5, memtesterMiB: 4, memtesterS: 180, diskReadS: 10 });
    expect(fleetBmcs(config).map((b) => [b.name, b.mac, b.address])).toEqual([
      ["peer1", "52:54:00:77:00:11", "10.77.0.201"],
      ["peer2", "52:54:00:77:00:12", "10.77.0.202"],
    ]);
  });

  it("puts extra images on the stick as images/<label>/ trees and sets a peer's image per MAC, beside its root", () => {
    const extra = { label: "debian-12-alt", iso: "/tmp/alt.iso", kernelArgs: ["console=ttyS0,115200n8"] };
    const two = planLab({ ...OPTIONS, roots: ["nbd"], extraImages: [extra], images: [undefined, "debian-12-alt"] });
    expect(two.peers.map((p) => [p.root, p.image])).toEqual([
      ["nbd", undefined],
      ["http", "debian-12-alt"],
    ]);
    expect(two.master.stickBytes).toBe(3 * 1024 ** 3);
    const config = parseSiteConfig(renderLabSiteConfig(two));
    expect(resolveNodeSettings(config, { mac: "52:54:00:77:00:11" })).toMatchObject({ root: "nbd" });
    expect(resolveNodeSettings(config, { mac: "52:54:00:77:00:11" }).image).toBeUndefined();
    expect(resolveNodeSettings(config, { mac: "52:54:00:77:00:12" })).toMatchObject({ root: "http", image: "debian-12-alt" });
    expect(labImageTree(extra)).toEqual({
      label: "debian-12-alt",
      isoPath: "isos/debian-12-alt.iso",
      kernelPath: "install/debian-12-alt/linux",
      initrdPath: "install/debian-12-alt/initrd",
      bootConfigPath: "install/debian-12-alt/boot.json",
      arch: "x86_64",
      imageKernelArgs: ["console=ttyS0,115200n8"],
    });
  });

  it("sets a peer's root transport per MAC in the site config (http needs no entry), which resolves for that MAC only", () => {
    const withRoots = planLab({ ...OPTIONS, roots: ["nbd", "http"] });
    expect(withRoots.peers.map((p) => p.root)).toEqual(["nbd", "http"]);
    const text = renderLabSiteConfig(withRoots);
    expect(text).toContain(`hosts:\n  52:54:00:77:00:11:\n    root: nbd\n`);
    expect(text).not.toContain("52:54:00:77:00:12:\n    root");
    const config = parseSiteConfig(text);
    expect(resolveNodeSettings(config, { mac: "52:54:00:77:00:11" }).root).toBe("nbd");
    expect(resolveNodeSettings(config, { mac: "52:54:00:77:00:12" }).root).toBe("http");
    expect(renderLabSiteConfig(plan)).not.toContain("hosts:");
    expect(parseLabRoots("nbd, http", 2)).toEqual(["nbd", "http"]);
    expect(parseLabRoots(undefined, 2)).toBeUndefined();
    expect(() => parseLabRoots("nbd,iscsi", 2)).toThrow(/--roots: 'iscsi' is not one of http, nbd, nfs, nbd-rw/);
    expect(() => parseLabRoots("nbd,nbd,nbd", 2)).toThrow(/names 3 peers, the lab has 2/);
  });

  it("mixed firmware alternates BIOS and UEFI; each peer has its own disk size, SMBIOS serial and BMC port", () => {
    expect(plan.peers.map((p) => [p.name, p.firmware, p.diskBytes / 1024 ** 3, p.smbios.serial.endsWith(`-${p.name.slice(4)}`), p.bmc.vmPort])).toEqual([
      ["peer1", "bios", 3, true, 9101],
      ["peer2", "uefi", 4, true, 9102],
    ]);
    const uefi = qemuArgs(plan.peers[1]!.vm).join(" ");
    expect(uefi).toContain("-drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd");
    expect(uefi).toContain("virtio-net-pci,netdev=n0,mac=52:54:00:77:00:12,bootindex=0,romfile=");
    expect(uefi).toContain("-chardev socket,id=ipmi0,host=127.0.0.1,port=9102,reconnect=10");
    expect(uefi).not.toContain("-no-reboot");
    expect(plan.bridgeAddresses).toEqual(["10.77.0.254/24", "10.77.0.201/24", "10.77.0.202/24"]);
    expect(plan.wireNs).toMatch(/^rcnlab-[0-9a-f]{6}-m$/);
  });

  it("one firmware kind per peer: Secure Boot and HTTP boot peers, a Secure Boot master, each UEFI VM with its own variable store", () => {
    const sb = planLab({
      peers: 3,
      firmware: ["bios", "uefi-sb", "uefi-http-sb"],
      masterFirmware: "uefi-sb",
      iso: "/b/recon.iso",
      dir: "/var/tmp/lab",
      debug: false,
    });
    expect(sb.peers.map((p) => [p.name, p.firmware, p.smbios.product])).toEqual([
      ["peer1", "bios", "LabServer BIOS"],
      ["peer2", "uefi-sb", "LabServer UEFI-SB"],
      ["peer3", "uefi-http-sb", "LabServer UEFI-HTTP-SB"],
    ]);
    expect(labVarStores(sb)).toEqual([
      { vm: `recon-lab-master-${sb.id}`, template: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", file: "/var/tmp/lab/master.OVMF_VARS.fd" },
      { vm: `recon-lab-peer2-${sb.id}`, template: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", file: "/var/tmp/lab/peer2.OVMF_VARS.fd" },
      { vm: `recon-lab-peer3-${sb.id}`, template: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", file: "/var/tmp/lab/peer3.OVMF_VARS.fd" },
    ]);
    // Everything up to the firmware is the same for each Secure Boot VM but its name, CPUs and files.
    const secureBootVm = (name: string, cpus: number) => [
      ...["-name", `recon-lab-${name}-${sb.id}`, "-accel", "tcg,thread=multi", "-machine", "q35,smm=on", "-cpu", "max", "-smp", String(cpus), "-m", "2048"],
      ...["-display", "none", "-monitor", "none", "-serial", `file:/var/tmp/lab/${name}.serial.log`],
      ...["-global", "driver=cfi.pflash01,property=secure,value=on"],
      ...["-drive", "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"],
      ...["-drive", `if=pflash,format=raw,unit=1,file=/var/tmp/lab/${name}.OVMF_VARS.fd`],
    ];
    expect(qemuArgs(sb.master.vm)).toEqual([
      ...secureBootVm("master", 2),
      ...["-device", "qemu-xhci,id=xhci", "-drive", "if=none,id=disk0,format=raw,file=/var/tmp/lab/master-stick.img"],
      ...["-device", "usb-storage,bus=xhci.0,drive=disk0,bootindex=0"],
      ...["-netdev", "tap,id=n0,ifname=labtapm,script=no,downscript=no", "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:77:00:01,romfile="],
    ]);
    expect(qemuArgs(sb.peers[2]!.vm)).toEqual([
      ...secureBootVm("peer3", 1),
      ...["-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=n", "-fw_cfg", "name=opt/org.tianocore/IPv6PXESupport,string=n"],
      ...["-drive", "if=none,id=disk0,format=raw,file=/var/tmp/lab/peer3.disk.raw", "-device", "virtio-blk-pci,drive=disk0,bootindex=1,serial=RCNLABDISK3"],
      ...["-netdev", "tap,id=n0,ifname=labtap3,script=no,downscript=no", "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:77:00:13,bootindex=0,romfile="],
      ...["-smbios", `type=1,manufacturer=Recon Lab,product=LabServer UEFI-HTTP-SB,serial=RCNLAB-${sb.id}-3`],
      ...["-smbios", "type=2,manufacturer=Recon Lab,product=LabServer UEFI-HTTP-SB", "-smbios", `type=3,manufacturer=Recon Lab,serial=RCNLAB-${sb.id}-3`],
      ...[
        "-chardev",
        "socket,id=ipmi0,host=127.0.0.1,port=9103,reconnect=10",
        "-device",
        "ipmi-bmc-extern,chardev=ipmi0,id=bmc0",
        "-device",
        "isa-ipmi-kcs,bmc=bmc0",
      ],
    ]);
    // The default master is the BIOS one it always was: no OVMF, the NIC's option ROM left alone.
    expect(plan.master.firmware).toBe("bios");
    expect(qemuArgs(plan.master.vm).join(" ")).not.toMatch(/pflash|romfile|smm/);
    expect(labVarStores(plan).map((s) => s.file)).toEqual(["/var/tmp/lab/peer2.OVMF_VARS.fd"]);
  });

  it("--firmware as typed: one kind, mixed, or a list whose length is the peer count", () => {
    expect(parseLabFirmware(undefined, undefined)).toEqual({ firmware: "mixed", peers: 2 });
    expect(parseLabFirmware("uefi-http", "3")).toEqual({ firmware: "uefi-http", peers: 3 });
    expect(parseLabFirmware("bios,uefi-sb,uefi-http", undefined)).toEqual({ firmware: ["bios", "uefi-sb", "uefi-http"], peers: 3 });
    expect(parseLabFirmware("bios,uefi-sb", "2")).toEqual({ firmware: ["bios", "uefi-sb"], peers: 2 });
    expect(() => parseLabFirmware("bios,uefi-sb", "3")).toThrow("--firmware bios,uefi-sb names 2 peer(s) but --peers is 3");
    expect(() => parseLabFirmware("bios,efi", undefined)).toThrow("--firmware bios,efi: 'efi' is not a firmware kind");
    expect(() => parseLabFirmware("uefi-pxe", undefined)).toThrow(/--firmware must be one of bios, uefi, uefi-sb, uefi-http, uefi-http-sb, mixed/);
    expect(() => parseLabFirmware("bios,mixed", undefined)).toThrow(/'mixed' is not a firmware kind/);
  });

  it("refuses silly peer counts", () => {
    expect(() => planLab({ peers: 0, firmware: "bios", iso: "/x", dir: "/d", debug: false })).toThrow(/--peers must be 1–8/);
    expect(() => planLab({ peers: 2, firmware: "arm" as never, iso: "/x", dir: "/d", debug: false })).toThrow(/--firmware/);
    expect(() => planLab({ peers: 2, firmware: ["bios"], iso: "/x", dir: "/d", debug: false })).toThrow(/names 1 peer\(s\) but --peers is 2/);
    expect(() => planLab({ peers: 1, firmware: "bios", masterFirmware: "uefi-http" as never, iso: "/x", dir: "/d", debug: false })).toThrow(
      /--master-firmware/,
    );
  });

  it("the data partition starts after the ISO's partitions, 1 MiB aligned (the real ISO's table)", () => {
    expect(
      dataPartitionStart(
        [
          { start: 64, size: 790520 },
          { start: 790584, size: 40960 },
        ],
        512,
      ),
    ).toBe(833536);
  });
});
