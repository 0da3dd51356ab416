import { describe, expect, it } from "vitest";
import { collectionWindow } from "./manifest.js";

const MANIFEST = JSON.stringify({ format: "recon-raw/1", collected_at: "2026-12-02T12:00:30.250Z", collectors: [] });

describe("collectionWindow", () => {
  it("ends at manifest.json's tar mtime and counts whole seconds from collected_at", () => {
    expect(collectionWindow(MANIFEST, new Date("2026-12-02T12:01:08.000Z"))).toEqual({
      startedAt: "2026-12-02T12:00:30.250Z",
      finishedAt: "2026-12-02T12:01:08.000Z",
      seconds: 38,
    });
  });

  it("counts a collection shorter than the mtime's rounding as 0 s", () => {
    expect(collectionWindow(MANIFEST, new Date("2026-12-02T12:00:30.000Z")).seconds).toBe(0);
  });

  it("has no length without a start or an end, and survives a broken manifest", () => {
    expect(collectionWindow(MANIFEST, undefined)).toEqual({ startedAt: "2026-12-02T12:00:30.250Z", finishedAt: null, seconds: null });
    expect(collectionWindow("{not json", new Date("2026-12-02T12:01:08.000Z"))).toEqual({
      startedAt: null,
      finishedAt: "2026-12-02T12:01:08.000Z",
      seconds: null,
    });
    expect(collectionWindow(JSON.stringify({ collected_at: "yesterday" }), undefined).startedAt).toBeNull();
  });
});
