/**
 * JSON export: every node's complete normalized inventory (exactly as stored, schema_version
 * included), its boot state and its class findings. Stable key order and node order (by MAC).
 */
import { describeReason } from "../classes.js";
import type { ExportInput } from "./export-input.js";

export const JSON_EXPORT_FORMAT = "recon-fleet/1";

export function renderJsonExport(input: ExportInput): string {
  const document = {
    format: JSON_EXPORT_FORMAT,
    generated_at: input.generatedAt,
    classes: input.analysis.classes,
    nodes: input.nodes.map((node) => {
      const finding = input.analysis.nodes[node.mac];
      return {
        mac: node.mac,
        state: node.state ?? null,
        class_id: finding?.class_id ?? null,
        reasons: (finding?.reasons ?? []).map((reason) => ({ ...reason, message: describeReason(reason) })),
        inventory: node.inventory ?? null,
      };
    }),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}
