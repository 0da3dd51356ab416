/**
 * qemu-system-x86_64 argument builder (pure). docs/lab-facts.md: this machine's /dev/kvm cannot run
 * firmware, so every VM uses TCG (`-accel tcg`).
 *
 * Firmware kinds (docs/lab-facts.md, "Secure Boot and HTTP boot firmware"): "bios" (SeaBIOS),
 * "uefi" (OVMF without Secure Boot; its network boot is PXE first), "uefi-sb" (OVMF's Secure Boot
 * build, enforcing, Microsoft keys enrolled), "uefi-http" and "uefi-http-sb" (the same two, with
 * OVMF's PXE switched off through fw_cfg so that the NIC's first boot option is UEFI HTTP boot).
 */
export type Firmware = "bios" | "uefi" | "uefi-sb" | "uefi-http" | "uefi-http-sb";
export const FIRMWARES: readonly Firmware[] = ["bios", "uefi", "uefi-sb", "uefi-http", "uefi-http-sb"];

export const isUefi = (firmware: Firmware): boolean => firmware !== "bios";
export const isSecureBoot = (firmware: Firmware): boolean => firmware === "uefi-sb" || firmware === "uefi-http-sb";
export const isHttpBoot = (firmware: Firmware): boolean => firmware === "uefi-http" || firmware === "uefi-http-sb";

export interface OvmfFiles {
  /** Firmware code, mapped read-only. */
  code: string;
  /** The variable store each VM gets its own writable copy of. */
  varsTemplate: string;
}

const OVMF_DIR = "/usr/share/OVMF";

/** Debian 12's ovmf files for a firmware kind; undefined for BIOS. */
export function ovmfFiles(firmware: Firmware): OvmfFiles | undefined {
  if (!isUefi(firmware)) return undefined;
  return isSecureBoot(firmware)
    ? { code: `${OVMF_DIR}/OVMF_CODE_4M.secboot.fd`, varsTemplate: `${OVMF_DIR}/OVMF_VARS_4M.ms.fd` }
    : { code: `${OVMF_DIR}/OVMF_CODE_4M.fd`, varsTemplate: `${OVMF_DIR}/OVMF_VARS_4M.fd` };
}

export interface DiskSpec {
  file: string;
  format: "raw" | "qcow2";
  /** How the guest sees it: a CD-ROM, a USB stick or a plain virtio disk. */
  as: "cdrom" | "usb" | "virtio";
  readonly?: boolean;
  /** Firmware boot order; the disk's index in `disks` when absent. */
  bootIndex?: number;
  /** The serial number the guest sees (virtio/usb), e.g. in lsblk. */
  serial?: string;
}

export interface NicSpec {
  /** A tap device inside the lab namespace; no NIC means no network at all. */
  tap: string;
  mac: string;
  model?: "virtio-net-pci" | "e1000e" | "rtl8139";
  /** Firmware boot order: a PXE peer gives its NIC 0 so it boots from the network first. */
  bootIndex?: number;
  /** Option ROM; "" = none (UEFI then uses OVMF's own network stack instead of iPXE's). */
  romfile?: string;
}

/** SMBIOS type 1 (system) and type 2/3 strings the guest's dmidecode shows. */
export interface SmbiosSpec {
  manufacturer?: string;
  product?: string;
  version?: string;
  serial?: string;
  uuid?: string;
  sku?: string;
  family?: string;
}

export interface VmSpec {
  name: string;
  memoryMiB: number;
  cpus: number;
  firmware: Firmware;
  /** UEFI only: read-only OVMF code and this VM's private copy of the variables (ovmfFiles gives Debian's). */
  ovmfCode?: string;
  ovmfVars?: string;
  disks: DiskSpec[];
  nics: NicSpec[];
  serialLog: string;
  /** Exit instead of rebooting (not for VMs whose power a BMC controls). */
  noReboot?: boolean;
  smbios?: SmbiosSpec;
  /** Joins an external BMC (ipmi_sim) on 127.0.0.1:<port>: in-band /dev/ipmi0 plus out-of-band power. */
  ipmiBmcPort?: number;
  extra?: string[];
}

/** qemu's option syntax: a comma inside a value is written twice. */
function optionValue(text: string): string {
  if (/[\0-\x1f]/.test(text)) throw new Error(`qemu option value has a control character: ${JSON.stringify(text)}`);
  return text.replace(/,/g, ",,");
}

export function smbiosArgs(smbios: SmbiosSpec): string[] {
  const type1 = Object.entries(smbios)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${optionValue(String(value))}`);
  if (type1.length === 0) return [];
  const args = ["-smbios", `type=1,${type1.join(",")}`];
  // The baseboard and chassis carry the vendor too, as on real machines.
  if (smbios.manufacturer)
    args.push("-smbios", `type=2,manufacturer=${optionValue(smbios.manufacturer)}${smbios.product ? `,product=${optionValue(smbios.product)}` : ""}`);
  if (smbios.manufacturer)
    args.push("-smbios", `type=3,manufacturer=${optionValue(smbios.manufacturer)}${smbios.serial ? `,serial=${optionValue(smbios.serial)}` : ""}`);
  return args;
}

export function qemuArgs(spec: VmSpec): string[] {
  const args = [
    "-name",
    spec.name,
    "-accel",
    "tcg,thread=multi",
    "-machine",
    // Secure Boot: OVMF's secboot build keeps its variables in SMM, out of the OS's reach.
    isSecureBoot(spec.firmware) ? "q35,smm=on" : "q35",
    "-cpu",
    "max",
    "-smp",
    String(spec.cpus),
    "-m",
    String(spec.memoryMiB),
    "-display",
    "none",
    "-monitor",
    "none",
    "-serial",
    `file:${spec.serialLog}`,
  ];
  if (isUefi(spec.firmware)) {
    if (!spec.ovmfCode || !spec.ovmfVars) throw new Error(`VM ${spec.name}: UEFI needs ovmfCode and ovmfVars`);
    if (isSecureBoot(spec.firmware)) args.push("-global", "driver=cfi.pflash01,property=secure,value=on");
    args.push("-drive", `if=pflash,format=raw,unit=0,readonly=on,file=${spec.ovmfCode}`, "-drive", `if=pflash,format=raw,unit=1,file=${spec.ovmfVars}`);
  }
  if (isHttpBoot(spec.firmware)) {
    // OVMF's PXEv4 and PXEv6 boot options off (Debian 12's OVMF honours these), so its first
    // network boot option is "UEFI HTTPv4"; an iPXE option ROM would come before all of them.
    const rom = spec.nics.find((nic) => nic.romfile !== "");
    if (rom) throw new Error(`VM ${spec.name}: UEFI HTTP boot needs romfile "" on NIC ${rom.tap} (no iPXE option ROM)`);
    args.push("-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=n", "-fw_cfg", "name=opt/org.tianocore/IPv6PXESupport,string=n");
  }
  let usb = false;
  spec.disks.forEach((disk, index) => {
    const id = `disk${index}`;
    const ro = disk.readonly ? ",readonly=on" : "";
    const boot = disk.bootIndex ?? index;
    const serial = disk.serial ? `,serial=${optionValue(disk.serial)}` : "";
    if (disk.as === "cdrom") {
      args.push("-drive", `if=none,id=${id},media=cdrom,format=${disk.format},file=${disk.file}${ro}`);
      args.push("-device", `ide-cd,drive=${id},bootindex=${boot}`);
    } else if (disk.as === "usb") {
      if (!usb) args.push("-device", "qemu-xhci,id=xhci");
      usb = true;
      args.push("-drive", `if=none,id=${id},format=${disk.format},file=${disk.file}${ro}`);
      args.push("-device", `usb-storage,bus=xhci.0,drive=${id},bootindex=${boot}${serial}`);
    } else {
      args.push("-drive", `if=none,id=${id},format=${disk.format},file=${disk.file}${ro}`);
      args.push("-device", `virtio-blk-pci,drive=${id},bootindex=${boot}${serial}`);
    }
  });
  if (spec.nics.length === 0) {
    args.push("-nic", "none");
  }
  spec.nics.forEach((nic, index) => {
    args.push("-netdev", `tap,id=n${index},ifname=${nic.tap},script=no,downscript=no`);
    const boot = nic.bootIndex === undefined ? "" : `,bootindex=${nic.bootIndex}`;
    const rom = nic.romfile === undefined ? "" : `,romfile=${nic.romfile}`;
    args.push("-device", `${nic.model ?? "virtio-net-pci"},netdev=n${index},mac=${nic.mac}${boot}${rom}`);
  });
  if (spec.smbios) args.push(...smbiosArgs(spec.smbios));
  if (spec.ipmiBmcPort !== undefined) {
    // docs/lab-facts.md "IPMI": the VM connects to ipmi_sim's VM-codec port and retries every 10 s.
    args.push(
      "-chardev",
      `socket,id=ipmi0,host=127.0.0.1,port=${spec.ipmiBmcPort},reconnect=10`,
      "-device",
      "ipmi-bmc-extern,chardev=ipmi0,id=bmc0",
      "-device",
      "isa-ipmi-kcs,bmc=bmc0",
    );
  }
  if (spec.noReboot) args.push("-no-reboot");
  args.push(...(spec.extra ?? []));
  return args;
}
