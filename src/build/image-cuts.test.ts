import { describe, expect, it } from "vitest";
import { compileCuts, cutFor, cutsAgainstNeeds, IMAGE_CUTS, renderCutShell } from "./image-cuts.js";
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

describe("renderCutShell", () => {
  it("turns the chosen cuts into config.sh lines: trees removed whole, keep globs kept, then depmod", () => {
    expect(renderCutShell(["doc", "gpu-modules", "media-firmware"]).join("\n")).toMatchInlineSnapshot(`
      "# Image diet (docs/recipes.md): what a recon node never uses, from src/build/image-cuts.ts.
      # cut doc: documentation nobody reads on a recon node; the copyright files stay
      if [ -d /usr/share/doc ]; then
        find /usr/share/doc -mindepth 1 ! -type d ! -path '/usr/share/doc/*/copyright' -delete
        find /usr/share/doc -mindepth 1 -depth -type d -empty -delete
      fi
      if [ -d /usr/share/doc-base ]; then
        find /usr/share/doc-base -mindepth 1 ! -type d ! -path '/usr/share/doc/*/copyright' -delete
        find /usr/share/doc-base -mindepth 1 -depth -type d -empty -delete
      fi
      if [ -d /usr/share/info ]; then
        find /usr/share/info -mindepth 1 ! -type d ! -path '/usr/share/doc/*/copyright' -delete
        find /usr/share/info -mindepth 1 -depth -type d -empty -delete
      fi
      if [ -d /usr/share/lintian ]; then
        find /usr/share/lintian -mindepth 1 ! -type d ! -path '/usr/share/doc/*/copyright' -delete
        find /usr/share/lintian -mindepth 1 -depth -type d -empty -delete
      fi
      # cut gpu-modules: desktop and laptop GPUs; servers' BMC graphics (ast, mgag200), the VMs' (bochs, qxl, virtio) and the drm core stay
      rm -rf -- /usr/lib/modules/*/kernel/drivers/gpu/drm/{amd,i915,nouveau,radeon,gma500}
      # cut media-firmware: TV, video capture and sound card firmware
      rm -rf -- /usr/lib/firmware/{dvb-*,v4l-*,as102_*,s2250*}
      rm -rf -- /usr/lib/firmware/{go7007,dabusb}
      rm -rf -- /usr/lib/firmware/{f2255usb.bin,ctefx.bin,ctspeq.bin}
      # The module index must not name the modules that went.
      for kernel in /usr/lib/modules/*/; do depmod -a "$(basename "$kernel")"; done"
    `);
  });

  it("renders nothing for no cuts, and refuses an unknown id or a glob the shell would misread", () => {
    expect(renderCutShell([])).toEqual([]);
    expect(() => renderCutShell(["docs"])).toThrow(/image cut 'docs' is not one of doc, man, locale/);
    expect(() => renderCutShell(["x"], [{ id: "x", globs: ["usr/share/a b/**"], why: "test" }])).toThrow(/cannot become a config.sh word/);
    expect(() => renderCutShell(["x"], [{ id: "x", globs: ["usr/**/a"], why: "test" }])).toThrow(/cannot become a config.sh word/);
    expect(() => renderCutShell(["x"], [{ id: "x", globs: ["usr/share/*/x/**"], keep: ["usr/share/*/x/y"], why: "test" }])).toThrow(/keep globs need plain trees/);
  });

  it("every cut of the list renders (no glob the shell cannot take)", () => {
    expect(renderCutShell(IMAGE_CUTS.map((c) => c.id)).length).toBeGreaterThan(IMAGE_CUTS.length * 2);
  });
});
