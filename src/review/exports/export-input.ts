/**
 * What every export renderer receives: the nodes (boot state and inventory, either may be
 * missing), the class analysis and the export time. Renderers are pure string functions.
 */
import type { Inventory } from "../../inventory/schema.js";
import type { FleetState, NodeState } from "../../model/node-state.js";
import type { FleetAnalysis } from "../classes.js";

export interface ExportNode {
  /** aa:bb:cc:dd:ee:ff */
  mac: string;
  state: NodeState | undefined;
  inventory: Inventory | undefined;
}

export interface ExportInput {
  /** ISO time written into the exports that carry one (JSON). */
  generatedAt: string;
  nodes: ExportNode[];
  analysis: FleetAnalysis;
}

export const EXPORT_FORMATS = ["json", "csv", "netbox", "ansible"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export function isExportFormat(text: string): text is ExportFormat {
  return (EXPORT_FORMATS as readonly string[]).includes(text);
}

/** Every node with state or an inventory, sorted by MAC. */
export function exportNodes(fleet: FleetState, inventories: ReadonlyMap<string, Inventory>): ExportNode[] {
  const macs = [...new Set([...Object.keys(fleet.nodes), ...inventories.keys()])].sort();
  return macs.map((mac) => ({ mac, state: fleet.nodes[mac], inventory: inventories.get(mac) }));
}

/**
 * A unique, tool-friendly name per node: its hostname when that is a valid DNS label and no
 * other node has it (live peers often all call themselves the same), else `recon-<mac>`.
 */
export function exportNames(nodes: readonly ExportNode[]): Map<string, string> {
  const hostname = (node: ExportNode) => {
    const name = node.inventory?.hostname ?? node.state?.hostname ?? null;
    return name !== null && /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(name) ? name.toLowerCase() : null;
  };
  const counts = new Map<string, number>();
  for (const node of nodes) {
    const name = hostname(node);
    if (name !== null) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  const fallback = (mac: string) => `recon-${mac.replace(/:/g, "")}`;
  const names = new Map<string, string>();
  const taken = new Set(nodes.map((node) => fallback(node.mac)));
  for (const node of nodes) {
    const name = hostname(node);
    names.set(node.mac, name !== null && counts.get(name) === 1 && !taken.has(name) ? name : fallback(node.mac));
  }
  return names;
}
