/**
 * A workload manifest (model/workload-manifest.ts) as agent collectors: each collector's stdout
 * lands in the upload as `raw/workload/<id>.out`, reported as `workload.<id>`. Pure.
 */
import { join } from "node:path";
import type { WorkloadManifest } from "../model/workload-manifest.js";
import type { CommandCollector } from "./collectors.js";

/** The manifest's collectors as agent collector specs, run from `workloadDir`. */
export function planWorkloadCollectors(manifest: WorkloadManifest, workloadDir: string): CommandCollector[] {
  return manifest.collectors.map((collector) => {
    const [program, ...args] = collector.argv;
    const file = `raw/workload/${collector.id}.out`;
    return {
      kind: "command",
      id: `workload.${collector.id}`,
      argv: [program!.startsWith("./") ? join(workloadDir, program!) : program!, ...args],
      files: [file],
      stdout: file,
      timeoutMs: collector.timeout_s * 1000,
    };
  });
}
