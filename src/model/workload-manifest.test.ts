import { describe, expect, it } from "vitest";
import { parseWorkloadManifest } from "./workload-manifest.js";

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
