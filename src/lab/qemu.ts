/**
 * qemu-system-x86_64 argument builder (pure). LAB-FACTS: this machine's /dev/kvm cannot run
 * firmware, so every VM uses TCG (`-accel tcg`).
 */
export type Firmware = "bios" | "uefi";

export interface DiskSpec {
  file: string;
  format: "raw" | "qcow2";
  /** How the guest sees it: a CD-ROM, a USB stick or a plain virtio disk. */
  as: "cdrom" | "usb" | "virtio";
  readonly?: boolean;
}

export interface NicSpec {
  /** A tap device inside the lab namespace; no NIC means no network at all. */
  tap: string;
  mac: string;
  model?: "virtio-net-pci" | "e1000e" | "rtl8139";
}

export interface VmSpec {
  name: string;
  memoryMiB: number;
  cpus: number;
  firmware: Firmware;
  /** UEFI only: read-only OVMF code and this VM's private copy of the variables. */
  ovmfCode?: string;
  ovmfVars?: string;
  disks: DiskSpec[];
  nics: NicSpec[];
  serialLog: string;
  /** Exit instead of rebooting (not for VMs whose power a BMC controls). */
  noReboot?: boolean;
  extra?: string[];
}

export function qemuArgs(spec: VmSpec): string[] {
  const args = [
    "-name", spec.name,
    "-accel", "tcg,thread=multi",
    "-machine", "q35",
    "-cpu", "max",
    "-smp", String(spec.cpus),
    "-m", String(spec.memoryMiB),
    "-display", "none",
    "-monitor", "none",
    "-serial", `file:${spec.serialLog}`,
  ];
  if (spec.firmware === "uefi") {
    if (!spec.ovmfCode || !spec.ovmfVars) throw new Error(`VM ${spec.name}: UEFI needs ovmfCode and ovmfVars`);
    args.push(
      "-drive", `if=pflash,format=raw,unit=0,readonly=on,file=${spec.ovmfCode}`,
      "-drive", `if=pflash,format=raw,unit=1,file=${spec.ovmfVars}`,
    );
  }
  let usb = false;
  spec.disks.forEach((disk, index) => {
    const id = `disk${index}`;
    const ro = disk.readonly ? ",readonly=on" : "";
    if (disk.as === "cdrom") {
      args.push("-drive", `if=none,id=${id},media=cdrom,format=${disk.format},file=${disk.file}${ro}`);
      args.push("-device", `ide-cd,drive=${id},bootindex=${index}`);
    } else if (disk.as === "usb") {
      if (!usb) args.push("-device", "qemu-xhci,id=xhci");
      usb = true;
      args.push("-drive", `if=none,id=${id},format=${disk.format},file=${disk.file}${ro}`);
      args.push("-device", `usb-storage,bus=xhci.0,drive=${id},bootindex=${index}`);
    } else {
      args.push("-drive", `if=none,id=${id},format=${disk.format},file=${disk.file}${ro}`);
      args.push("-device", `virtio-blk-pci,drive=${id},bootindex=${index}`);
    }
  });
  if (spec.nics.length === 0) {
    args.push("-nic", "none");
  }
  spec.nics.forEach((nic, index) => {
    args.push("-netdev", `tap,id=n${index},ifname=${nic.tap},script=no,downscript=no`);
    args.push("-device", `${nic.model ?? "virtio-net-pci"},netdev=n${index},mac=${nic.mac}`);
  });
  if (spec.noReboot) args.push("-no-reboot");
  args.push(...(spec.extra ?? []));
  return args;
}
