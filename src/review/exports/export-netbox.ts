/**
 * NetBox v4 bulk import: one CSV file per object type, for the "Import" page of each list
 * view, in dependency order (each file only refers to objects the earlier ones create):
 *
 *   01 manufacturers → 02 device roles → 03 sites → 04 device types → 05 devices →
 *   06 interfaces → 07 MAC addresses → 08 inventory item roles → 09 inventory items
 *
 * Column names are the fields of NetBox's import forms (netbox/dcim/forms/bulk_import.py;
 * checked by export-netbox.test.ts against the list taken from NetBox 4.6.8). Since NetBox
 * 4.2 a MAC address is its own object (MACAddress) assigned to an interface; the interface
 * import no longer has a mac_address column. Related objects are referenced by name (the
 * forms' `to_field_name`), a device type by its model.
 *
 * Values are written unchanged (no formula guard): NetBox stores what the file says.
 */
import type { Inventory, NetworkInterface } from "../../inventory/schema.js";
import { describeReason, formatGB, formatGiB, physicalNics } from "../classes.js";
import { renderCsv, type CsvValue } from "./csv.js";
import { exportNames, type ExportInput } from "./export-input.js";

export interface NetboxOptions {
  /** Site every device is placed in (created by 03-sites.csv). */
  site: string;
  /** Device role (created by 02-device-roles.csv). */
  role: string;
  /** Device status; "inventory" = on hand, not in service. */
  status: "offline" | "active" | "planned" | "staged" | "failed" | "inventory" | "decommissioning";
}

export const DEFAULT_NETBOX_OPTIONS: NetboxOptions = { site: "recon", role: "server", status: "inventory" };

export interface NetboxFile {
  name: string;
  /** NetBox's import page for this file, relative to the NetBox URL. */
  importPath: string;
  header: string[];
  rows: CsvValue[][];
}

const UNKNOWN_MANUFACTURER = "Unknown";
const UNKNOWN_MODEL = "Unknown model";

/** NetBox slugs: letters, digits, - and _; at most 100 characters. */
export function slugify(text: string): string {
  const slug = text
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 100)
    .replace(/-+$/, "");
  return slug === "" ? "unknown" : slug;
}

/**
 * Interface type from the link speed. ethtool's speed does not say copper or optics, so 10G
 * (10GBASE-T or SFP+) stays "other" for the admin to set; 25G and up are practically always
 * SFP28/QSFP modules. Values are dcim/choices.py InterfaceTypeChoices.
 */
export function interfaceType(speedMbps: number | null): string {
  switch (speedMbps) {
    case 100:
      return "100base-tx";
    case 1000:
      return "1000base-t";
    case 2500:
      return "2.5gbase-t";
    case 25000:
      return "25gbase-x-sfp28";
    case 40000:
      return "40gbase-x-qsfpp";
    case 100000:
      return "100gbase-x-qsfp28";
    default:
      return "other";
  }
}

const manufacturerOf = (inv: Inventory) => inv.system_vendor.manufacturer ?? UNKNOWN_MANUFACTURER;
const modelOf = (inv: Inventory) => inv.system_vendor.product_name ?? UNKNOWN_MODEL;

function nicDescription(nic: NetworkInterface): string | null {
  const parts = [
    nic.driver,
    nic.firmware_version && `firmware ${nic.firmware_version}`,
    nic.lldp && `LLDP ${nic.lldp.system_name ?? nic.lldp.chassis_id ?? "?"} ${nic.lldp.port_id ?? ""}`.trim(),
  ];
  const text = parts.filter(Boolean).join(", ");
  return text === "" ? null : text;
}

export function planNetboxImport(input: ExportInput, options: NetboxOptions = DEFAULT_NETBOX_OPTIONS): NetboxFile[] {
  const names = exportNames(input.nodes);
  const nodes = input.nodes.filter((node) => node.inventory !== undefined).map((node) => ({ ...node, inventory: node.inventory!, name: names.get(node.mac)! }));

  const manufacturers = new Set<string>();
  const deviceTypes = new Map<string, { manufacturer: string; model: string; part_number: string | null }>();
  const devices: CsvValue[][] = [];
  const interfaces: CsvValue[][] = [];
  const macs: CsvValue[][] = [];
  const items: CsvValue[][] = [];

  for (const node of nodes) {
    const inv = node.inventory;
    const manufacturer = manufacturerOf(inv);
    const model = modelOf(inv);
    manufacturers.add(manufacturer);
    const typeKey = JSON.stringify([manufacturer, model]);
    if (!deviceTypes.has(typeKey)) deviceTypes.set(typeKey, { manufacturer, model, part_number: inv.system_vendor.sku });
    const reasons = (input.analysis.nodes[node.mac]?.reasons ?? []).map(describeReason);
    devices.push([
      node.name,
      options.role,
      manufacturer,
      model,
      options.status,
      options.site,
      inv.system_vendor.serial_number,
      `recon: boot MAC ${node.mac}`,
      [
        reasons.length > 0 ? `recon outlier: ${reasons.join("; ")}` : null,
        inv.findings.length > 0 ? `recon health: ${inv.findings.map((finding) => `${finding.severity} ${finding.message}`).join("; ")}` : null,
      ]
        .filter(Boolean)
        .join("\n") || null,
    ]);

    for (const nic of physicalNics(inv.interfaces)) {
      interfaces.push([node.name, nic.name, interfaceType(nic.speed_mbps), nic.speed_mbps === null ? null : nic.speed_mbps * 1000, false, nicDescription(nic)]);
      macs.push([nic.mac_address, node.name, nic.name, true, null]);
    }
    if (inv.bmc.mac !== null) {
      interfaces.push([node.name, "bmc", "other", null, true, inv.bmc.address === null ? "BMC" : `BMC ${inv.bmc.address}`]);
      macs.push([inv.bmc.mac, node.name, "bmc", true, null]);
    }

    // NetBox keeps inventory item names unique per device (and parent): some boards repeat a
    // DIMM locator across banks, so a repeated name gets " #2", " #3".
    const itemNames = new Map<string, number>();
    const itemName = (name: string) => {
      const seen = (itemNames.get(name) ?? 0) + 1;
      itemNames.set(name, seen);
      return seen === 1 ? name : `${name} #${seen}`;
    };
    const sockets = inv.cpu.sockets ?? (inv.cpu.model_name === null ? 0 : 1);
    for (let socket = 0; socket < sockets; socket++) {
      items.push([node.name, itemName(`CPU ${socket + 1}`), "active", "CPU", null, inv.cpu.model_name, null, true, inv.cpu.model_name]);
    }
    inv.memory.dimms.forEach((dimm, i) => {
      if (dimm.size_bytes === null || dimm.size_bytes <= 0) return;
      if (dimm.manufacturer !== null) manufacturers.add(dimm.manufacturer);
      const description = [formatGiB(dimm.size_bytes), dimm.type, dimm.speed_mts && `${dimm.speed_mts}MT/s`].filter(Boolean).join(" ");
      items.push([
        node.name,
        itemName(dimm.slot ?? `DIMM ${i}`),
        "active",
        "Memory",
        dimm.manufacturer,
        dimm.part_number,
        dimm.serial_number,
        true,
        description,
      ]);
    });
    for (const disk of inv.disks) {
      items.push([
        node.name,
        itemName(disk.name),
        "active",
        "Disk",
        null,
        disk.model,
        disk.serial,
        true,
        `${disk.kind ?? "disk"} ${formatGB(disk.size_bytes)}${disk.wwn ? ` wwn ${disk.wwn}` : ""}`,
      ]);
    }
    inv.gpus.forEach((gpu, i) => {
      if (gpu.vendor !== null) manufacturers.add(gpu.vendor);
      items.push([
        node.name,
        itemName(`GPU ${gpu.pci_slot ?? i}`),
        "active",
        "GPU",
        gpu.vendor,
        gpu.product,
        null,
        true,
        gpu.memory_bytes === null ? null : formatGiB(gpu.memory_bytes),
      ]);
    });
  }

  const sortedManufacturers = [...manufacturers].sort();
  const itemRoles = ["CPU", "Memory", "Disk", "GPU"];
  return [
    {
      name: "01-manufacturers.csv",
      importPath: "/dcim/manufacturers/import/",
      header: ["name", "slug"],
      rows: sortedManufacturers.map((name) => [name, slugify(name)]),
    },
    { name: "02-device-roles.csv", importPath: "/dcim/device-roles/import/", header: ["name", "slug"], rows: [[options.role, slugify(options.role)]] },
    { name: "03-sites.csv", importPath: "/dcim/sites/import/", header: ["name", "slug", "status"], rows: [[options.site, slugify(options.site), "active"]] },
    {
      name: "04-device-types.csv",
      importPath: "/dcim/device-types/import/",
      header: ["manufacturer", "model", "slug", "part_number"],
      rows: [...deviceTypes.values()]
        .sort((a, b) => a.manufacturer.localeCompare(b.manufacturer) || a.model.localeCompare(b.model))
        .map((type) => [type.manufacturer, type.model, slugify(`${type.manufacturer} ${type.model}`), type.part_number]),
    },
    {
      name: "05-devices.csv",
      importPath: "/dcim/devices/import/",
      header: ["name", "role", "manufacturer", "device_type", "status", "site", "serial", "description", "comments"],
      rows: devices,
    },
    {
      name: "06-interfaces.csv",
      importPath: "/dcim/interfaces/import/",
      header: ["device", "name", "type", "speed", "mgmt_only", "description"],
      rows: interfaces,
    },
    {
      name: "07-mac-addresses.csv",
      importPath: "/dcim/mac-addresses/import/",
      header: ["mac_address", "device", "interface", "is_primary", "description"],
      rows: macs,
    },
    {
      name: "08-inventory-item-roles.csv",
      importPath: "/dcim/inventory-item-roles/import/",
      header: ["name", "slug"],
      rows: itemRoles.map((role) => [role, slugify(role)]),
    },
    {
      name: "09-inventory-items.csv",
      importPath: "/dcim/inventory-items/import/",
      header: ["device", "name", "status", "role", "manufacturer", "part_id", "serial", "discovered", "description"],
      rows: items,
    },
  ];
}

/** The import files as CSV text, by file name, plus a README with the order and pages. */
export function renderNetboxExport(input: ExportInput, options: NetboxOptions = DEFAULT_NETBOX_OPTIONS): Map<string, string> {
  const files = planNetboxImport(input, options);
  const out = new Map<string, string>();
  out.set(
    "README.txt",
    [
      "NetBox (>= 4.2) bulk import files made by recon. Import them in this order, each on its page",
      "(paste the file or upload it as CSV):",
      "",
      ...files.map((file) => `  ${file.name.padEnd(28)} ${file.importPath}`),
      "",
      `Devices go to site "${options.site}" with role "${options.role}" and status "${options.status}".`,
      "",
    ].join("\n"),
  );
  for (const file of files) out.set(file.name, renderCsv(file.header, file.rows, { guardFormulas: false }));
  return out;
}
