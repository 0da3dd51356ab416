import { describe, expect, it } from "vitest";
import { globToRegExp, matchAny } from "./path-glob.js";

describe("globToRegExp", () => {
  it.each([
    ["usr/share/doc/**", "usr/share/doc/curl/copyright", true],
    ["usr/share/doc/**", "usr/share/docs/x", false],
    ["usr/lib/modules/*/kernel/sound/**", "usr/lib/modules/6.1.0-57-amd64/kernel/sound/core/snd.ko", true],
    ["usr/lib/modules/*/kernel/sound/**", "usr/lib/modules/6.1.0-57-amd64/extra/sound/x.ko", false],
    ["a/**/b.ko", "a/b.ko", true],
    ["a/**/b.ko", "a/x/y/b.ko", true],
    ["a/**/b.ko", "a/xb.ko", false],
    ["usr/lib/firmware/{i915,nvidia}/**", "usr/lib/firmware/nvidia/tu102/gsp.bin", true],
    ["usr/lib/firmware/{i915,nvidia}/**", "usr/lib/firmware/intel/ice.pkg", false],
    ["usr/lib/firmware/rt?*.bin", "usr/lib/firmware/rt2860.bin", true],
    ["usr/lib/firmware/rt?*.bin", "usr/lib/firmware/rt/2860.bin", false],
    ["x/a.b", "x/aXb", false],
  ])("%s against %s is %s", (glob, path, expected) => {
    expect(globToRegExp(glob).test(path)).toBe(expected);
  });

  it("refuses ** inside a segment and unbalanced braces", () => {
    expect(() => globToRegExp("a/b**")).toThrow(/whole segment/);
    expect(() => globToRegExp("a/{b,c")).toThrow(/unbalanced/);
  });

  it("matchAny is true when one of the globs matches", () => {
    const match = matchAny(["a/**", "b/*.ko"]);
    expect([match("a/x/y"), match("b/x.ko"), match("b/c/x.ko")]).toEqual([true, true, false]);
  });
});
