/**
 * normalizeRaw on every captured machine: schema-valid, the values the VM was dressed with
 * (run-vm.sh) end up in the right fields, and the whole result matches its golden file
 * (test/fixtures/inventory/golden/<machine>.json; `npx vitest run -u` rewrites them — review the diff).
 */
import { describe, expect, it } from "vitest";
import { fixtureMachines, readFixtureFiles } from "../../test/fixtures/inventory/fixtures.js";
import { normalizeRaw } from "./normalize.js";
import { inventorySchema } from "./schema.js";

const GiB = 1024 ** 3;

describe("normalizeRaw on the captured machines", () => {
  const machines = fixtureMachines();

  it("has at least four captured machines (the host and three dressed VMs)", () => {
    expect(machines).toEqual(expect.arrayContaining(["host", "vm-bios-dell", "vm-uefi-hpe", "vm-bios-supermicro", "vm-uefi-lenovo", "vm-bios-fujitsu"]));
  });

  for (const machine of machines) {
    it(`${machine}: schema-valid and equal to its golden file`, async () => {
      const inventory = normalizeRaw(readFixtureFiles(machine));
      expect(inventorySchema.safeParse(inventory).success).toBe(true);
      // Deterministic: the same raw files give byte-identical JSON.
      expect(JSON.stringify(normalizeRaw(readFixtureFiles(machine)))).toBe(JSON.stringify(inventory));
      await expect(`${JSON.stringify(inventory, null, 2)}\n`).toMatchFileSnapshot(`../../test/fixtures/inventory/golden/${machine}.json`);
    });
  }

  it("vm-bios-dell: SMBIOS identity, BIOS boot, two DIMMs, SATA SSD + virtio, LLDP with VLAN", () => {
    const inventory = normalizeRaw(readFixtureFiles("vm-bios-dell"));
    expect(inventory.system_vendor).toEqual({
      manufacturer: "Dell Inc.",
      product_name: "PowerEdge R640",
      serial_number: "CZ7R3X2",
      uuid: "4c4c4544-0035-4e10-8052-b4c04f335832",
      sku: "0716", // Dell's "SKU=0716;ModelName=PowerEdge R640": the SKU part
    });
    expect(inventory.boot).toEqual({ current_boot_mode: "bios", secure_boot: false, lockdown: null, pxe_interface: "enp0s4" });
    expect(inventory.memory.physical_mb).toBe(17 * 1024);
    expect(inventory.cpu.frequency_mhz).toBe(2100); // lscpu has no max MHz under TCG: SMBIOS type 4 "Current Speed" (its "Max Speed" is the socket's ceiling)
    const disks = Object.fromEntries(inventory.disks.map((disk) => [disk.name, disk]));
    expect(disks.sda).toMatchObject({ serial: "SATASSD-DELL-02", size_bytes: 3 * GiB, kind: "ssd", smart_passed: true });
    expect(disks.vda).toMatchObject({ serial: "VIRTIO-DELL-0001", size_bytes: 2 * GiB, smart_passed: null });
    expect(inventory.interfaces.map((nic) => [nic.name, nic.mac_address, nic.driver])).toEqual([
      ["enp0s4", "52:54:00:de:11:01", "e1000e"],
      ["enp0s5", "52:54:00:de:11:02", "virtio_net"],
      ["enp0s6", "52:54:00:de:11:03", "virtio_net"],
    ]);
    expect(inventory.interfaces[0]).toMatchObject({ speed_mbps: 1000, link: true, ipv4_address: "10.0.2.15", lldp: null });
    expect(inventory.interfaces[2]!.lldp).toEqual({
      chassis_id: "52:54:00:de:11:01",
      system_name: "vm",
      port_id: "52:54:00:de:11:02",
      port_description: "enp0s5",
      vlan: 100,
    });
    expect(inventory.gpus).toEqual([{ vendor: null, product: null, pci_slot: "0000:00:01.0", driver: "bochs-drm", memory_bytes: null }]);
  });

  it("vm-uefi-hpe: UEFI boot, NVMe + rotational SATA, rtl8139, in-band BMC firmware", () => {
    const inventory = normalizeRaw(readFixtureFiles("vm-uefi-hpe"));
    expect(inventory.system_vendor).toMatchObject({
      manufacturer: "HPE",
      product_name: "ProLiant DL360 Gen10",
      serial_number: "MXQ91203K7",
      sku: "867959-B21",
    });
    expect(inventory.firmware.vendor).toBe("EFI Development Kit II / OVMF");
    expect(inventory.boot).toEqual({ current_boot_mode: "uefi", secure_boot: false, lockdown: null, pxe_interface: "enp0s4" });
    expect(inventory.cpu).toMatchObject({ sockets: 2, cores: 2, threads: 2 });
    expect(inventory.memory.dimms.map((dimm) => [dimm.slot, dimm.size_bytes, dimm.speed_mts, dimm.part_number])).toEqual([
      ["PROC 1 DIMM 0", 3 * GiB, 2933, "840756-091"],
    ]);
    const disks = Object.fromEntries(inventory.disks.map((disk) => [disk.name, disk]));
    expect(disks.nvme0n1).toMatchObject({
      serial: "NVME-HPE-0001",
      model: "QEMU NVMe Ctrl",
      size_bytes: 4 * GiB,
      kind: "nvme",
      rotational: false,
      smart_passed: true,
    });
    expect(disks.sda).toMatchObject({ serial: "ZC1234HDD", model: "ST4000NM0035-1V4107", size_bytes: 5 * GiB, kind: "hdd", rotational: true });
    expect(inventory.interfaces.find((nic) => nic.mac_address === "52:54:00:ee:20:02")).toMatchObject({ driver: "8139cp", speed_mbps: 100 });
    // ipmi-bmc-sim,fwrev1=2,fwrev2=0x44; it implements no LAN channel, so no address.
    expect(inventory.bmc).toMatchObject({ address: null, v6address: null, mac: null, firmware_version: "2.44" });
    expect(inventory.errors.filter((error) => error.source.startsWith("collector:ipmitool-lan-print"))).toHaveLength(9);
  });

  it("vm-bios-supermicro (captured by recon agent collect): O.E.M. placeholders are null, two NVMe, agent manifest", () => {
    const inventory = normalizeRaw(readFixtureFiles("vm-bios-supermicro"));
    expect(inventory.agent_version).toBe("0.1.0");
    expect(inventory.system_vendor).toEqual({
      manufacturer: "Supermicro",
      product_name: "SYS-1029U-TRT",
      serial_number: "S292395X9A12345",
      uuid: "00000000-0000-0000-0000-ac1f6b4a2b3c",
      sku: null, // "To be filled by O.E.M."
    });
    expect(inventory.firmware).toEqual({ vendor: "American Megatrends Inc.", version: "3.3", build_date: "2020-02-21" });
    expect(inventory.cpu).toMatchObject({ sockets: 2, cores: 4, threads: 4, frequency_mhz: 2500 }); // SMBIOS Current Speed, not the socket's Max Speed 3900
    expect(inventory.disks.map((disk) => [disk.name, disk.serial, disk.size_bytes, disk.kind])).toEqual([
      ["vda", "VIRTIO-SMC-0003", 1 * GiB, "hdd"],
      ["vdb", "RECONCAP", 96 * 1024 ** 2, "hdd"],
      ["nvme0n1", "S4EWNX0N123456", 6 * GiB, "nvme"],
      ["nvme1n1", "S4EWNX0N654321", 7 * GiB, "nvme"],
    ]);
    expect(inventory.boot.pxe_interface).toBe("enp0s5");
    expect(inventory.interfaces.find((nic) => nic.name === "enp0s5")).toMatchObject({
      mac_address: "52:54:00:5a:30:01",
      driver: "virtio_net",
      ipv4_address: "10.0.2.15",
    });
    expect(inventory.interfaces.find((nic) => nic.name === "enp0s7")?.lldp).toMatchObject({ port_id: "52:54:00:5a:30:02", port_description: "enp0s6" });
    expect(inventory.bmc.firmware_version).toBe("1.73");
    // The agent's builtin readers (efi, meminfo, edac: exit_code null) are not failures; the
    // failed smartctl runs are explained by their JSON, so only that entry is kept.
    expect(inventory.errors.map((error) => error.source)).toEqual(["collector:ipmitool-lan-print", "raw/smartctl.vda.json", "raw/smartctl.vdb.json"]);
  });

  it("vm-uefi-lenovo (recon agent collect, UEFI): SATA SSD + SATA HDD + NVMe, e1000e ×2 + virtio-net", () => {
    const inventory = normalizeRaw(readFixtureFiles("vm-uefi-lenovo"));
    expect(inventory.system_vendor).toEqual({
      manufacturer: "Lenovo",
      product_name: "ThinkSystem SR650 -[7X06CTO1WW]-",
      serial_number: "J30012AB",
      uuid: "3f1c2a4e-9b7d-11e9-8000-0a94ef5b0c21",
      sku: "7X06CTO1WW",
    });
    expect(inventory.boot.current_boot_mode).toBe("uefi");
    // The agent's efi.json has secure_boot null here (capture.mjs read false on the same OVMF):
    // unknown stays unknown.
    expect(inventory.boot.secure_boot).toBeNull();
    expect(inventory.disks.map((disk) => [disk.name, disk.model, disk.serial, disk.size_bytes, disk.kind])).toEqual([
      ["sda", "INTEL SSDSC2KG480G8", "PHYF8241021X480BGN", 2 * GiB, "ssd"],
      ["sdb", "WDC WD40EFRX-68N32N0", "WCC4N7HV1234", 3 * GiB, "hdd"],
      ["vda", null, "RECONCAP", 96 * 1024 ** 2, "hdd"],
      ["nvme0n1", "QEMU NVMe Ctrl", "S4YNNE0N100200", 5 * GiB, "nvme"],
    ]);
    expect(inventory.interfaces.map((nic) => [nic.name, nic.mac_address, nic.driver])).toEqual([
      ["enp0s4", "52:54:00:1e:40:01", "e1000e"],
      ["enp0s6", "52:54:00:1e:40:03", "e1000e"],
      ["enp0s5", "52:54:00:1e:40:02", "virtio_net"],
    ]);
    expect(inventory.memory.dimms).toMatchObject([
      {
        slot: "DIMM 0",
        size_bytes: 2 * GiB,
        type: "RAM",
        speed_mts: 2933,
        manufacturer: "Micron",
        part_number: "36ASF4G72PZ-2G9E2",
        serial_number: "2B3C4D5E",
      },
    ]);
    expect(inventory.bmc.firmware_version).toBe("4.40");
  });

  it("vm-bios-fujitsu (recon agent collect, lab BMC with a LAN channel): BMC address, SCSI disks, e1000", () => {
    const inventory = normalizeRaw(readFixtureFiles("vm-bios-fujitsu"));
    expect(inventory.system_vendor).toMatchObject({
      manufacturer: "FUJITSU",
      product_name: "PRIMERGY RX2540 M5",
      serial_number: "YM5K004321",
      sku: "S26361-K1659-Vxxx",
    });
    expect(inventory.firmware).toEqual({ vendor: "FUJITSU // American Megatrends Inc.", version: "V5.0.0.14 R1.22.0 for D3384-B1x", build_date: "2021-06-11" });
    // capture-lan-bmc.ts: ipmi_sim at 10.213.77.10 reporting MAC d0:50:99:f5:50:99; ipmi_sim's own firmware 9.08.
    expect(inventory.bmc).toMatchObject({ address: "10.213.77.10", v6address: null, mac: "d0:50:99:f5:50:99", firmware_version: "9.08" });
    expect(inventory.disks.map((disk) => [disk.name, disk.vendor, disk.model, disk.serial, disk.size_bytes, disk.kind, disk.smart_passed])).toEqual([
      // scsi-hd,vendor=FUJITSU,product=ETERNUS_DXL,rotation_rate=10000: SCSI identity from smartctl's scsi_vendor/scsi_product.
      ["sda", "FUJITSU", "ETERNUS_DXL", "FJSCSI0001", 2 * GiB, "hdd", null],
      ["sdb", "QEMU", "QEMU HARDDISK", "FJSCSI0002", 1 * GiB, "ssd", null],
      ["sdc", "ATA", "SAMSUNG MZ7LH480HAHQ-00005", "S3Z8NB0K123456", 3 * GiB, "ssd", true],
      ["vda", "0x1af4", null, "RECONCAP", 96 * 1024 ** 2, "hdd", null],
    ]);
    expect(inventory.interfaces.find((nic) => nic.name === "enp0s4")).toMatchObject({ mac_address: "52:54:00:f5:50:01", driver: "e1000", speed_mbps: 1000 });
  });

  it("host: no SMBIOS (no /dev/mem), virtual interfaces (ifb) left out, failures listed", () => {
    const inventory = normalizeRaw(readFixtureFiles("host"));
    expect(inventory.system_vendor.manufacturer).toBeNull();
    expect(inventory.interfaces.map((nic) => nic.name)).toEqual(["eth0"]);
    expect(inventory.disks.map((disk) => disk.name)).toEqual(["vda"]);
    // lsblk had no udev database here and left SERIAL null; the kernel's /sys/block/vda/serial has it.
    expect(
      JSON.parse(readFixtureFiles("host").get("raw/lsblk.json")!.toString("utf8")).blockdevices.find((d: { name: string }) => d.name === "vda").serial,
    ).toBeNull();
    expect(inventory.disks[0]!.serial).toBe("overlayblk");
    expect(inventory.errors.map((error) => error.source)).toEqual(
      expect.arrayContaining(["raw/dmidecode.txt", "collector:dmidecode-bin", "collector:nvme-list", "collector:lldpctl", "raw/smartctl.vda.json"]),
    );
  });

  describe("precedence (the Dell VM's real files, one source changed or taken away)", () => {
    const dell = () => readFixtureFiles("vm-bios-dell");
    const editJson = (files: Map<string, Buffer>, path: string, edit: (value: any) => void) => {
      const value = JSON.parse(files.get(path)!.toString("utf8"));
      edit(value);
      files.set(path, Buffer.from(JSON.stringify(value)));
    };

    it("disk serial: smartctl over lsblk; lsblk when smartctl is missing. Size: lsblk over smartctl", () => {
      const files = dell();
      editJson(files, "raw/lsblk.json", (value) => {
        const sda = value.blockdevices.find((device: { name: string }) => device.name === "sda");
        sda.serial = "FROM-LSBLK";
      });
      editJson(files, "raw/smartctl.sda.json", (value) => {
        value.user_capacity.bytes = 1;
      });
      const both = normalizeRaw(files).disks.find((disk) => disk.name === "sda")!;
      expect(both.serial).toBe("SATASSD-DELL-02");
      expect(both.size_bytes).toBe(3 * GiB);
      files.delete("raw/smartctl.sda.json");
      const lsblkOnly = normalizeRaw(files).disks.find((disk) => disk.name === "sda")!;
      expect(lsblkOnly).toMatchObject({ serial: "FROM-LSBLK", smart_passed: null, kind: "ssd" });
    });

    it("system and firmware: dmidecode over lshw; lshw (with its appended SKU) when dmidecode is missing", () => {
      const files = dell();
      files.delete("raw/dmidecode.txt");
      const inventory = normalizeRaw(files);
      expect(inventory.system_vendor.product_name).toBe("PowerEdge R640 (SKU=0716;ModelName=PowerEdge R640)");
      expect(inventory.firmware).toEqual({ vendor: "Dell Inc.", version: "2.17.0", build_date: "2023-03-15" });
      // The DIMMs then come from lshw's memory banks.
      expect(inventory.memory.dimms.map((dimm) => dimm.size_bytes)).toEqual([16 * GiB, 1 * GiB]);
      expect(inventory.cpu.frequency_mhz).toBeNull(); // neither lscpu max MHz nor SMBIOS type 4
    });

    it("interfaces: ethtool over ip over lshw; without ip-link the list comes from lshw", () => {
      const files = dell();
      for (const key of [...files.keys()]) if (key.startsWith("raw/ethtool")) files.delete(key);
      const noEthtool = normalizeRaw(files).interfaces[0]!;
      expect(noEthtool).toMatchObject({ name: "enp0s4", driver: "e1000e", link: true, speed_mbps: 1000 }); // lshw's driver and size
      files.delete("raw/ip-link.json");
      expect(
        normalizeRaw(files)
          .interfaces.map((nic) => nic.mac_address)
          .sort(),
      ).toEqual(["52:54:00:de:11:01", "52:54:00:de:11:02", "52:54:00:de:11:03"]);
    });

    it("boot mode is unknown without efi.json, never guessed", () => {
      const files = dell();
      files.delete("raw/efi.json");
      expect(normalizeRaw(files).boot).toEqual({ current_boot_mode: null, secure_boot: null, lockdown: null, pxe_interface: "enp0s4" });
    });
  });
});

describe("disks[].by_path", () => {
  it("comes from raw/disk-by-path.json (the agent's builtin reader); null without it", () => {
    const files = readFixtureFiles("vm-bios-dell");
    const without = normalizeRaw(files);
    expect(without.disks.every((disk) => disk.by_path === null)).toBe(true);
    const name = without.disks[0]!.name;
    files.set("raw/disk-by-path.json", Buffer.from(JSON.stringify({ by_path: { [name]: ["pci-0000:00:1f.2-ata-2", "pci-0000:00:1f.2-ata-2.0"] } })));
    const withPaths = normalizeRaw(files);
    expect(withPaths.disks[0]!.by_path).toBe("pci-0000:00:1f.2-ata-2");
    expect(withPaths.disks.slice(1).every((disk) => disk.by_path === null)).toBe(true);
  });
});
