import { describe, expect, it } from "vitest";
import { parseWorkloadManifest } from "../model/workload-manifest.js";
import { planWorkloadCollectors } from "./workload-collectors.js";

describe("planWorkloadCollectors", () => {
  it("runs ./ programs from the workload and others from PATH, each into raw/workload/<id>.out", () => {
    const manifest = parseWorkloadManifest(
      '{"format":"recon-workload/1","collectors":[{"id":"raid","argv":["./scripts/raid.sh","-v"],"timeout_s":30},{"id":"sel","argv":["ipmitool","sel","elist"]}]}',
      "m.json",
    );
    expect(planWorkloadCollectors(manifest, "/run/w")).toEqual([
      {
        kind: "command",
        id: "workload.raid",
        argv: ["/run/w/scripts/raid.sh", "-v"],
        files: ["raw/workload/raid.out"],
        stdout: "raw/workload/raid.out",
        timeoutMs: 30_000,
      },
      {
        kind: "command",
        id: "workload.sel",
        argv: ["ipmitool", "sel", "elist"],
        files: ["raw/workload/sel.out"],
        stdout: "raw/workload/sel.out",
        timeoutMs: 120_000,
      },
    ]);
  });
});
