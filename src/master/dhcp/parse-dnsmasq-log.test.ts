import { describe, expect, it } from "vitest";
import { parseDnsmasqLogLine } from "./parse-dnsmasq-log.js";

describe("parseDnsmasqLogLine", () => {
  // Published dnsmasq output: ArchWiki "Preboot Execution Environment" (journalctl, trailing
  // spaces as printed), OpenWrt wiki (logread with syslog prefix), Zephyr UP Squared docs.
  it.each([
    ["dnsmasq-dhcp[2544]: DHCPDISCOVER(eth1) 00:1a:64:6a:a2:4d ", { kind: "dhcp", message: "DISCOVER", interface: "eth1", mac: "00:1a:64:6a:a2:4d" }],
    [
      "dnsmasq-dhcp[2544]: DHCPOFFER(eth1) 192.168.0.110 00:1a:64:6a:a2:4d ",
      { kind: "dhcp", message: "OFFER", interface: "eth1", mac: "00:1a:64:6a:a2:4d", ip: "192.168.0.110" },
    ],
    [
      "dnsmasq-dhcp[5386]: DHCPREQUEST(eno2) 10.1.1.28 00:07:32:52:25:88",
      { kind: "dhcp", message: "REQUEST", interface: "eno2", mac: "00:07:32:52:25:88", ip: "10.1.1.28" },
    ],
    [
      "dnsmasq-dhcp[5386]: DHCPACK(eno2) 10.1.1.28 00:07:32:52:25:88",
      { kind: "dhcp", message: "ACK", interface: "eno2", mac: "00:07:32:52:25:88", ip: "10.1.1.28" },
    ],
    [
      "dnsmasq-tftp[2544]: sent /mnt/archiso/arch/boot/syslinux/pxelinux.0 to 192.168.0.110",
      { kind: "tftp-sent", path: "/mnt/archiso/arch/boot/syslinux/pxelinux.0", file: "pxelinux.0", ip: "192.168.0.110" },
    ],
    [
      "Tue Nov  7 19:28:20 2017 daemon.err dnsmasq-tftp[16313]: error 0 TFTP Aborted received from 192.168.1.235",
      { kind: "tftp-error", code: 0, message: "TFTP Aborted", ip: "192.168.1.235" },
    ],
    [
      "Tue Nov  7 19:28:20 2017 daemon.info dnsmasq-tftp[16313]: failed sending /mnt/extstorage/tftp/pxelinux.0 to 192.168.1.235",
      { kind: "tftp-failed", path: "/mnt/extstorage/tftp/pxelinux.0", file: "pxelinux.0", ip: "192.168.1.235" },
    ],
    [
      "Tue Nov  7 19:28:20 2017 daemon.err dnsmasq-tftp[16313]: file /mnt/extstorage/tftp/pxelinux.cfg/44454c4c-4e00-104e-8038-b6c04f4a4431 not found",
      { kind: "tftp-not-found", path: "/mnt/extstorage/tftp/pxelinux.cfg/44454c4c-4e00-104e-8038-b6c04f4a4431", file: "44454c4c-4e00-104e-8038-b6c04f4a4431" },
    ],
    [
      "dnsmasq-tftp[9768]: TFTP sent /home/tftp_root/x/spa.xml to 192.168.1.88",
      { kind: "tftp-sent", path: "/home/tftp_root/x/spa.xml", file: "spa.xml", ip: "192.168.1.88" },
    ],
  ])("published line %#", (line, event) => {
    expect(parseDnsmasqLogLine(line)).toEqual(event);
  });

  // With log-dhcp each line starts with the transaction id (rfc2131.c log_packet / log_options
  // format strings). Built from those format strings until lab captures replace them.
  it.each([
    [
      "dnsmasq-dhcp[812]: 2557139574 DHCPACK(recon0) 10.20.0.150 52:54:00:12:34:56 rack-a-01",
      { kind: "dhcp", message: "ACK", interface: "recon0", mac: "52:54:00:12:34:56", ip: "10.20.0.150", hostname: "rack-a-01", xid: 2557139574 },
    ],
    [
      "dnsmasq-dhcp[812]: 2557139574 DHCPNAK(recon0) 10.20.0.150 52:54:00:12:34:56 address in use",
      { kind: "dhcp", message: "NAK", interface: "recon0", mac: "52:54:00:12:34:56", ip: "10.20.0.150", detail: "address in use", xid: 2557139574 },
    ],
    [
      "dnsmasq-dhcp[812]: 17 DHCPDISCOVER(recon0) 52:54:00:12:34:56 no address available",
      { kind: "dhcp", message: "DISCOVER", interface: "recon0", mac: "52:54:00:12:34:56", detail: "no address available", xid: 17 },
    ],
    ["dnsmasq-dhcp[812]: 17 PXE(recon0) 52:54:00:12:34:56 proxy", { kind: "pxe", interface: "recon0", mac: "52:54:00:12:34:56", detail: "proxy", xid: 17 }],
    [
      "dnsmasq-dhcp[812]: 17 vendor class: PXEClient:Arch:00007:UNDI:003016",
      { kind: "vendor-class", vendorClass: "PXEClient:Arch:00007:UNDI:003016", arch: "efi64", xid: 17 },
    ],
    [
      "dnsmasq-dhcp[812]: 18 vendor class: PXEClient:Arch:00000:UNDI:002001",
      { kind: "vendor-class", vendorClass: "PXEClient:Arch:00000:UNDI:002001", arch: "bios", xid: 18 },
    ],
    ["dnsmasq-dhcp[812]: 18 vendor class: udhcp 1.36.1", { kind: "vendor-class", vendorClass: "udhcp 1.36.1", xid: 18 }],
    ["dnsmasq-dhcp[812]: 18 user class: iPXE", { kind: "user-class", userClass: "iPXE", xid: 18 }],
    ["dnsmasq-dhcp[812]: 18 client provides name: node-7", { kind: "client-name", hostname: "node-7", xid: 18 }],
    [
      "dnsmasq-dhcp[812]: DHCPACK(recon0) 10.20.0.151 52:54:00:AB:CD:EF",
      { kind: "dhcp", message: "ACK", interface: "recon0", mac: "52:54:00:ab:cd:ef", ip: "10.20.0.151" },
    ],
  ])("log-dhcp line %#", (line, event) => {
    expect(parseDnsmasqLogLine(line)).toEqual(event);
  });

  it.each([
    "Oct 23 05:34:51 dnsmasq-dhcp[51580]: DHCP, IP range 192.168.151.100 -- 192.168.151.250, lease time 12h",
    "dnsmasq-tftp[1]: TFTP root is /var/tftp",
    "dnsmasq[51580]: started, version 2.90 DNS disabled",
    "dnsmasq-dhcp[812]: 18 tags: bios, recon0",
    "dnsmasq-dhcp[812]: DHCPACK(recon0) 10.20.0.151 not-a-mac",
    "dnsmasq-dhcp[812]: DHCPBOGUS(recon0) 52:54:00:ab:cd:ef",
    "",
    "random text",
  ])("ignores %j", (line) => {
    expect(parseDnsmasqLogLine(line)).toBeUndefined();
  });
});
