/**
 * `recon nodes` as a process (bin/recon) against a store on disk: listings as text and JSON,
 * a node's detail, classes, every export format, and exit codes scripts can trust (0 ok,
 * 1 not found / failure, 2 usage). Over HTTP it is exercised in ui-browser.test.ts, where a
 * real master runs in a netns and the token matters.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOSTILE_TEXT, sampleEvents, sampleFleet } from "../../src/review/sample-fleet.js";
import { reconBin, repoRoot } from "../helpers/repo.js";
import { writeReviewStore } from "../helpers/review-store.js";

let work: string;
let dataDir: string;
const nodes = sampleFleet();

const recon = (args: string[], env: Record<string, string> = {}) => execa(reconBin, args, { cwd: repoRoot, reject: false, env });

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-ui-cli-"));
  dataDir = join(work, "data");
  // A control character in a DMI string: it must not reach the terminal.
  nodes[0]!.inventory.system_vendor.sku = "sku\u001b[31mred";
  await writeReviewStore(dataDir, nodes, sampleEvents(nodes));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("recon nodes on a store", () => {
  it("lists the fleet as a table and as JSON", async () => {
    const text = await recon(["nodes", "list", "--data-dir", dataDir]);
    expect(text.exitCode).toBe(0);
    expect(text.stdout.split("\n")[0]).toMatch(/^MAC\s+NAME\s+STATE\s+VENDOR/);
    expect(text.stdout).toContain("52:54:00:01:00:02  node-010002  uploaded");
    expect(text.stdout).toMatch(/9 nodes \(uploaded 9\); 9 inventories, 3 classes, 2 outliers; 1 with critical health findings/);
    const json = await recon(["nodes", "list", "--json", "--data-dir", dataDir]);
    const parsed = JSON.parse(json.stdout) as { summary: { total: number }; nodes: Array<{ mac: string; vendor: string }> };
    expect(parsed.summary.total).toBe(nodes.length);
    expect(parsed.nodes.find((n) => n.mac === "52:54:00:0e:00:01")!.vendor).toBe(`Evil ${HOSTILE_TEXT}`);
  });

  it("shows one node with its findings, strips control characters, 1 for an unknown node, 2 for a bad MAC", async () => {
    const shown = await recon(["nodes", "show", "52-54-00-01-00-02", "--data-dir", dataDir]);
    expect(shown.exitCode).toBe(0);
    expect(shown.stdout).toMatch(/warning\s+DIMM missing in slot DIMM_D1 \(class has 16GiB\)/);
    const json = JSON.parse((await recon(["nodes", "show", "52:54:00:01:00:01", "--json", "--data-dir", dataDir])).stdout) as {
      inventory: { system_vendor: { sku: string } };
    };
    expect(json.inventory.system_vendor.sku).toBe("sku\u001b[31mred");
    const list = await recon(["nodes", "list", "--data-dir", dataDir]);
    expect(list.stdout).not.toContain("\u001b");
    const unknown = await recon(["nodes", "show", "52:54:00:99:99:99", "--data-dir", dataDir]);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toContain("no node 52:54:00:99:99:99 is known");
    expect((await recon(["nodes", "show", "nonsense", "--data-dir", dataDir])).exitCode).toBe(2);
  });

  it("lists classes with their outliers", async () => {
    const classes = await recon(["nodes", "classes", "--data-dir", dataDir]);
    expect(classes.exitCode).toBe(0);
    expect(classes.stdout).toMatch(/c-[0-9a-f]{10}\s+Lenovo ThinkSystem SR650 .* 4 nodes, 2 outliers, 1 critical/);
    // A failed disk is a health finding, not an outlier reason.
    expect(classes.stdout).toContain("52:54:00:01:00:04  critical health finding");
    const json = JSON.parse((await recon(["nodes", "classes", "--json", "--data-dir", dataDir])).stdout) as { classes: unknown[] };
    expect(json.classes).toHaveLength(3);
  });

  it("exports every format, to stdout or --out", async () => {
    const csv = await recon(["nodes", "export", "--format", "csv", "--data-dir", dataDir]);
    expect(csv.exitCode).toBe(0);
    // header + one row per node (execa strips the final CRLF)
    expect(csv.stdout.split("\r\n")).toHaveLength(nodes.length + 1);
    const out = join(work, "out");
    for (const format of ["json", "csv", "ansible", "netbox"]) {
      const result = await recon(["nodes", "export", "--format", format, "--out", out, "--site", "DC-1", "--data-dir", dataDir]);
      expect(result.exitCode, result.stderr).toBe(0);
    }
    expect((await readdir(out)).sort()).toEqual(["netbox", "recon-fleet.csv", "recon-fleet.json", "recon-inventory.yml"]);
    expect(await readdir(join(out, "netbox"))).toHaveLength(10);
    expect(await readFile(join(out, "netbox", "03-sites.csv"), "utf8")).toBe("name,slug,status\r\nDC-1,dc-1,active\r\n");
  });

  it("exits 2 on usage errors and 1 when there is no store", async () => {
    expect((await recon(["nodes"])).exitCode).toBe(2);
    expect((await recon(["nodes", "frobnicate"])).exitCode).toBe(2);
    expect((await recon(["nodes", "export", "--data-dir", dataDir])).exitCode).toBe(2);
    expect((await recon(["nodes", "export", "--format", "xml", "--data-dir", dataDir])).exitCode).toBe(2);
    expect((await recon(["nodes", "export", "--format", "netbox", "--data-dir", dataDir])).exitCode).toBe(2);
    const missing = await recon(["nodes", "list", "--data-dir", join(work, "nothing")]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain("holds no recon store");
    const unreachable = await recon(["nodes", "list", "--master", "http://127.0.0.1:9"]);
    expect(unreachable.exitCode).toBe(1);
    expect(unreachable.stderr).toContain("cannot reach the master");
  });
});
