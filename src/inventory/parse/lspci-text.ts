/**
 * `lspci -vvnn`, `-vnn`, `-nnk` (and the same without -nn) text → PCI devices, the shape
 * parseLspci gives for `lspci -vmm -nn -k`. Hardware probe collections and pasted outputs come in
 * this form. A record starts at a line beginning with a slot ("03:00.0" or "0000:03:00.0"):
 *
 *   03:00.0 RAID bus controller [0104]: Broadcom / LSI MegaRAID SAS-3 3108 [Invader] [1000:005d] (rev 02)
 *   	Subsystem: Dell PERC H730P Mini [1028:1f47]
 *   	Kernel driver in use: megaraid_sas
 *
 * Device names hold brackets of their own ("[Invader]", "[AMD]"), so the ids are the last
 * "[xxxx:xxxx]" of the line and the class id the "[xxxx]" just before the first ": ". Unlike
 * -vmm, the text form runs vendor and device names together ("Broadcom / LSI MegaRAID SAS-3
 * 3108"); they are split where the line starts with the vendor's pci.ids name (VENDOR_NAMES),
 * else vendor is null and product is lspci's whole name. Any other indented line is skipped.
 */
import type { PciDevice } from "../schema.js";
import { clean, type Parsed } from "./common.js";
import { parsePciSlot } from "./lspci.js";

/**
 * pci.ids vendor names of server storage, network and board makers, by vendor id, as the
 * pciutils of the last decade print them (names changed: LSI Logic → Broadcom / LSI).
 */
const VENDOR_NAMES: Record<string, string[]> = {
  "1000": ["Broadcom / LSI", "LSI Logic / Symbios Logic"],
  "1002": ["Advanced Micro Devices, Inc. [AMD/ATI]"],
  "1022": ["Advanced Micro Devices, Inc. [AMD]"],
  "1028": ["Dell"],
  "102b": ["Matrox Electronics Systems Ltd."],
  "103c": ["Hewlett-Packard Company"],
  "1077": ["QLogic Corp."],
  "10de": ["NVIDIA Corporation"],
  "10df": ["Emulex Corporation"],
  "10ec": ["Realtek Semiconductor Co., Ltd."],
  "1137": ["Cisco Systems Inc"],
  "1166": ["Broadcom"],
  "11f8": ["PMC-Sierra Inc."],
  "1344": ["Micron Technology Inc"],
  "144d": ["Samsung Electronics Co Ltd"],
  "14e4": ["Broadcom Inc. and subsidiaries", "Broadcom Limited", "Broadcom Corporation"],
  "1590": ["Hewlett Packard Enterprise"],
  "15b3": ["Mellanox Technologies"],
  "15b7": ["Sandisk Corp"],
  "15d9": ["Super Micro Computer Inc"],
  "1912": ["Renesas Technology Corp."],
  "19a2": ["Emulex Corporation"],
  "19e5": ["Huawei Technologies Co., Ltd."],
  "1a03": ["ASPEED Technology, Inc."],
  "1b21": ["ASMedia Technology Inc."],
  "1b4b": ["Marvell Technology Group Ltd."],
  "1c5c": ["SK hynix"],
  "1d0f": ["Amazon.com, Inc."],
  "1e0f": ["KIOXIA Corporation"],
  "1af4": ["Red Hat, Inc."],
  "8086": ["Intel Corporation"],
  "9005": ["Adaptec", "Microsemi / PMC / IDT"],
};

/** Every name, longest first, for text without ids (-k without -nn). */
const ALL_VENDOR_NAMES = [...new Set(Object.values(VENDOR_NAMES).flat())].sort((a, b) => b.length - a.length);

const RECORD = /^((?:[0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])\s+(.*)$/i;
const IDS = /\s*\[([0-9a-f]{4}):([0-9a-f]{4})\]\s*$/i;

/** "Broadcom / LSI MegaRAID SAS-3 3108 [Invader]" → vendor and device, split at the vendor's pci.ids name. */
function splitName(name: string, vendorId: string | null): { vendor: string | null; product: string | null } {
  const candidates = vendorId === null ? ALL_VENDOR_NAMES : (VENDOR_NAMES[vendorId] ?? []);
  const vendor = candidates.find((candidate) => name === candidate || name.startsWith(`${candidate} `));
  // pci.ids knows the vendor but not the device: lspci prints "Device 0c57" after the vendor's name.
  if (vendor) return { vendor, product: clean(name.slice(vendor.length).replace(/^\s*Device(?: [0-9a-f]{4})?$/i, "")) };
  return { vendor: null, product: clean(name) };
}

function header(slot: string, rest: string): PciDevice {
  // "RAID bus controller [0104]: …": the class is up to the first ": " (class names hold none).
  const colon = rest.indexOf(": ");
  const classPart = colon < 0 ? rest : rest.slice(0, colon);
  const classMatch = /^(.*?)\s*\[([0-9a-f]{4})\]$/i.exec(classPart.trim());
  let name = colon < 0 ? "" : rest.slice(colon + 2);
  const revision = /\(rev ([0-9a-f]+)\)/i.exec(name)?.[1] ?? null;
  name = name
    .replace(/\s*\(prog-if [0-9a-f]{2}(?: \[[^\]]*\])?\)/i, "")
    .replace(/\s*\(rev [0-9a-f]+\)/i, "")
    .trim();
  const ids = IDS.exec(name);
  if (ids) name = name.slice(0, ids.index);
  const vendorId = ids ? ids[1]!.toLowerCase() : null;
  const { vendor, product } = splitName(name.trim(), vendorId);
  return {
    slot: parsePciSlot(slot),
    vendor_id: vendorId,
    product_id: ids ? ids[2]!.toLowerCase() : null,
    class_id: classMatch ? classMatch[2]!.toLowerCase() : null,
    vendor,
    product,
    class: clean(classMatch ? classMatch[1] : classPart),
    subsystem_vendor_id: null,
    subsystem_id: null,
    revision,
    driver: null,
  };
}

export function parseLspciText(text: string): Parsed<PciDevice[]> {
  const devices: PciDevice[] = [];
  for (const line of text.replace(/\r/g, "").split("\n")) {
    const record = RECORD.exec(line);
    if (record) {
      devices.push(header(record[1]!, record[2]!));
      continue;
    }
    const device = devices.at(-1);
    if (!device || !/^\s/.test(line)) continue;
    const field = /^\s+(Subsystem|Kernel driver in use):\s*(.*)$/.exec(line);
    if (field?.[1] === "Subsystem") {
      const ids = IDS.exec(field[2]!);
      device.subsystem_vendor_id = ids ? ids[1]!.toLowerCase() : null;
      device.subsystem_id = ids ? ids[2]!.toLowerCase() : null;
    } else if (field?.[1] === "Kernel driver in use") device.driver = clean(field[2]);
  }
  // Every PCI machine has at least a host bridge: no record at all means lspci did not work.
  const errors =
    devices.length === 0 ? [{ source: "raw/lspci.txt", message: text.trim() === "" ? "empty output" : "no 'bb:dd.f' records in lspci output" }] : [];
  return { value: devices, errors };
}
