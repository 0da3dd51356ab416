/**
 * A small, deterministic fleet for export goldens, the browser test and docs: two racks of
 * schema-valid synthetic machines (src/inventory/synthetic.ts) where every rack member is the
 * same hardware, plus the things review must catch — a node with a missing DIMM, one with old
 * BIOS firmware, one with a failed SMART check — and a node whose DMI strings are hostile
 * (HTML/script, a spreadsheet formula, an Ansible template, quotes and a comma).
 */
import type { Inventory } from "../inventory/schema.js";
import { healthFindings } from "../inventory/health.js";
import { syntheticInventory } from "../inventory/synthetic.js";
import type { NodeEvent } from "../model/node-state.js";

export const HOSTILE_TEXT = `<script>alert(1)</script>`;

export interface SampleNode {
  mac: string;
  inventory: Inventory;
}

function member(template: Inventory, mac: string, index: number): Inventory {
  const inv = structuredClone(template);
  const suffix = mac.replace(/:/g, "").slice(-6).toUpperCase();
  inv.boot_mac = mac;
  inv.hostname = `node-${suffix.toLowerCase()}`;
  inv.system_vendor.serial_number = `SN${suffix}`;
  inv.system_vendor.uuid = `00000000-0000-4000-8000-${mac.replace(/:/g, "")}`;
  inv.collected_at = new Date(Date.UTC(2026, 10, 21, 12, 0, index)).toISOString();
  inv.memory.correctable_errors = 0;
  inv.memory.uncorrectable_errors = 0;
  inv.interfaces.forEach((nic, i) => {
    nic.mac_address = i === 0 ? mac : `52:54:0${i}${mac.slice(8)}`;
  });
  inv.disks.forEach((disk, i) => {
    disk.serial = `D${suffix}${i}`;
    disk.smart_passed = true;
  });
  inv.findings = [];
  inv.memory.dimms.forEach((dimm, i) => (dimm.serial_number = `M${suffix}${i.toString().padStart(2, "0")}`));
  inv.bmc.mac = `52:54:0f${mac.slice(8)}`;
  inv.bmc.address = `10.0.${parseInt(mac.slice(12, 14), 16)}.${parseInt(mac.slice(15, 17), 16)}`;
  return inv;
}

/** `racks` racks (synthetic seeds 3 and 5) of `perRack` nodes each, plus the special nodes. */
export function sampleFleet(perRack = 4): SampleNode[] {
  if (perRack < 4) throw new RangeError("sampleFleet needs at least 4 nodes per rack (3 carry findings)");
  const nodes: SampleNode[] = [];
  const racks = [syntheticInventory(3), syntheticInventory(5)];
  racks.forEach((template, r) => {
    for (let i = 0; i < perRack; i++) {
      const mac = `52:54:00:0${r + 1}:00:${(i + 1).toString(16).padStart(2, "0")}`;
      nodes.push({ mac, inventory: member(template, mac, nodes.length) });
    }
  });
  const rack1 = nodes.filter((node) => node.mac.startsWith("52:54:00:01"));
  // The review findings the UI and the exports must show.
  rack1[1]!.inventory.memory.dimms.pop();
  rack1[2]!.inventory.firmware.version = "1.0.0";
  // A failed disk is a health finding, not an outlier: the normalizer's own rule makes it.
  const failing = rack1[3]!.inventory;
  failing.disks[0]!.smart_passed = false;
  failing.findings = healthFindings({ sel: null, sdr: null, sensors: null, disks: failing.disks, edac: null });
  // A machine whose DMI strings were written by someone hostile.
  const hostileMac = "52:54:00:0e:00:01";
  const hostile = member(racks[0]!, hostileMac, nodes.length);
  hostile.system_vendor.manufacturer = `Evil ${HOSTILE_TEXT}`;
  hostile.system_vendor.product_name = `=HYPERLINK("http://x","click")`;
  hostile.system_vendor.serial_number = `{{ lookup('pipe', 'id') }}`;
  hostile.system_vendor.sku = `<img src=x onerror=alert(2)>, "quoted"`;
  hostile.hostname = `<b>bold</b>`;
  nodes.push({ mac: hostileMac, inventory: hostile });
  return nodes;
}

/** Boot events for the sample nodes: every node uploaded at 12:00 + n s; one ends in an error. */
export function sampleEvents(nodes: SampleNode[]): NodeEvent[] {
  const events: NodeEvent[] = [];
  nodes.forEach((node, i) => {
    const at = (s: number) => new Date(Date.UTC(2026, 10, 21, 11, 50, i * 3 + s)).toISOString();
    events.push({ type: "dhcp-ack", at: at(0), mac: node.mac, ip: `172.30.213.${100 + i}` });
    events.push({ type: "script-served", at: at(1), mac: node.mac });
    events.push({ type: "kernel-sent", at: at(1), mac: node.mac });
    events.push({ type: "agent-hello", at: at(2), mac: node.mac });
    events.push({ type: "upload-stored", at: at(2), mac: node.mac, uploadId: `20261121T1150${String(i).padStart(2, "0")}.000Z-0000000${i % 10}` });
  });
  return events;
}
