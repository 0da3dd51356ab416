import { describe, expect, it } from "vitest";
import { EMPTY_FLEET, reduceFleet } from "../model/node-state.js";
import { analyzeFleet, describeReason } from "./classes.js";
import { renderClassList, renderNodeDetail, renderNodeList, renderTable, runNodes, terminalSafe, type ReviewSource } from "./cli-nodes.js";
import { buildFleetView, fleetRow } from "./fleet-view.js";
import type { NodeDetail } from "./review-model.js";
import { sampleEvents, sampleFleet } from "./sample-fleet.js";

/** Whole-text goldens of the renderers (regenerate with `npx vitest run --project unit -u src/review/cli-nodes.test.ts`, review the diff). */
const GOLDEN = `${import.meta.dirname}/../../test/golden/review`;
const nodes = sampleFleet();
const inventories = new Map(nodes.map((n) => [n.mac, n.inventory]));
const analysis = analyzeFleet(inventories);
const fleet = sampleEvents(nodes).reduce(reduceFleet, EMPTY_FLEET);
const view = { ...buildFleetView(fleet, inventories, analysis), classes: analysis.classes };

const source: ReviewSource = {
  fleet: async () => view,
  detail: async () => undefined,
  classes: async () => analysis,
  exportFiles: async () => new Map([["a.csv", "x\r\n"]]),
};

describe("recon nodes renderers", () => {
  it("strips terminal control characters from hardware text", () => {
    expect(terminalSafe("ok\u001b[2J\u0007\u009b1m")).toBe("ok?[2J??1m");
  });

  it("aligns columns and clips long cells", () => {
    expect(
      renderTable(
        ["A", "B"],
        [
          ["1", "x".repeat(50)],
          ["22", "y"],
        ],
        10,
      ),
    ).toBe("A   B\n1   xxxxxxxxx…\n22  y\n");
  });

  it("lists every node and a summary line; classes with their outliers", () => {
    const text = renderNodeList(view);
    expect(text.trimEnd().split("\n")).toHaveLength(nodes.length + 2);
    expect(text).toContain("1 warning");
    expect(renderClassList(analysis)).toMatch(/52:54:00:01:00:03 {2}warning: BIOS firmware 1\.0\.0 is older than the class's/);
  });

  it("renders the list, the classes and a node's health findings apart from its outlier reasons (whole texts)", async () => {
    await expect(renderNodeList(view)).toMatchFileSnapshot(`${GOLDEN}/nodes-list.txt`);
    await expect(renderClassList(analysis)).toMatchFileSnapshot(`${GOLDEN}/nodes-classes.txt`);
    const detail = (mac: string): NodeDetail => ({
      mac,
      row: fleetRow(mac, fleet.nodes[mac], inventories.get(mac), analysis),
      state: fleet.nodes[mac] ?? null,
      inventory: inventories.get(mac) ?? null,
      inventory_problem: null,
      class: analysis.classes.find((c) => c.id === analysis.nodes[mac]?.class_id) ?? null,
      reasons: (analysis.nodes[mac]?.reasons ?? []).map((reason) => ({ ...reason, message: describeReason(reason) })),
      uploads: [],
    });
    const failedDisk = renderNodeDetail(detail("52:54:00:01:00:04"));
    expect(failedDisk).toMatch(/^health critical +sda: SMART overall-health self-assessment FAILED$/m);
    expect(failedDisk).not.toMatch(/^outlier/m);
    await expect(failedDisk).toMatchFileSnapshot(`${GOLDEN}/nodes-show-failed-disk.txt`);
    const missingDimm = renderNodeDetail(detail("52:54:00:01:00:02"));
    expect(missingDimm).toMatch(/^outlier warning +DIMM missing in slot/m);
    expect(missingDimm).not.toMatch(/^health/m);
  });
});

describe("runNodes", () => {
  const run = async (args: string[], options: Partial<Parameters<typeof runNodes>[1]> = {}) => {
    let out = "";
    const code = await runNodes(args, { dataDir: "/nonexistent", json: false, ...options }, { write: (t) => (out += t), now: () => new Date(0) }, source);
    return { code, out };
  };

  it("prints JSON listings with --json", async () => {
    const { code, out } = await run(["list"], { json: true });
    expect(code).toBe(0);
    expect((JSON.parse(out) as { nodes: unknown[] }).nodes).toHaveLength(nodes.length);
  });

  it("throws usage errors (exit 2) and not-found errors (exit 1)", async () => {
    await expect(run([])).rejects.toMatchObject({ code: "USAGE", exitCode: 2 });
    await expect(run(["export", "--format"], { format: "pdf" })).rejects.toMatchObject({ exitCode: 2 });
    await expect(run(["show", "52:54:00:00:00:09"])).rejects.toMatchObject({ code: "NOT_FOUND", exitCode: 1 });
  });

  it("writes an export to stdout without --out", async () => {
    expect(await run(["export"], { format: "csv" })).toEqual({ code: 0, out: "x\r\n" });
  });
});
