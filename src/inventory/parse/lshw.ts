/**
 * `lshw -json` → the fallback source for most sections. Debian 12's lshw (02.19) prints the
 * root object; other versions print a list holding it (IPA handles both the same way); some
 * old versions print invalid JSON, which ends up in `errors`.
 */
import type { Dimm, Firmware, SystemVendor } from "../schema.js";
import { clean, isRecord, isoDate, macOrNull, parseJson, toBool, toInt, type Parsed } from "./common.js";

type Node = Record<string, unknown>;

export interface LshwDisk {
  name: string;
  model: string | null;
  vendor: string | null;
  serial: string | null;
  size_bytes: number | null;
}

export interface LshwNetwork {
  name: string;
  mac_address: string | null;
  driver: string | null;
  firmware_version: string | null;
  speed_mbps: number | null;
  link: boolean | null;
  ipv4_address: string | null;
}

export interface LshwInfo {
  system_vendor: SystemVendor;
  firmware: Firmware;
  dimms: Dimm[];
  disks: LshwDisk[];
  networks: LshwNetwork[];
  cpu_model: string | null;
}

const SOURCE = "raw/lshw.json";

function walk(node: Node, visit: (node: Node) => void): void {
  visit(node);
  for (const child of Array.isArray(node.children) ? node.children : []) if (isRecord(child)) walk(child, visit);
}

function config(node: Node): Node {
  return isRecord(node.configuration) ? node.configuration : {};
}

/** The first logical name ("/dev/sda"), without /dev/; lshw gives a string or a list. */
function logicalName(node: Node): string | null {
  const names = Array.isArray(node.logicalname) ? node.logicalname : [node.logicalname];
  const first = names.find((name): name is string => typeof name === "string");
  return first ? first.replace(/^\/dev\//, "") : null;
}

const MEMORY_TYPE = /\b(LPDDR\d|DDR\d?|SDRAM|DRAM|RAM|FLASH)\b/i;

export function parseLshw(text: string): Parsed<LshwInfo | null> {
  const json = parseJson(text, SOURCE);
  const root = Array.isArray(json.value) ? json.value.find(isRecord) : isRecord(json.value) ? json.value : undefined;
  if (!root || typeof root.class !== "string") {
    return { value: null, errors: json.errors.length ? json.errors : [{ source: SOURCE, message: "no root node (with a class) in lshw JSON" }] };
  }
  const info: LshwInfo = {
    system_vendor: {
      manufacturer: clean(root.vendor),
      product_name: clean(root.product),
      serial_number: clean(root.serial),
      uuid: clean(config(root).uuid)?.toLowerCase() ?? null,
      sku: clean(config(root).sku),
    },
    firmware: { vendor: null, version: null, build_date: null },
    dimms: [],
    disks: [],
    networks: [],
    cpu_model: null,
  };
  walk(root, (node) => {
    const id = typeof node.id === "string" ? node.id : "";
    if (node.class === "memory" && id === "firmware") {
      info.firmware = { vendor: clean(node.vendor), version: clean(node.version), build_date: isoDate(clean(node.date)) };
    } else if (node.class === "memory" && id.startsWith("bank") && toInt(node.size) !== null) {
      const clock = toInt(node.clock);
      info.dimms.push({
        slot: clean(node.slot),
        locator: clean(node.slot),
        bank_locator: null,
        kind: null,
        size_bytes: toInt(node.size),
        non_volatile_size_bytes: null,
        configured_speed_mts: null,
        type: MEMORY_TYPE.exec(String(node.description ?? ""))?.[1]?.toUpperCase() ?? null,
        speed_mts: clock !== null ? Math.round(clock / 1e6) : null,
        manufacturer: clean(node.vendor),
        part_number: clean(node.product),
        serial_number: clean(node.serial),
      });
    } else if (node.class === "disk" && !id.startsWith("cdrom")) {
      const name = logicalName(node);
      if (name) info.disks.push({ name, model: clean(node.product), vendor: clean(node.vendor), serial: clean(node.serial), size_bytes: toInt(node.size) });
    } else if (node.class === "network") {
      const name = logicalName(node);
      const conf = config(node);
      if (name) {
        // lshw's "size" of a network node is the current speed in bit/s.
        const bits = toInt(node.size);
        info.networks.push({
          name,
          mac_address: macOrNull(node.serial),
          driver: clean(conf.driver),
          firmware_version: clean(conf.firmware),
          speed_mbps: bits !== null && node.units === "bit/s" ? Math.round(bits / 1e6) : null,
          link: toBool(conf.link),
          ipv4_address: clean(conf.ip),
        });
      }
    } else if (node.class === "processor" && info.cpu_model === null) {
      info.cpu_model = clean(node.product);
    }
  });
  return { value: info, errors: [] };
}
