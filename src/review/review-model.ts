/**
 * The review read model: boot state (live from the master, or replayed from the stored events
 * for `recon nodes` on a store) joined with the inventories in the store, the class analysis
 * cached until an inventory changes. The master and the CLI use the same model.
 */
import type { Inventory } from "../inventory/schema.js";
import type { FleetState, NodeState } from "../model/node-state.js";
import { analyzeFleet, describeReason, type FleetAnalysis, type HardwareClass, type OutlierReason } from "./classes.js";
import { exportNodes, type ExportInput } from "./exports/export-input.js";
import { buildFleetView, fleetRow, type FleetRow, type FleetView } from "./fleet-view.js";
import { createInventoryCache, readUploads, type InventoryCache, type UploadSummary } from "./store-reader.js";

export interface NodeDetail {
  mac: string;
  row: FleetRow;
  state: NodeState | null;
  inventory: Inventory | null;
  /** Why inventory.json could not be used, when it exists but is invalid. */
  inventory_problem: string | null;
  class: HardwareClass | null;
  reasons: Array<OutlierReason & { message: string }>;
  uploads: UploadSummary[];
}

export interface FleetResponse extends FleetView {
  classes: HardwareClass[];
}

export interface ReviewModel {
  /** Re-reads changed inventories (at most once per `minIntervalMs`). */
  refresh(minIntervalMs?: number): Promise<void>;
  /** Re-reads now; resolves to the MACs whose inventory changed. */
  rescan(): Promise<string[]>;
  fleet(): Promise<FleetResponse>;
  /** What the fleet response depends on: equal keys mean an equal response (for caching). */
  fleetKey(): { state: FleetState; version: number };
  /** One row from the cached analysis (cheap: for the event stream). */
  row(mac: string): FleetRow;
  analysis(): FleetAnalysis;
  detail(mac: string): Promise<NodeDetail | undefined>;
  exportInput(generatedAt: string): Promise<ExportInput>;
  readonly cache: InventoryCache;
}

export function createReviewModel(options: { dataDir: string; fleet: () => FleetState; refreshIntervalMs?: number }): ReviewModel {
  const cache = createInventoryCache(options.dataDir);
  const interval = options.refreshIntervalMs ?? 1000;
  let analyzed: { version: number; analysis: FleetAnalysis } | undefined;

  const analysis = (): FleetAnalysis => {
    if (analyzed?.version !== cache.version) analyzed = { version: cache.version, analysis: analyzeFleet(cache.inventories) };
    return analyzed.analysis;
  };

  return {
    cache,
    refresh: (minIntervalMs = interval) => cache.refreshIfStale(minIntervalMs),
    rescan: () => cache.refresh(),
    analysis,
    async fleet() {
      await cache.refreshIfStale(interval);
      const result = analysis();
      return { ...buildFleetView(options.fleet(), cache.inventories, result), classes: result.classes };
    },
    fleetKey: () => ({ state: options.fleet(), version: cache.version }),
    row(mac) {
      return fleetRow(mac, options.fleet().nodes[mac], cache.inventories.get(mac), analysis());
    },
    async detail(mac) {
      await cache.refreshIfStale(interval);
      const state = options.fleet().nodes[mac];
      const inventory = cache.inventories.get(mac);
      const problem = cache.problems.get(mac);
      const uploads = await readUploads(options.dataDir, mac);
      if (state === undefined && inventory === undefined && problem === undefined && uploads.length === 0) return undefined;
      const result = analysis();
      const finding = result.nodes[mac];
      return {
        mac,
        row: fleetRow(mac, state, inventory, result),
        state: state ?? null,
        inventory: inventory ?? null,
        inventory_problem: problem?.message ?? null,
        class: result.classes.find((c) => c.id === finding?.class_id) ?? null,
        reasons: (finding?.reasons ?? []).map((reason) => ({ ...reason, message: describeReason(reason) })),
        uploads,
      };
    },
    async exportInput(generatedAt) {
      await cache.refreshIfStale(interval);
      return { generatedAt, nodes: exportNodes(options.fleet(), cache.inventories), analysis: analysis() };
    },
  };
}
