/** GET /metrics: Prometheus text of nodes by phase, uploads stored and refused, bytes served per tree. */
import express from "express";
import { PHASES, type FleetState } from "../../model/node-state.js";
import type { Tree } from "./transfers.js";
import type { UploadCounts } from "./upload-route.js";

export interface MetricsRouteDeps {
  fleet: () => FleetState;
  uploads: UploadCounts;
  bytesServed: ReadonlyMap<Tree, number>;
}

export function createMetricsRouter(deps: MetricsRouteDeps): express.Router {
  const router = express.Router();

  router.get("/metrics", (_req, res) => {
    const byPhase = new Map<string, number>([...PHASES, "error"].map((phase) => [phase, 0]));
    for (const node of Object.values(deps.fleet().nodes)) byPhase.set(node.phase, (byPhase.get(node.phase) ?? 0) + 1);
    const lines = [
      "# HELP recon_nodes Nodes known to the master, by phase.",
      "# TYPE recon_nodes gauge",
      ...[...byPhase].map(([phase, count]) => `recon_nodes{phase="${phase}"} ${count}`),
      "# HELP recon_uploads_total Inventory uploads stored durably.",
      "# TYPE recon_uploads_total counter",
      `recon_uploads_total ${deps.uploads.stored}`,
      "# HELP recon_uploads_rejected_total Inventory uploads refused, by error code.",
      "# TYPE recon_uploads_rejected_total counter",
      ...[...deps.uploads.rejected].map(([code, count]) => `recon_uploads_rejected_total{code="${code}"} ${count}`),
      "# HELP recon_http_bytes_served_total Response body bytes of file downloads, by tree.",
      "# TYPE recon_http_bytes_served_total counter",
      ...[...deps.bytesServed].map(([tree, bytes]) => `recon_http_bytes_served_total{tree="${tree}"} ${bytes}`),
      "",
    ];
    res.type("text/plain; version=0.0.4").send(lines.join("\n"));
  });

  return router;
}
