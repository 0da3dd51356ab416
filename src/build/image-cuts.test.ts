import { describe, expect, it } from "vitest";
import { compileCuts, cutFor, cutsAgainstNeeds, IMAGE_CUTS } from "./image-cuts.js";
import { IMAGE_NEEDS, neededPaths } from "./image-needs.js";

describe("image cuts", () => {
  it("remove nothing the needs list names (tools, their libraries, files, modules, firmware)", () => {
    const needed = neededPaths(IMAGE_NEEDS);
    expect(needed.length).toBeGreaterThan(900);
    expect(cutsAgainstNeeds(IMAGE_CUTS, needed)).toEqual([]);
  });

  it("would be caught if one did", () => {
    const greedy = [...IMAGE_CUTS, { id: "all-net", globs: ["usr/lib/modules/*/kernel/drivers/net/**"], why: "test" }];
    const clashes = cutsAgainstNeeds(greedy, neededPaths(IMAGE_NEEDS));
    expect(clashes.length).toBeGreaterThan(100);
    expect(new Set(clashes.map((c) => c.cut))).toEqual(new Set(["all-net"]));
    expect(clashes.map((c) => c.path)).toContain(`usr/lib/modules/${IMAGE_NEEDS.snapshot.kernel}/kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko`);
  });

  it("fio's Ceph and Gluster libraries are needs (fio links them), so no cut can take them", () => {
    const cephCut = [{ id: "ceph", globs: ["usr/lib/x86_64-linux-gnu/{librbd,librados}.so*"], why: "test" }];
    expect(cutsAgainstNeeds(cephCut, neededPaths(IMAGE_NEEDS)).map((c) => c.path)).toEqual(
      expect.arrayContaining(["usr/lib/x86_64-linux-gnu/librbd.so.1", "usr/lib/x86_64-linux-gnu/librados.so.2"]),
    );
  });

  it("have unique ids, and keep what a cut's keep globs name", () => {
    expect(new Set(IMAGE_CUTS.map((c) => c.id)).size).toBe(IMAGE_CUTS.length);
    const compiled = compileCuts();
    expect(cutFor(compiled, "usr/share/doc/curl/changelog.gz")?.id).toBe("doc");
    expect(cutFor(compiled, "usr/share/doc/curl/copyright")).toBeUndefined();
    expect(cutFor(compiled, "usr/lib/modules/6.1.0-57-amd64/kernel/drivers/gpu/drm/ast/ast.ko")).toBeUndefined();
    expect(cutFor(compiled, "usr/lib/modules/6.1.0-57-amd64/kernel/drivers/gpu/drm/i915/i915.ko")?.id).toBe("gpu-modules");
  });
});
