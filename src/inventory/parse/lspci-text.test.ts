/**
 * `lspci` text forms (-k, -nn, -vvnn) on real outputs pasted in GitHub issues
 * and a hardware probe (test/fixtures/inventory/real/storage/SOURCES.md): a PowerEdge R440's PERC
 * H730P and H840, an IBM HS23's SAS2004, an HP Z800's SAS1068E, the whole -vvnn of a PowerEdge 2950 and an
 * HPE ML10 Gen9 (linuxhw).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { INVENTORY_FIXTURES } from "../../../test/fixtures/inventory/fixtures.js";
import { parseLspciText } from "./lspci-text.js";

const DIR = join(INVENTORY_FIXTURES, "real/storage");
const files = readdirSync(DIR)
  .filter((name) => /\.lspci(-[a-z]+)?\.txt$/.test(name))
  .sort();
const text = (name: string) => readFileSync(join(DIR, name), "utf8");

describe("parseLspciText on real outputs", () => {
  it("reads every real output without an error, one device per slot line, as a whole-result snapshot", async () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
    const results = files.map((name) => ({ name, ...parseLspciText(text(name)) }));
    for (const result of results) {
      expect(result.errors, result.name).toEqual([]);
      expect(result.value, result.name).toHaveLength(text(result.name).match(/^([0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7] /gm)!.length);
    }
    await expect(`${JSON.stringify(results, null, 2)}\n`).toMatchFileSnapshot("__snapshots__/lspci-text-real.json");
  });

  it("lspci -k without -nn: names split at the vendor, the driver from 'Kernel driver in use', no ids", () => {
    expect(parseLspciText(text("hwraid-issue-119.poweredge-r440.lspci-k.txt")).value).toEqual([
      {
        slot: "0000:18:00.0",
        vendor_id: null,
        product_id: null,
        class_id: null,
        vendor: "LSI Logic / Symbios Logic",
        product: "MegaRAID SAS-3 3108 [Invader]",
        class: "RAID bus controller",
        subsystem_vendor_id: null,
        subsystem_id: null,
        revision: "02",
        driver: "megaraid_sas",
      },
      expect.objectContaining({ slot: "0000:af:00.0", product: "MegaRAID Tri-Mode SAS3508", revision: "01", driver: "megaraid_sas" }),
    ]);
  });

  it("lspci -nn: the ids are the last [xxxx:xxxx], a bracketed code name stays in the product", () => {
    expect(parseLspciText(text("hwraid-issue-21.ibm-hs23.lspci-nn.txt")).value[0]).toMatchObject({
      slot: "0000:0c:00.0",
      class_id: "0107",
      class: "Serial Attached SCSI controller",
      vendor_id: "1000",
      product_id: "0070",
      vendor: "LSI Logic / Symbios Logic",
      product: "SAS2004 PCI-Express Fusion-MPT SAS-2 [Spitfire]",
      revision: "03",
    });
  });

  it("lspci -vvnn of a PowerEdge 2950: the PERC 5/i with subsystem and driver, prog-if, vendors with brackets", () => {
    const devices = parseLspciText(text("linuxhw-dell-poweredge-2950-6643675AED82.lspci-vvnn.txt")).value;
    expect(devices).toHaveLength(37);
    expect(devices.find((device) => device.class_id === "0104")).toEqual({
      slot: "0000:02:0e.0",
      vendor_id: "1028",
      product_id: "0015",
      class_id: "0104",
      vendor: "Dell",
      product: "PowerEdge Expandable RAID controller 5",
      class: "RAID bus controller",
      subsystem_vendor_id: "1028",
      subsystem_id: "1f03",
      revision: null,
      driver: "megaraid_sas",
    });
    // "(prog-if 8a [ISA Compatibility mode controller, supports both channels …])" is not part of the name.
    expect(devices.find((device) => device.slot === "0000:00:1f.1")).toMatchObject({
      class_id: "0101",
      vendor: "Intel Corporation",
      product: "631xESB/632xESB IDE Controller",
      revision: "09",
      driver: "ata_piix",
    });
    expect(devices.find((device) => device.slot === "0000:10:0d.0")).toMatchObject({
      vendor: "Advanced Micro Devices, Inc. [AMD/ATI]",
      product: "ES1000",
      product_id: "515e",
      driver: "radeon",
    });
    expect(devices.find((device) => device.slot === "0000:04:00.0")).toMatchObject({
      vendor: "Broadcom",
      product: "EPB PCI-Express to PCI-X Bridge",
      vendor_id: "1166",
    });
    // A host bridge without a driver line has driver null, not the next record's.
    expect(devices.find((device) => device.slot === "0000:00:11.0")).toMatchObject({ driver: null, subsystem_vendor_id: "8086", subsystem_id: "8086" });
  });

  it("lspci -vvnn of an HPE ML10 Gen9: a bracketed mode before the ids, and a capability's Subsystem is not the device's", () => {
    const devices = parseLspciText(text("linuxhw-hpe-ml10gen9-06A38AE11D38.lspci-vvnn.txt")).value;
    expect(devices).toHaveLength(15);
    expect(devices.find((device) => device.class_id === "0106")).toEqual({
      slot: "0000:00:17.0",
      vendor_id: "8086",
      product_id: "a102",
      class_id: "0106",
      vendor: "Intel Corporation",
      product: "Q170/Q150/B150/H170/H110/Z170/CM236 Chipset SATA Controller [AHCI Mode]",
      class: "SATA controller",
      subsystem_vendor_id: "8086",
      subsystem_id: "7270",
      revision: "31",
      driver: "ahci",
    });
    expect(devices.find((device) => device.slot === "0000:02:00.0")).toMatchObject({
      product: "Lexa PRO [Radeon 540/540X/550/550X / RX 540X/550/550X]",
      product_id: "699f",
      subsystem_vendor_id: "1028",
      revision: "c7",
    });
    // "Capabilities: [88] Subsystem: … [8086:2015]" belongs to the bridge's capability list.
    expect(devices.find((device) => device.slot === "0000:00:01.0")).toMatchObject({ subsystem_vendor_id: null, subsystem_id: null, driver: "pcieport" });
  });

  it("a vendor recon has no name for keeps lspci's whole name as the product", () => {
    expect(parseLspciText("01:00.0 Ethernet controller [0200]: Acme Widgets NIC-9 [abcd:0001]\n").value[0]).toMatchObject({
      vendor: null,
      product: "Acme Widgets NIC-9",
      vendor_id: "abcd",
    });
  });

  it("empty output or text without a slot line is an error, never a throw", () => {
    expect(parseLspciText("")).toEqual({ value: [], errors: [{ source: "raw/lspci.txt", message: "empty output" }] });
    expect(parseLspciText("pcilib: Cannot open /proc/bus/pci\n\tstray indented line\n").errors).toHaveLength(1);
    expect(parseLspciText("00:00.0 \n00:01.0 Host bridge\n").value).toHaveLength(2);
  });
});
