import { describe, expect, it } from "vitest";
import { parseSiteConfig } from "../model/site-config.js";
import { fleetBmcs } from "../master/power/bmcs.js";
import { qemuArgs } from "./qemu.js";
import { planLab, renderLabSiteConfig } from "./lab-plan.js";
import { dataPartitionStart } from "./stick.js";

const plan = planLab({ peers: 2, firmware: "mixed", iso: "/b/recon.iso", dir: "/var/tmp/lab", debug: true });

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
`);
    const config = parseSiteConfig(renderLabSiteConfig(plan));
    expect(fleetBmcs(config).map((b) => [b.name, b.mac, b.address])).toEqual([
      ["peer1", "52:54:00:77:00:11", "10.77.0.201"],
      ["peer2", "52:54:00:77:00:12", "10.77.0.202"],
    ]);
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

  it("refuses silly peer counts", () => {
    expect(() => planLab({ peers: 0, firmware: "bios", iso: "/x", dir: "/d", debug: false })).toThrow(/--peers must be 1–8/);
    expect(() => planLab({ peers: 2, firmware: "arm" as never, iso: "/x", dir: "/d", debug: false })).toThrow(/--firmware/);
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
