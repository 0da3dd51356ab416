/**
 * The layer rule in .dependency-cruiser.cjs, checked on small trees written for the test: each
 * wrong import is reported under the rule that forbids it, and a tree that keeps the rule gets
 * no report. `make lint-layers` runs the same configuration on src/.
 */
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";

const repoRoot = join(import.meta.dirname, "..");
const depcruise = join(repoRoot, "node_modules", ".bin", "depcruise");
const config = join(repoRoot, ".dependency-cruiser.cjs");

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

let tree: string | undefined;
afterEach(async () => {
  if (tree) await rm(tree, { recursive: true, force: true });
  tree = undefined;
});

/** Writes `files` (path → source) under a fresh src/ tree and returns what depcruise reports. */
async function cruise(files: Record<string, string>): Promise<Violation[]> {
  tree = await mkdtemp(join(tmpdir(), "recon-layers-"));
  const tsconfig = { compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", strict: true } };
  await writeFile(join(tree, "tsconfig.json"), JSON.stringify(tsconfig));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(tree, path)), { recursive: true });
    await writeFile(join(tree, path), text);
  }
  const result = await execa(depcruise, ["src", "--config", config, "--output-type", "json"], { cwd: tree, reject: false });
  const report = JSON.parse(result.stdout) as { summary: { violations: Violation[] } };
  return report.summary.violations;
}

const pairs = (violations: Violation[]) => violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort();

describe("the layer rule (.dependency-cruiser.cjs)", () => {
  it("reports a role importing another role, a lower layer importing upward, fs in model, express in review, a folder outside the layers, a cycle", async () => {
    const violations = await cruise({
      "src/master/y.ts": "export const y = 1;\n",
      "src/agent/x.ts": 'import { y } from "../master/y.js";\nexport const x = y;\n',
      "src/model/z.ts": 'import { y } from "../master/y.js";\nexport const z = y;\n',
      "src/lib/l.ts": 'import { m } from "../model/m.js";\nexport const l = m;\n',
      "src/model/m.ts": 'import { readFileSync } from "node:fs";\nexport const m = readFileSync;\n',
      "src/review/r.ts": 'import express from "express";\nexport const r = express;\n',
      "src/boot/b.ts": 'import { i } from "../ipmi/i.js";\nexport const b = i;\n',
      "src/ipmi/i.ts": "export const i = 1;\n",
      "src/workload/w.ts": 'import { i } from "../ipmi/i.js";\nexport const w = i;\n',
      "src/inventory/a.ts": 'import { c } from "./c.js";\nexport const a = c;\n',
      "src/inventory/c.ts": 'import { a } from "./a.js";\nexport const c = a;\n',
    });
    expect(pairs(violations)).toEqual([
      "layer-boot-inventory: src/boot/b.ts → src/ipmi/i.ts",
      "layer-lib: src/lib/l.ts → src/model/m.ts",
      "layer-model: src/model/z.ts → src/master/y.ts",
      "model-is-pure: src/model/m.ts → fs",
      "no-circular: src/inventory/a.ts → src/inventory/c.ts",
      "outside-the-layers: src/workload/w.ts → src/ipmi/i.ts",
      "review-has-no-express: src/review/r.ts → express",
      "roles-stay-apart: src/agent/x.ts → src/master/y.ts",
    ]);
  });

  it("accepts imports down the layers, the master mounting the review, the lab using any role, tests importing anything", async () => {
    const violations = await cruise({
      "src/lib/l.ts": 'import { readFileSync } from "node:fs";\nexport const l = readFileSync;\n',
      "src/model/m.ts": 'import { l } from "../lib/l.js";\nexport const m = l;\n',
      "src/boot/b.ts": 'import { m } from "../model/m.js";\nimport { n } from "../inventory/n.js";\nexport const b = [m, n];\n',
      "src/inventory/n.ts": 'import { m } from "../model/m.js";\nexport const n = m;\n',
      "src/review/r.ts": 'import { n } from "../inventory/n.js";\nexport const r = n;\n',
      "src/ipmi/i.ts": 'import { n } from "../inventory/n.js";\nexport const i = n;\n',
      "src/master/s.ts":
        'import express from "express";\nimport { r } from "../review/r.js";\nimport { i } from "../ipmi/i.js";\nexport const s = [express, r, i];\n',
      "src/agent/a.ts": 'import { b } from "../boot/b.js";\nexport const a = b;\n',
      "src/lab/v.ts": 'import { s } from "../master/s.js";\nimport { a } from "../agent/a.js";\nexport const v = [s, a];\n',
      "src/cli.ts": 'import { v } from "./lab/v.js";\nimport { s } from "./master/s.js";\nexport const c = [v, s];\n',
      "src/model/m.test.ts": 'import { s } from "../master/s.js";\nexport const t = s;\n',
    });
    expect(pairs(violations)).toEqual([]);
  });

  it("holds on the real src/", async () => {
    const result = await execa(depcruise, ["src", "--config", config, "--output-type", "json"], { cwd: repoRoot, reject: false });
    const report = JSON.parse(result.stdout) as { summary: { violations: Violation[] } };
    expect(pairs(report.summary.violations)).toEqual([]);
    // dependency-cruiser reads all of src/ (200 modules): 8 s on a loaded 2-core machine.
  }, 30_000);
});
