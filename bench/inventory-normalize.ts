/**
 * normalizeRaw cost per upload, on the captured fixture machines (test/fixtures/inventory):
 *   node --import tsx bench/inventory-normalize.ts [--rounds 200]
 * The master normalizes after every upload and the review UI when an inventory.json is missing,
 * so this is the CPU an upload costs beyond its ingest. Baseline, same run, same files: decoding
 * every file to text and JSON.parse of the JSON ones — the least any normalizer must do.
 * Prints one JSON object. Target: < 20 ms per upload (a 1000-node fleet re-normalizes in < 20 s).
 */
import { loadavg } from "node:os";
import { fixtureMachines, readFixtureFiles } from "../test/fixtures/inventory/fixtures.js";
import { normalizeRaw } from "../src/inventory/normalize.js";

const index = process.argv.indexOf("--rounds");
const ROUNDS = index >= 0 ? Number(process.argv[index + 1]) : 200;
const uploads = fixtureMachines().map((machine) => ({ machine, files: readFixtureFiles(machine) }));

function baseline(files: Map<string, Buffer>): number {
  let fields = 0;
  for (const [path, buffer] of files) {
    const text = buffer.toString("utf8");
    if (path.endsWith(".json")) {
      try {
        fields += Object.keys(JSON.parse(text) as object).length;
      } catch {
        fields += 0;
      }
    } else fields += text.length > 0 ? 1 : 0;
  }
  return fields;
}

function time(run: () => void): number {
  for (let i = 0; i < 20; i++) run(); // warm-up: JIT
  const started = performance.now();
  for (let i = 0; i < ROUNDS; i++) run();
  return (performance.now() - started) / ROUNDS;
}

const perMachine = uploads.map(({ machine, files }) => {
  const normalizeMs = time(() => normalizeRaw(files));
  const baselineMs = time(() => baseline(files));
  const bytes = [...files.values()].reduce((sum, buffer) => sum + buffer.length, 0);
  return {
    machine,
    files: files.size,
    bytes,
    normalizeMs: +normalizeMs.toFixed(3),
    baselineMs: +baselineMs.toFixed(3),
    ratio: +(normalizeMs / baselineMs).toFixed(2),
  };
});
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const normalizeMs = mean(perMachine.map((entry) => entry.normalizeMs));
const baselineMs = mean(perMachine.map((entry) => entry.baselineMs));
console.log(
  JSON.stringify({
    bench: "inventory-normalize",
    rounds: ROUNDS,
    machines: perMachine.length,
    normalizeMsPerUpload: +normalizeMs.toFixed(3),
    baselineMsPerUpload: +baselineMs.toFixed(3),
    ratioToBaseline: +(normalizeMs / baselineMs).toFixed(2),
    targetMs: 20,
    meetsTarget: normalizeMs < 20,
    loadavg1: +loadavg()[0]!.toFixed(2),
    perMachine,
  }),
);
