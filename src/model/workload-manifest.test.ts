import { describe, expect, it } from "vitest";
import { parseWorkloadManifest } from "./workload-manifest.js";
import { planWorkloadCollectors } from "../agent/workload-collectors.js";

describe("parseWorkloadManifest", () => {
  it("reads a manifest with defaults filled in", () => {
    const manifest = parseWorkloadManifest('{"format":"recon-workload/1","collectors":[{"id":"raid","argv":["./raid.sh"]}]}', "m.json");
    expect(manifest).toEqual({ format: "recon-workload/1", builtin_collectors: true, collectors: [{ id: "raid", argv: ["./raid.sh"], timeout_s: 120 }] });
  });

  it.each([
    ["{", /m\.json is not JSON/],
    ['{"format":"recon-workload/2"}', /m\.json: format: Invalid literal value/],
    ['{"format":"recon-workload/1","collectors":[{"id":"Bad Id","argv":["x"]}]}', /collectors\.0\.id: an id is/],
    ['{"format":"recon-workload/1","collectors":[{"id":"a","argv":[]}]}', /collectors\.0\.argv/],
    ['{"format":"recon-workload/1","collectors":[{"id":"a","argv":["./../etc/x"]}]}', /argv\[0\] must stay inside the workload/],
    ['{"format":"recon-workload/1","collectors":[{"id":"a","argv":["x"]},{"id":"a","argv":["y"]}]}', /ids must be unique/],
    ['{"format":"recon-workload/1","extra":1}', /Unrecognized key/],
  ])("refuses %s with a message naming the key", (text, message) => {
    expect(() => parseWorkloadManifest(text, "m.json")).toThrow(message);
  });
});

describe("planWorkloadCollectors", () => {
  it("runs ./ programs from the workload and others from PATH, each into raw/workload/<id>.out", () => {
    const manifest = parseWorkloadManifest(
      '{"format":"recon-workload/1","collectors":[{"id":"raid","argv":["./scripts/raid.sh","-v"],"timeout_s":30},{"id":"sel","argv":["ipmitool","sel","elist"]}]}',
      "m.json",
    );
    expect(planWorkloadCollectors(manifest, "/run/w")).toEqual([
      { kind: "command", id: "workload.raid", argv: ["/run/w/scripts/raid.sh", "-v"], files: ["raw/workload/raid.out"], stdout: "raw/workload/raid.out", timeoutMs: 30_000 },
      { kind: "command", id: "workload.sel", argv: ["ipmitool", "sel", "elist"], files: ["raw/workload/sel.out"], stdout: "raw/workload/sel.out", timeoutMs: 120_000 },
    ]);
  });
});
