import { describe, expect, it } from "vitest";
import { findMirror, parseDeb822Sources, parseOneLineSources } from "./apt-sources.js";

describe("parseDeb822Sources", () => {
  it("reads every URI, suite and component; skips deb-src and disabled stanzas", () => {
    const text = [
      "Types: deb deb-src",
      "URIs: http://a.example/debian http://b.example/debian",
      "Suites: bookworm bookworm-updates",
      "Components: main",
      " non-free-firmware",
      "",
      "Types: deb-src",
      "URIs: http://src.example/debian",
      "Suites: bookworm",
      "",
      "Enabled: no",
      "Types: deb",
      "URIs: http://off.example/debian",
      "Suites: trixie",
    ].join("\n");
    expect(parseDeb822Sources(text, "f")).toEqual([
      { uri: "http://a.example/debian", suites: ["bookworm", "bookworm-updates"], components: ["main", "non-free-firmware"], origin: "f" },
      { uri: "http://b.example/debian", suites: ["bookworm", "bookworm-updates"], components: ["main", "non-free-firmware"], origin: "f" },
    ]);
  });
});

describe("parseOneLineSources", () => {
  it("reads deb lines with options and comments", () => {
    const text = "# c\ndeb [signed-by=/k.gpg] http://m.example/debian/ bookworm main contrib # x\ndeb-src http://m/debian bookworm main\n";
    expect(parseOneLineSources(text, "l")).toEqual([
      { uri: "http://m.example/debian/", suites: ["bookworm"], components: ["main", "contrib"], origin: "l" },
    ]);
  });
});

describe("findMirror", () => {
  it("picks the first http(s) source for the suite and drops the trailing slash", () => {
    const entries = [
      ...parseOneLineSources("deb file:///srv/debian bookworm main\n", "a"),
      ...parseOneLineSources("deb http://m.example/debian/ bookworm main\n", "b"),
    ];
    expect(findMirror(entries, "bookworm")).toBe("http://m.example/debian");
    expect(findMirror(entries, "trixie")).toBeUndefined();
  });
});
