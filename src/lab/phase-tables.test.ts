import { describe, expect, it } from "vitest";
import { printPeerPhaseTables, renderPeerPhaseTables } from "./phase-tables.js";

const at = (s: number) => new Date(Date.UTC(2026, 11, 2, 12, 0, s)).toISOString();

describe("peer phase tables", () => {
  it("prints each peer's phase table under its name, MAC and firmware", () => {
    let printed = "";
    printPeerPhaseTables(
      [
        {
          name: "peer1",
          mac: "52:54:00:77:00:01",
          firmware: "bios",
          timeline: [
            { phase: "lease", at: at(0), detail: "10.77.0.100" },
            { phase: "image-end", at: at(30), bytes: 3 * 1024 * 1024, rate: 1024 * 1024 },
            { phase: "upload", at: at(95), detail: "u1" },
          ],
        },
        { name: "peer2", mac: "52:54:00:77:00:02", timeline: undefined },
      ],
      (text) => (printed += text),
    );
    expect(printed).toBe(
      [
        "== peer1 52:54:00:77:00:01 (bios)",
        "phase      at                          +s    bytes       rate  detail",
        "lease      2026-12-02T12:00:00.000Z   0.0                      10.77.0.100",
        "image-end  2026-12-02T12:00:30.000Z  30.0  3.0 MiB  1.0 MiB/s",
        "upload     2026-12-02T12:01:35.000Z  95.0                      u1",
        "",
        "== peer2 52:54:00:77:00:02",
        "(no timeline)",
        "",
      ].join("\n"),
    );
    expect(renderPeerPhaseTables([])).toBe("");
  });
});
