/**
 * One agent run inside a peer's network namespace for bench/agent-lldp.ts (`ip netns exec`):
 *   node --import tsx bench/agent-lldp-child.ts agent <cmdline-file> <options-json>
 *   node --import tsx bench/agent-lldp-child.ts sequential <options-json>
 * agent: runAgent's stages in its order with the agent's own functions — hello, the workload
 * fetch, buildUpload (discovery, every collector, the LLDP listen, the tar.gz), the upload retried
 * to the master's 201 and its ack — each timed; the post-action (after the ack) is left out.
 * runAgent itself is not called because its options have no way to count the peer's eth0, a
 * veth, as a linked port for the LLDP wait (buildUpload's lldpVirtualInterfaces; on a real node
 * the NIC has a device and is counted). sequential: the baseline (agent-baseline.ts) over the
 * plan discovery makes here, LLDP left out. Both print one line `RESULT <json>` last; the token is
 * read from the cmdline file, never from argv.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { parseAgentConfig } from "../src/agent/agent-config.js";
import { buildUpload } from "../src/agent/build-upload.js";
import { sleep } from "../src/agent/collect.js";
import { planCollectors, usableFacts } from "../src/agent/collectors.js";
import { discoverFacts } from "../src/agent/discover.js";
import { DEFAULT_HELLO_RETRY, DEFAULT_UPLOAD_RETRY, nodePath, parseAck, postOnce, postWithRetry } from "../src/agent/upload.js";
import { fetchWorkload } from "../src/agent/workload-fetch.js";
import { execaRunner } from "../src/lib/run.js";
import { parseCmdline } from "../src/model/kernel-cmdline.js";
import { sequential } from "./agent-baseline.js";

/** Milliseconds from this process's start (performance.timeOrigin) to here: node + tsx loading the modules. */
const importedMs = performance.now();

interface ChildOptions {
  lldpWaitMs: number;
  collectorTimeoutMs: number;
  lldpSocket: string;
  workDir: string;
}

const [mode, ...rest] = process.argv.slice(2);
const print = (value: unknown) => process.stdout.write(`RESULT ${JSON.stringify(value)}\n`);
const stamp = () => `${(performance.now() / 1000).toFixed(2)}s`;

async function agent(cmdlineFile: string, options: ChildOptions): Promise<void> {
  const t0 = performance.now();
  const config = parseAgentConfig(parseCmdline(await readFile(cmdlineFile, "utf8")));
  const retryDeps = { post: postOnce, sleep: (ms: number) => sleep(ms), now: Date.now };
  const status = (line: string) => process.stdout.write(`${stamp()} recon-agent: ${line}\n`);

  const hello = await postWithRetry({ url: nodePath(config.masterUrl, config.bootMac, "hello"), token: config.token }, DEFAULT_HELLO_RETRY, retryDeps);
  const tHello = performance.now();
  const workloadDir = await mkdtemp(join(options.workDir, "recon-workload-"));
  const workload = await fetchWorkload(config.masterUrl, workloadDir).finally(() => rm(workloadDir, { recursive: true, force: true }));
  const tWorkload = performance.now();
  const outPath = join(options.workDir, `recon-inventory-${config.bootMac.replace(/:/g, "")}-${Date.now()}.tar.gz`);
  const built = await buildUpload(execaRunner, {
    outPath,
    agentVersion: "bench",
    bootMac: config.bootMac,
    lldpWaitMs: options.lldpWaitMs,
    collectorTimeoutMs: options.collectorTimeoutMs,
    lldpSocket: options.lldpSocket,
    lldpVirtualInterfaces: true,
    tmpDir: options.workDir,
    status,
  });
  const tCollect = performance.now();
  const uploaded = await postWithRetry(
    { url: nodePath(config.masterUrl, config.bootMac, "inventory"), token: config.token, bodyFile: outPath, contentType: "application/gzip" },
    DEFAULT_UPLOAD_RETRY,
    retryDeps,
  );
  if (!uploaded.ok) throw new Error(`upload failed: ${uploaded.reason}`);
  const ack = parseAck(uploaded.answer);
  const tAck = performance.now();
  await rm(outPath, { force: true });
  print({
    importedMs: Math.round(importedMs),
    helloOk: hello.ok,
    workload: workload.kind,
    ack: { id: ack.id, entries: ack.entries },
    uploadAttempts: uploaded.attempts,
    uploadBytes: built.bytes,
    stagesMs: {
      hello: Math.round(tHello - t0),
      workload: Math.round(tWorkload - tHello),
      collect: Math.round(tCollect - tWorkload),
      upload: Math.round(tAck - tCollect),
      total: Math.round(tAck - t0),
    },
    collectors: built.manifest.collectors.map((c) => ({
      id: c.id,
      ms: c.duration_ms,
      ...(c.error !== undefined && { error: c.error.split("\n")[0] }),
      ...(c.listen !== undefined && { listen: c.listen }),
    })),
  });
}

async function baseline(options: ChildOptions): Promise<void> {
  const t0 = performance.now();
  const { facts } = usableFacts(await discoverFacts(execaRunner));
  const plan = planCollectors(facts, { lldpWaitMs: 0, collectorTimeoutMs: options.collectorTimeoutMs, lldpSocket: options.lldpSocket }).filter(
    (spec) => spec.kind !== "lldp",
  );
  const dir = await mkdtemp(join(options.workDir, "recon-seq-"));
  try {
    const ms = await sequential(plan, dir);
    print({ collectors: plan.length, sequentialMs: Math.round(ms), withDiscoveryMs: Math.round(performance.now() - t0) });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (mode === "agent" && rest.length === 2) await agent(rest[0]!, JSON.parse(rest[1]!) as ChildOptions);
else if (mode === "sequential" && rest.length === 1) await baseline(JSON.parse(rest[0]!) as ChildOptions);
else {
  process.stderr.write("usage: agent-lldp-child.ts agent <cmdline-file> <options-json> | sequential <options-json>\n");
  process.exitCode = 2;
}
