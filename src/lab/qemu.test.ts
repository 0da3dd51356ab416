import { describe, expect, it } from "vitest";
import { ovmfFiles, qemuArgs, type Firmware, type VmSpec } from "./qemu.js";

describe("qemuArgs", () => {
  it("boots an ISO as a CD under TCG with no network and the serial console in a file", () => {
    expect(
      qemuArgs({
        name: "master",
        memoryMiB: 2048,
        cpus: 2,
        firmware: "bios",
        disks: [{ file: "/b/recon.iso", format: "raw", as: "cdrom", readonly: true }],
        nics: [],
        serialLog: "/b/serial.log",
        noReboot: true,
      }).join(" "),
    ).toBe(
      "-name master -accel tcg,thread=multi -machine q35 -cpu max -smp 2 -m 2048 -display none -monitor none " +
        "-serial file:/b/serial.log -drive if=none,id=disk0,media=cdrom,format=raw,file=/b/recon.iso,readonly=on " +
        "-device ide-cd,drive=disk0,bootindex=0 -nic none -no-reboot",
    );
  });

  it("boots a USB stick under UEFI with a private OVMF variable store and a tap NIC", () => {
    expect(
      qemuArgs({
        name: "m",
        memoryMiB: 1024,
        cpus: 1,
        firmware: "uefi",
        ovmfCode: "/usr/share/OVMF/OVMF_CODE_4M.fd",
        ovmfVars: "/lab/m.vars",
        disks: [{ file: "/lab/stick.img", format: "raw", as: "usb" }],
        nics: [{ tap: "tap0", mac: "52:54:00:00:00:01" }],
        serialLog: "/lab/m.log",
      }).join(" "),
    ).toBe(
      "-name m -accel tcg,thread=multi -machine q35 -cpu max -smp 1 -m 1024 -display none -monitor none " +
        "-serial file:/lab/m.log -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd " +
        "-drive if=pflash,format=raw,unit=1,file=/lab/m.vars -device qemu-xhci,id=xhci " +
        "-drive if=none,id=disk0,format=raw,file=/lab/stick.img -device usb-storage,bus=xhci.0,drive=disk0,bootindex=0 " +
        "-netdev tap,id=n0,ifname=tap0,script=no,downscript=no -device virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01",
    );
  });

  it("a PXE peer: NIC first in the boot order, an empty disk with a serial, SMBIOS strings and an external BMC", () => {
    expect(
      qemuArgs({
        name: "peer1",
        memoryMiB: 2048,
        cpus: 1,
        firmware: "bios",
        disks: [{ file: "/lab/peer1.disk", format: "raw", as: "virtio", bootIndex: 1, serial: "RCN-DISK-1" }],
        nics: [{ tap: "rcntap1", mac: "52:54:00:00:00:11", bootIndex: 0 }],
        serialLog: "/lab/peer1.log",
        smbios: { manufacturer: "Recon Lab, Inc.", product: "LabServer 1", serial: "RCN-0001" },
        ipmiBmcPort: 9101,
      }).join(" "),
    ).toBe(
      "-name peer1 -accel tcg,thread=multi -machine q35 -cpu max -smp 1 -m 2048 -display none -monitor none " +
        "-serial file:/lab/peer1.log -drive if=none,id=disk0,format=raw,file=/lab/peer1.disk " +
        "-device virtio-blk-pci,drive=disk0,bootindex=1,serial=RCN-DISK-1 " +
        "-netdev tap,id=n0,ifname=rcntap1,script=no,downscript=no -device virtio-net-pci,netdev=n0,mac=52:54:00:00:00:11,bootindex=0 " +
        "-smbios type=1,manufacturer=Recon Lab,, Inc.,product=LabServer 1,serial=RCN-0001 " +
        "-smbios type=2,manufacturer=Recon Lab,, Inc.,product=LabServer 1 -smbios type=3,manufacturer=Recon Lab,, Inc.,serial=RCN-0001 " +
        "-chardev socket,id=ipmi0,host=127.0.0.1,port=9101,reconnect=10 -device ipmi-bmc-extern,chardev=ipmi0,id=bmc0 -device isa-ipmi-kcs,bmc=bmc0",
    );
  });

  it("refuses UEFI without firmware files", () => {
    expect(() => qemuArgs({ name: "x", memoryMiB: 256, cpus: 1, firmware: "uefi", disks: [], nics: [], serialLog: "/s" })).toThrow(/UEFI needs ovmfCode/);
  });

  const peer = (firmware: Firmware): VmSpec => ({
    name: "p",
    memoryMiB: 2048,
    cpus: 1,
    firmware,
    ovmfCode: ovmfFiles(firmware)!.code,
    ovmfVars: "/lab/p.OVMF_VARS.fd",
    disks: [],
    nics: [{ tap: "tap1", mac: "52:54:00:00:00:11", bootIndex: 0, romfile: "" }],
    serialLog: "/lab/p.log",
  });
  const head = (machine: string) => ["-name", "p", "-accel", "tcg,thread=multi", "-machine", machine, "-cpu", "max", "-smp", "1", "-m", "2048"];
  const tail = ["-display", "none", "-monitor", "none", "-serial", "file:/lab/p.log"];
  const nic = ["-netdev", "tap,id=n0,ifname=tap1,script=no,downscript=no", "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:11,bootindex=0,romfile="];
  const vars = ["-drive", "if=pflash,format=raw,unit=1,file=/lab/p.OVMF_VARS.fd"];
  const noPxe = ["-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=n", "-fw_cfg", "name=opt/org.tianocore/IPv6PXESupport,string=n"];
  const secure = ["-global", "driver=cfi.pflash01,property=secure,value=on"];
  const code = (file: string) => ["-drive", `if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/${file}`];

  it("uefi-sb: SMM, secure pflash, the secboot code read-only and the VM's copy of the Microsoft-keyed variables", () => {
    expect(ovmfFiles("uefi-sb")).toEqual({ code: "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd", varsTemplate: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd" });
    expect(qemuArgs(peer("uefi-sb"))).toEqual([...head("q35,smm=on"), ...tail, ...secure, ...code("OVMF_CODE_4M.secboot.fd"), ...vars, ...nic]);
  });

  it("uefi-http: plain OVMF with its PXEv4 and PXEv6 boot options off, so HTTP boot comes first", () => {
    expect(ovmfFiles("uefi-http")).toEqual({ code: "/usr/share/OVMF/OVMF_CODE_4M.fd", varsTemplate: "/usr/share/OVMF/OVMF_VARS_4M.fd" });
    expect(qemuArgs(peer("uefi-http"))).toEqual([...head("q35"), ...tail, ...code("OVMF_CODE_4M.fd"), ...vars, ...noPxe, ...nic]);
  });

  it("uefi-http-sb: Secure Boot and HTTP boot together", () => {
    expect(qemuArgs(peer("uefi-http-sb"))).toEqual([...head("q35,smm=on"), ...tail, ...secure, ...code("OVMF_CODE_4M.secboot.fd"), ...vars, ...noPxe, ...nic]);
  });

  it("BIOS has no OVMF files; HTTP boot refuses a NIC with an iPXE option ROM (it would boot first)", () => {
    expect(ovmfFiles("bios")).toBeUndefined();
    const withRom = { ...peer("uefi-http"), nics: [{ tap: "tap1", mac: "52:54:00:00:00:11" }] };
    expect(() => qemuArgs(withRom)).toThrow(/UEFI HTTP boot needs romfile "" on NIC tap1/);
    expect(() => qemuArgs({ ...peer("uefi-sb"), ovmfVars: undefined })).toThrow(/UEFI needs ovmfCode and ovmfVars/);
  });
});
