/**
 * Parser tests driven by the real outputs captured under test/fixtures/inventory/ (README.md
 * there says how). The expected values are the ones the capture VMs were dressed with
 * (run-vm.sh: SMBIOS strings, disk serials and sizes, NIC models and MACs), so a parser that
 * reads the wrong field fails here.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fixtureText, fixturesWith, INVENTORY_FIXTURES } from "../../../test/fixtures/inventory/fixtures.js";
import { parseDmidecode } from "./dmidecode.js";
import { parseEdac } from "./edac.js";
import { parseEfi } from "./efi.js";
import { parseEthtool, parseEthtoolDriver } from "./ethtool.js";
import { parseIpAddr, parseIpLink } from "./ip.js";
import { parseIpmiFru, parseIpmiLanPrint, parseIpmiMcInfo } from "./ipmitool.js";
import { parseNvmeIdCtrl, parseNvmeList } from "./nvme.js";
import { parseLldpctl } from "./lldpctl.js";
import { parseLsblk } from "./lsblk.js";
import { parseLscpu } from "./lscpu.js";
import { parseLshw } from "./lshw.js";
import { parseLspci } from "./lspci.js";
import { parseManifest } from "./manifest.js";
import { parseMeminfo } from "./meminfo.js";
import { parseSmartctl } from "./smartctl.js";

const GiB = 1024 ** 3;

function text(machine: string, path: string): string {
  const value = fixtureText(machine, path);
  if (value === undefined) throw new Error(`fixture ${machine}/${path} is missing`);
  return value;
}

describe("dmidecode", () => {
  it("reads the SMBIOS strings the Dell-dressed VM was given", () => {
    const { value, errors } = parseDmidecode(text("vm-bios-dell", "raw/dmidecode.txt"));
    expect(errors).toEqual([]);
    expect(value.system_vendor).toEqual({
      manufacturer: "Dell Inc.",
      product_name: "PowerEdge R640",
      serial_number: "CZ7R3X2",
      uuid: "4c4c4544-0035-4e10-8052-b4c04f335832",
      sku: "0716",
    });
    expect(value.firmware).toEqual({ vendor: "Dell Inc.", version: "2.17.0", build_date: "2023-03-15" });
    expect(value.baseboard).toEqual({ manufacturer: "Dell Inc.", product_name: "0X45NX", version: "A09", serial_number: ".CZ7R3X2.CNIVC0089J00PK." });
    expect(value.processors).toHaveLength(1);
    expect(value.processors[0]).toMatchObject({
      version: "Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz",
      max_speed_mhz: 3700,
      current_speed_mhz: 2100,
      core_count: 2,
    });
    // -m 17G: qemu describes it as a 16 GiB and a 1 GiB DIMM.
    expect(value.dimms.map((dimm) => [dimm.slot, dimm.size_bytes, dimm.speed_mts, dimm.part_number])).toEqual([
      ["DIMM.Socket.A 0", 16 * GiB, 2666, "HMA82GR7AFR8N-VK"],
      ["DIMM.Socket.A 1", 1 * GiB, 2666, "HMA82GR7AFR8N-VK"],
    ]);
    expect(value.dimms[0]).toMatchObject({ manufacturer: "SK Hynix", serial_number: "3A1B2C3D", type: "RAM" }); // "Hynix Semiconductor" as one maker name (parse/jedec.ts)
  });

  it("reports a machine without SMBIOS access (the host: no /dev/mem) instead of inventing values", () => {
    const { value, errors } = parseDmidecode(text("host", "raw/dmidecode.txt"));
    expect(value.records).toBe(0);
    expect(value.system_vendor.serial_number).toBeNull();
    expect(errors).toEqual([{ source: "raw/dmidecode.txt", message: "no SMBIOS records in the output (Scanning /dev/mem for entry point.)" }]);
  });
});

describe("lscpu", () => {
  it("reads every captured lscpu -J", () => {
    const cases = fixturesWith("raw/lscpu.json");
    expect(cases.length).toBeGreaterThanOrEqual(2);
    for (const [machine, output] of cases) {
      const { value, errors } = parseLscpu(output);
      expect(errors, machine).toEqual([]);
      expect(value.architecture, machine).toBe("x86_64");
      expect(value.threads, machine).toBeGreaterThanOrEqual(1);
      expect(value.flags, machine).toContain("sse2");
    }
  });

  it("counts sockets × cores per socket as the VM's -smp asked", () => {
    expect(parseLscpu(text("vm-bios-dell", "raw/lscpu.json")).value).toMatchObject({
      sockets: 1,
      cores: 2,
      threads: 2,
      model_name: "QEMU TCG CPU version 2.5+",
    });
    expect(parseLscpu(text("host", "raw/lscpu.json")).value).toMatchObject({ sockets: 1, cores: 2, threads: 2, model_name: "AMD EPYC" });
  });
});

describe("lsblk", () => {
  it("lists the whole disks with the sizes and serials the VM was given, not zram or CD-ROMs", () => {
    const { value, errors } = parseLsblk(text("vm-bios-dell", "raw/lsblk.json"));
    expect(errors).toEqual([]);
    expect(value.map((disk) => [disk.name, disk.size_bytes, disk.serial])).toEqual([
      ["sda", 3 * GiB, "SATASSD-DELL-02"],
      ["vda", 2 * GiB, "VIRTIO-DELL-0001"],
      ["vdb", 64 * 1024 ** 2, "RECONCAP"],
    ]);
    expect(value.find((disk) => disk.name === "sda")).toMatchObject({ model: "INTEL SSDSC2KB480G8", rotational: false, transport: "sata" });
    const host = parseLsblk(text("host", "raw/lsblk.json")).value;
    expect(host.map((disk) => disk.name)).toEqual(["vda"]);
  });
});

describe("smartctl", () => {
  it("reads the SATA disk's identity and health", () => {
    const { value, errors } = parseSmartctl(text("vm-bios-dell", "raw/smartctl.sda.json"), "raw/smartctl.sda.json");
    expect(errors).toEqual([]);
    expect(value).toMatchObject({
      model: "INTEL SSDSC2KB480G8",
      serial: "SATASSD-DELL-02",
      size_bytes: 3 * GiB,
      rotation_rate: 0,
      protocol: "ATA",
      smart_passed: true,
    });
  });

  it("turns 'Unable to detect device type' (virtio) into an error, not a disk", () => {
    for (const [machine, disk] of [
      ["vm-bios-dell", "vda"],
      ["host", "vda"],
    ] as const) {
      const source = `raw/smartctl.${disk}.json`;
      const { value, errors } = parseSmartctl(text(machine, source), source);
      expect(value).toBeNull();
      expect(errors).toEqual([{ source, message: `smartctl could not read the device (exit status 1): /dev/${disk}: Unable to detect device type` }]);
    }
  });
});

describe("lspci", () => {
  it("reads ids, names and drivers; unnamed ids give null names", () => {
    const { value, errors } = parseLspci(text("vm-bios-dell", "raw/lspci.txt"));
    expect(errors).toEqual([]);
    const e1000e = value.find((device) => device.driver === "e1000e");
    expect(e1000e).toMatchObject({ slot: "0000:00:04.0", vendor_id: "8086", product_id: "10d3", class_id: "0200", class: "Ethernet controller" });
    const vga = value.find((device) => device.class_id === "0300");
    expect(vga).toMatchObject({ vendor_id: "1234", product_id: "1111", vendor: null, product: null, driver: "bochs-drm" });
    expect(parseLspci(text("host", "raw/lspci.txt")).value.map((device) => device.product_id)).toEqual(["0d57", "1045", "1042", "1041", "1053", "1044"]);
  });
});

describe("ip and ethtool", () => {
  it("reads the MACs the VM's NICs were given and the DHCP address of the first", () => {
    const links = parseIpLink(text("vm-bios-dell", "raw/ip-link.json")).value;
    expect(links.map((link) => [link.name, link.mac_address, link.parent])).toEqual([
      ["enp0s4", "52:54:00:de:11:01", null],
      ["enp0s5", "52:54:00:de:11:02", null],
      ["enp0s6", "52:54:00:de:11:03", null],
      ["enp0s5.100", "52:54:00:de:11:02", "enp0s5"],
    ]);
    expect(parseIpAddr(text("vm-bios-dell", "raw/ip-addr.json")).value.get("enp0s4")).toBe("10.0.2.15");
  });

  it("reads driver, firmware, speed and link", () => {
    expect(parseEthtoolDriver(text("vm-bios-dell", "raw/ethtool-i.enp0s4.txt"), "x").value).toEqual({
      driver: "e1000e",
      version: "6.1.0-56-amd64",
      firmware_version: "2.1-0",
      bus_info: "0000:00:04.0",
    });
    expect(parseEthtool(text("vm-bios-dell", "raw/ethtool.enp0s4.txt"), "x").value).toEqual({ speed_mbps: 1000, link: true });
    expect(parseEthtool(text("host", "raw/ethtool.eth0.txt"), "x").value).toEqual({ speed_mbps: null, link: true });
  });
});

describe("lldpctl", () => {
  it("reads each port's neighbour: the other port on the same qemu hub, VLAN 100 on one", () => {
    const { value, errors } = parseLldpctl(text("vm-bios-dell", "raw/lldpctl.json"));
    expect(errors).toEqual([]);
    expect(Object.fromEntries(value)).toEqual({
      enp0s5: { chassis_id: "52:54:00:de:11:01", system_name: "vm", port_id: "52:54:00:de:11:03", port_description: "enp0s6", vlan: null },
      enp0s6: { chassis_id: "52:54:00:de:11:01", system_name: "vm", port_id: "52:54:00:de:11:02", port_description: "enp0s5", vlan: 100 },
    });
  });
});

describe("lshw", () => {
  it("reads the system, firmware, disks and NICs", () => {
    const { value, errors } = parseLshw(text("vm-bios-dell", "raw/lshw.json"));
    expect(errors).toEqual([]);
    expect(value?.system_vendor).toMatchObject({
      manufacturer: "Dell Inc.",
      product_name: expect.stringContaining("PowerEdge R640"),
      serial_number: "CZ7R3X2",
    });
    expect(value?.firmware).toEqual({ vendor: "Dell Inc.", version: "2.17.0", build_date: "2023-03-15" });
    expect(value?.networks.map((network) => network.mac_address).sort()).toEqual(["52:54:00:de:11:01", "52:54:00:de:11:02", "52:54:00:de:11:03"]);
    expect(value?.dimms.map((dimm) => dimm.size_bytes)).toEqual([16 * GiB, 1 * GiB]);
  });
});

describe("small files", () => {
  it("efi, meminfo, edac and the manifest", () => {
    expect(parseEfi(text("vm-bios-dell", "raw/efi.json")).value).toEqual({ current_boot_mode: "bios", secure_boot: false });
    // -m 17G: the kernel manages a little less than what is installed.
    const total = parseMeminfo(text("vm-bios-dell", "raw/meminfo.txt")).value.total_bytes!;
    expect(total).toBeGreaterThan(16 * GiB);
    expect(total).toBeLessThan(17 * GiB);
    expect(parseEdac(text("vm-bios-dell", "raw/edac.json"))).toEqual({ value: { correctable_errors: null, uncorrectable_errors: null }, errors: [] });
    const manifest = parseManifest(text("vm-bios-dell", "manifest.json"));
    expect(manifest.value).toMatchObject({ format: "recon-raw/1", boot_mac: "52:54:00:de:11:01", kernel: "6.1.0-56-amd64" });
    expect(manifest.value.collector_errors.map((error) => error.source)).toEqual(["collector:smartctl.vda", "collector:smartctl.vdb"]);
  });
});

describe("nvme", () => {
  it("reads nvme list (nvme-cli 2.3) and id-ctrl with the serial qemu's -device nvme was given", () => {
    const list = parseNvmeList(text("vm-uefi-hpe", "raw/nvme-list.json"));
    expect(list).toEqual({
      value: [{ name: "nvme0n1", model: "QEMU NVMe Ctrl", serial: "NVME-HPE-0001", firmware_version: "7.2.22", size_bytes: 4 * GiB }],
      errors: [],
    });
    // No NVMe in the Dell VM: an empty list is an answer, not an error.
    expect(parseNvmeList(text("vm-bios-dell", "raw/nvme-list.json"))).toEqual({ value: [], errors: [] });
    const ctrl = parseNvmeIdCtrl(text("vm-uefi-hpe", "raw/nvme-id-ctrl.nvme0.json"), "x");
    expect(ctrl.value).toEqual({ model: "QEMU NVMe Ctrl", serial: "NVME-HPE-0001", firmware_version: "7.2.22", vendor_id: "1b36" });
  });

  it("smartctl on NVMe and on a rotating SATA disk", () => {
    expect(parseSmartctl(text("vm-uefi-hpe", "raw/smartctl.nvme0n1.json"), "x").value).toMatchObject({
      protocol: "NVMe",
      serial: "NVME-HPE-0001",
      size_bytes: 4 * GiB,
      rotation_rate: null,
      smart_passed: true,
    });
    expect(parseSmartctl(text("vm-uefi-hpe", "raw/smartctl.sda.json"), "x").value).toMatchObject({
      model: "ST4000NM0035-1V4107",
      serial: "ZC1234HDD",
      size_bytes: 5 * GiB,
      rotation_rate: 7200,
    });
  });
});

describe("ipmitool", () => {
  const ipmiSim = (name: string) => readFileSync(join(INVENTORY_FIXTURES, "..", "ipmi", name), "utf8");

  it("mc info from qemu's ipmi-bmc-sim (fwrev 2.44, HP) and from OpenIPMI's ipmi_sim", () => {
    expect(parseIpmiMcInfo(text("vm-uefi-hpe", "raw/ipmitool-mc-info.txt"))).toEqual({
      value: { firmware_version: "2.44", manufacturer: "Hewlett-Packard", ipmi_version: "2.0" },
      errors: [],
    });
    expect(parseIpmiMcInfo(ipmiSim("ipmi-sim.mc-info.txt")).value).toEqual({
      firmware_version: "9.08",
      manufacturer: "MontaVista Software, Inc.",
      ipmi_version: "2.0",
    });
  });

  it("lan print from ipmi_sim (out of band, and in band through KCS) gives the BMC's address and MAC", () => {
    expect(parseIpmiLanPrint(ipmiSim("ipmi-sim.lan-print-1.txt"), "x")).toEqual({
      value: { address: "10.99.0.10", v6address: null, mac: "52:54:00:b0:00:01" },
      errors: [],
    });
    expect(parseIpmiLanPrint(text("vm-bios-fujitsu", "raw/ipmitool-lan-print.1.txt"), "x")).toEqual({
      value: { address: "10.213.77.10", v6address: null, mac: "d0:50:99:f5:50:99" },
      errors: [],
    });
  });

  it("an FRU listing with only its description line (ipmi-bmc-sim has no FRU data) gives no identity", () => {
    expect(parseIpmiFru(text("vm-uefi-hpe", "raw/ipmitool-fru.txt")).value).toEqual({
      manufacturer: null,
      product_name: null,
      serial_number: null,
      uuid: null,
      sku: null,
    });
  });
});

describe("other tool versions' shapes (derived from the captured outputs)", () => {
  it("lshw printing a list holding the root node (newer lshw) reads the same as the bare object", () => {
    const object = text("vm-bios-dell", "raw/lshw.json");
    expect(parseLshw(`[${object}]`)).toEqual(parseLshw(object));
  });

  it("lsblk of older util-linux (numbers and booleans as strings) reads the same", () => {
    const json = JSON.parse(text("vm-bios-dell", "raw/lsblk.json")) as { blockdevices: Array<Record<string, unknown>> };
    const stringly = {
      blockdevices: json.blockdevices.map((device) => ({ ...device, size: String(device.size), rota: device.rota ? "1" : "0", rm: device.rm ? "1" : "0" })),
    };
    expect(parseLsblk(JSON.stringify(stringly))).toEqual(parseLsblk(text("vm-bios-dell", "raw/lsblk.json")));
  });

  it("lscpu with nested children (util-linux ≥ 2.38) reads the same as the flat list", () => {
    const flat = JSON.parse(text("vm-bios-dell", "raw/lscpu.json")) as { lscpu: Array<{ field: string }> };
    const [head, ...rest] = flat.lscpu;
    const nested = { lscpu: [{ ...head, children: rest }] };
    expect(parseLscpu(JSON.stringify(nested))).toEqual(parseLscpu(text("vm-bios-dell", "raw/lscpu.json")));
  });

  it("lldpctl with one interface (an object, not a list) and a VLAN list", () => {
    const json = JSON.parse(text("vm-bios-dell", "raw/lldpctl.json")) as { lldp: { interface: Array<Record<string, Record<string, unknown>>> } };
    const single = json.lldp.interface[1]!;
    single.enp0s6!.vlan = [{ "vlan-id": "200", pvid: false }, single.enp0s6!.vlan];
    const parsed = parseLldpctl(JSON.stringify({ lldp: { interface: single } }));
    expect([...parsed.value.keys()]).toEqual(["enp0s6"]);
    expect(parsed.value.get("enp0s6")?.vlan).toBe(200);
  });
});

describe("edac sums (pure logic; no capture machine has an EDAC driver with controllers)", () => {
  it("sums ce/ue over controllers and keeps null when a controller lacks a count", () => {
    const two = JSON.stringify({
      edac: true,
      mc: [
        { name: "mc0", ce_count: 3, ue_count: 0, dimms: [] },
        { name: "mc1", ce_count: 2, ue_count: 1, dimms: [] },
      ],
    });
    expect(parseEdac(two)).toEqual({ value: { correctable_errors: 5, uncorrectable_errors: 1 }, errors: [] });
    const partial = JSON.stringify({ edac: true, mc: [{ name: "mc0", ce_count: 3 }] });
    expect(parseEdac(partial).value).toEqual({ correctable_errors: 3, uncorrectable_errors: null });
    expect(parseEdac(text("vm-uefi-lenovo", "raw/edac.json"))).toEqual({ value: { correctable_errors: null, uncorrectable_errors: null }, errors: [] });
  });
});
