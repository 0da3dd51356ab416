import { describe, expect, it } from "vitest";
import { jsonObjectAt } from "./common.js";
import { parseDiskByPath } from "./disk-by-path.js";
import { parseSysBlock } from "./sys-block.js";

describe("the builtin readers' JSON envelope", () => {
  it("gives the object under the key, or null with one error naming the file", () => {
    expect(jsonObjectAt('{"disks":{"sda":{}}}', "raw/x.json", "disks")).toEqual({ value: { sda: {} }, errors: [] });
    for (const [text, message] of [
      ["", "empty output"],
      ["{", /^not valid JSON: /],
      ["[]", "no disks object"],
      ['{"disks":[]}', "no disks object"],
      ['{"disks":null}', "no disks object"],
    ] as const) {
      const parsed = jsonObjectAt(text, "raw/x.json", "disks");
      expect(parsed.value).toBeNull();
      expect(parsed.errors).toHaveLength(1);
      expect(parsed.errors[0]!.source).toBe("raw/x.json");
      expect(parsed.errors[0]!.message).toMatch(message);
    }
  });

  it("is what parseSysBlock and parseDiskByPath report", () => {
    expect(parseSysBlock('{"disks":[]}').errors).toEqual([{ source: "raw/sys-block.json", message: "no disks object" }]);
    expect(parseDiskByPath("{").errors[0]!.source).toBe("raw/disk-by-path.json");
    expect(parseSysBlock('{"disks":{"sda":{"serial":" S1 ","model":7}}}').value).toEqual(
      new Map([["sda", { serial: "S1", model: null, vendor: null, wwid: null }]]),
    );
    expect(parseDiskByPath('{"by_path":{"sda":["b","a",3]}}').value).toEqual(new Map([["sda", ["a", "b"]]]));
  });
});
