/**
 * Burn-in results from real outputs (test/fixtures/inventory/burn-in/README.md: the agent's own
 * plan and runner on the build host), through the parser and through normalizeRaw.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../../test/helpers/repo.js";
import { normalizeRaw } from "../normalize.js";
import { parseBurnIn } from "./burn-in.js";

const FIXTURES = join(repoRoot, "test/fixtures/inventory/burn-in");

/** One captured case as the files of an upload (path inside the tar → bytes). */
function upload(name: string): Map<string, Buffer> {
  const root = join(FIXTURES, name);
  const files = new Map<string, Buffer>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.set(relative(root, path), readFileSync(path));
    }
  };
  walk(root);
  return files;
}

function texts(files: Map<string, Buffer>): Map<string, string> {
  return new Map([...files].map(([key, value]) => [key, value.toString("utf8")]));
}

/** The same upload with one burn-in record's exit status replaced (what the tool exits with when it finds a fault). */
function withExit(files: Map<string, Buffer>, id: string, exitCode: number): Map<string, Buffer> {
  const manifest = JSON.parse(files.get("manifest.json")!.toString("utf8")) as { burn_in: Array<{ id: string; exit_code: number | null }> };
  const record = manifest.burn_in.find((entry) => entry.id === id)!;
  record.exit_code = exitCode;
  return new Map([...files, ["manifest.json", Buffer.from(JSON.stringify(manifest))]]);
}

describe("parseBurnIn on real outputs", () => {
  it("every test passed: stress-ng CPU and VM, memtester 16 MiB, fio read-only on loop0 (full result)", () => {
    expect(parseBurnIn(texts(upload("passed")))).toMatchInlineSnapshot(`
      {
        "errors": [],
        "value": [
          {
            "result": {
              "detail": "cpu: 9786 bogo ops in 3.0 s (3262 ops/s)",
              "duration_s": 3,
              "result": "passed",
              "target": null,
              "test": "stress-ng-cpu",
            },
            "source": "raw/burn-in/stress-ng-cpu.yaml",
          },
          {
            "result": {
              "detail": "vm: 46878 bogo ops in 3.0 s (15449 ops/s)",
              "duration_s": 3.1,
              "result": "passed",
              "target": null,
              "test": "stress-ng-vm",
            },
            "source": "raw/burn-in/stress-ng-vm.yaml",
          },
          {
            "result": {
              "detail": "16MB locked, 18 tests ok",
              "duration_s": 1.6,
              "result": "passed",
              "target": null,
              "test": "memtester",
            },
            "source": "raw/burn-in/memtester.txt",
          },
          {
            "result": {
              "detail": "read 13878 MiB at 4624 MiB/s",
              "duration_s": 3.3,
              "result": "passed",
              "target": "loop0",
              "test": "fio-read",
            },
            "source": "raw/burn-in/fio-read.loop0.json",
          },
        ],
      }
    `);
  });

  it("memtester killed at its bound mid-test is an error, not a pass", () => {
    expect(parseBurnIn(texts(upload("memtester-killed")))).toMatchInlineSnapshot(`
      {
        "errors": [],
        "value": [
          {
            "result": {
              "detail": "killed at its time limit after 2.2 s: timed out after 2000 ms and was killed; 0 test(s) ok before the stop",
              "duration_s": 2.2,
              "result": "error",
              "target": null,
              "test": "memtester",
            },
            "source": "raw/burn-in/memtester.txt",
          },
        ],
      }
    `);
  });

  it("fio on a disk that is not there is an error (EINVAL), not a disk failure", () => {
    expect(parseBurnIn(texts(upload("fio-no-device")))).toMatchInlineSnapshot(`
      {
        "errors": [],
        "value": [
          {
            "result": {
              "detail": "error 22 after read 0 MiB at 0 MiB/s; exit 1: fio-read: you need to specify size= fio: pid=0, err=22/file:filesetup.c:1155, func=total_file_size, error=Invalid argument",
              "duration_s": 0.3,
              "result": "error",
              "target": "rcn-no-such-disk",
              "test": "fio-read",
            },
            "source": "raw/burn-in/fio-read.rcn-no-such-disk.json",
          },
        ],
      }
    `);
  });

  it("no burn_in in the manifest (burn-in off, or an older agent): no results", () => {
    expect(parseBurnIn(new Map([["manifest.json", JSON.stringify({ format: "recon-raw/1", collectors: [] })]]))).toEqual({ value: [], errors: [] });
    expect(parseBurnIn(new Map())).toEqual({ value: [], errors: [] });
  });

  it("the exit statuses that mean a fault make the test failed; the others an error", () => {
    const passed = upload("passed");
    const result = (files: Map<string, Buffer>, test: string) => parseBurnIn(texts(files)).value.find((entry) => entry.result.test === test)!.result;
    // stress-ng(1): 2 = a stressor failed (its --verify found a wrong result); 3 = no resources.
    expect(result(withExit(passed, "stress-ng-cpu", 2), "stress-ng-cpu")).toMatchObject({
      result: "failed",
      detail: expect.stringMatching(/^exit 2: one or more stressors failed; cpu: \d+ bogo ops/),
    });
    expect(result(withExit(passed, "stress-ng-vm", 3), "stress-ng-vm")).toMatchObject({
      result: "error",
      detail: expect.stringMatching(/^exit 3: stressors could not start/),
    });
    // memtester's exit status is a bit mask: 0x04 a test failed, 0x01 no memory to lock.
    expect(result(withExit(passed, "memtester", 4), "memtester").result).toBe("failed");
    expect(result(withExit(passed, "memtester", 1), "memtester").result).toBe("error");
    expect(result(withExit(passed, "fio-read.loop0", 1), "fio-read").result).toBe("error");
  });
});

describe("normalizeRaw: burn-in", () => {
  it("fills burn_in in the agent's order with no finding when all passed", () => {
    const inventory = normalizeRaw(upload("passed"));
    expect(inventory.burn_in.map((test) => [test.test, test.target, test.result])).toEqual([
      ["stress-ng-cpu", null, "passed"],
      ["stress-ng-vm", null, "passed"],
      ["memtester", null, "passed"],
      ["fio-read", "loop0", "passed"],
    ]);
    expect(inventory.findings).toEqual([]);
    expect(inventory.errors.filter((error) => error.source.includes("burn-in"))).toEqual([]);
  });

  it("a failed test becomes a critical burn_in finding naming its raw file", () => {
    const inventory = normalizeRaw(withExit(upload("passed"), "stress-ng-vm", 2));
    expect(inventory.findings).toEqual([
      {
        category: "burn_in",
        severity: "critical",
        component: null,
        message: "burn-in stress-ng-vm failed",
        source: "raw/burn-in/stress-ng-vm.yaml",
        evidence: expect.stringMatching(/^exit 2: one or more stressors failed; vm: \d+ bogo ops/),
        at: null,
      },
    ]);
  });

  it("a test that could not say is an error of the inventory, not a finding", () => {
    const inventory = normalizeRaw(upload("memtester-killed"));
    expect(inventory.findings).toEqual([]);
    expect(inventory.errors).toContainEqual({
      source: "raw/burn-in/memtester.txt",
      kind: "error",
      message: expect.stringMatching(/^burn-in test could not say: killed at its time limit after 2\.2 s/),
    });
  });
});
