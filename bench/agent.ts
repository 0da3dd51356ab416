/**
 * The agent on this host: wall time to collect (LLDP excluded — its time is the configured wait)
 * and the size of the upload, then the upload itself to a local master.
 *   node --import tsx bench/agent.ts [--runs 5] [--timeout-s 120]
 * Baselines, same run, same host, same collector list: the same commands one after another
 * with plain execa (no time limits, no process groups, no manifest, no tar) — what a shell
 * script running them in sequence would cost — and `lshw -json` alone, the slowest single tool.
 * Prints one JSON object; the ratio is agent / sequential (below 1 = the parallel runner wins).
 */
import { execa } from "execa";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { buildUpload } from "../src/agent/build-upload.js";
import { planCollectors, usableFacts } from "../src/agent/collectors.js";
import { discoverFacts } from "../src/agent/discover.js";
import { postOnce } from "../src/agent/upload.js";
import { execaRunner } from "../src/lib/run.js";
import { issueToken } from "../src/model/peer-token.js";
import { spawnMaster } from "../test/helpers/spawn-master.js";
import { sequential } from "./agent-baseline.js";

function flag(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && process.argv[index + 1] !== undefined ? process.argv[index + 1]! : fallback;
}
const RUNS = Number(flag("runs", "5"));
const TIMEOUT_MS = Number(flag("timeout-s", "120")) * 1000;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.floor(sorted.length / 2)]!);
};

const work = await mkdtemp(join(tmpdir(), "recon-bench-agent-"));
const master = await spawnMaster(join(work, "store"), join(work, "http"));
try {
  const { facts } = usableFacts(await discoverFacts(execaRunner));
  const plan = planCollectors(facts, { lldpWaitMs: 0, collectorTimeoutMs: TIMEOUT_MS, lldpSocket: join(work, "lldpd.socket") }).filter(
    (spec) => spec.kind !== "lldp",
  );
  const mac = "52:54:00:be:0a:01";
  const token = issueToken(await readFile(join(work, "store", "secret")), mac, "bench-agent-1");

  const agentMs: number[] = [];
  const sequentialMs: number[] = [];
  const lshwMs: number[] = [];
  const uploadMs: number[] = [];
  let bytes = 0;
  let errors: string[] = [];
  // Warm-up: page cache, JIT; then the three measurements interleaved, so load drifts hit all.
  await sequential(plan, join(work, "warm"));
  for (let run = 0; run < RUNS; run += 1) {
    const out = join(work, `upload-${run}.tar.gz`);
    const built = await buildUpload(execaRunner, {
      outPath: out,
      agentVersion: "bench",
      bootMac: mac,
      lldpWaitMs: 0,
      collectorTimeoutMs: TIMEOUT_MS,
      plan,
      tmpDir: work,
    });
    agentMs.push(built.wallMs);
    bytes = built.bytes;
    errors = built.manifest.collectors.filter((c) => c.error !== undefined).map((c) => `${c.id}: ${c.error!.split("\n")[0]}`);

    const t0 = performance.now();
    const outcome = await postOnce({
      url: `${master.url}/api/v1/nodes/${mac.replace(/:/g, "-")}/inventory`,
      token,
      bodyFile: out,
      contentType: "application/gzip",
      timeoutMs: 30_000,
    });
    uploadMs.push(performance.now() - t0);
    if (outcome.kind !== "answer" || outcome.answer.status !== 201) throw new Error(`upload failed: ${JSON.stringify(outcome)}`);

    sequentialMs.push(await sequential(plan, join(work, `seq-${run}`)));
    const l0 = performance.now();
    await execa("lshw", ["-json"], { reject: false });
    lshwMs.push(performance.now() - l0);
  }
  const agent = median(agentMs);
  const seq = median(sequentialMs);
  console.log(
    JSON.stringify({
      bench: "agent",
      runs: RUNS,
      loadAverage1m: loadavg()[0],
      collectors: plan.length,
      lldpExcluded: true,
      facts,
      agentCollectMs: { median: agent, all: agentMs },
      uploadBytes: bytes,
      uploadToLocalMasterMs: { median: median(uploadMs) },
      baselineSequentialMs: { median: seq, all: sequentialMs.map(Math.round) },
      baselineLshwAloneMs: { median: median(lshwMs) },
      ratio: {
        agentVsSequential: Math.round((agent / seq) * 100) / 100,
        agentVsLshwAlone: Math.round((agent / median(lshwMs)) * 100) / 100,
      },
      collectorErrorsOnThisHost: errors,
    }),
  );
} finally {
  await master.kill("SIGTERM");
  await rm(work, { recursive: true, force: true });
}
