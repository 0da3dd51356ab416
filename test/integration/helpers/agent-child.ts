/**
 * `runAgent` as its own process (run inside a peer's netns with `ip netns exec`), with a
 * recorder in place of the real post-action runner: nothing is ever powered off. Usage:
 *   node --import tsx agent-child.ts <cmdline-file> <record-file> <options-json>
 * options: {lldpWaitMs, collectorTimeoutMs, lldpSocket, workDir, maxAttempts, totalBudgetMs,
 *           initialDelayMs, maxDelayMs, planFile?, pathPrefix?}
 * Each post-action step the agent asks for is appended to <record-file> as one JSON line with
 * the time and what the master listed for this node at that moment (asked over HTTP), so a
 * test can prove the action came after the master stored the upload. The token is read from
 * the cmdline file, never taken from argv.
 */
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { parseCmdline } from "../../../src/model/kernel-cmdline.js";
import { parseAgentConfig } from "../../../src/agent/agent-config.js";
import { runAgent } from "../../../src/agent/main.js";
import type { CollectorSpec } from "../../../src/agent/collectors.js";
import { isReconError } from "../../../src/lib/errors.js";
import { execaRunner } from "../../../src/lib/run.js";

const [cmdlineFile, recordFile, optionsJson] = process.argv.slice(2);
if (cmdlineFile === undefined || recordFile === undefined || optionsJson === undefined) {
  process.stderr.write("usage: agent-child.ts <cmdline-file> <record-file> <options-json>\n");
  process.exit(2);
}
// Created empty at start: "no action recorded" must differ from "the agent never ran".
writeFileSync(recordFile, "");
const options = JSON.parse(optionsJson) as {
  lldpWaitMs: number;
  collectorTimeoutMs: number;
  lldpSocket: string;
  workDir: string;
  maxAttempts: number;
  totalBudgetMs: number;
  initialDelayMs: number;
  maxDelayMs: number;
  planFile?: string;
  pathPrefix?: string;
};
const config = parseAgentConfig(parseCmdline(readFileSync(cmdlineFile, "utf8")));

function fetchText(url: string): Promise<string> {
  return new Promise((resolve) => {
    const req = get(url, { timeout: 5000 }, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString()));
      res.on("end", () => resolve(`${res.statusCode} ${body}`));
    });
    req.on("error", (error) => resolve(`error ${error.message}`));
  });
}

const plan = options.planFile === undefined ? undefined : (JSON.parse(readFileSync(options.planFile, "utf8")) as CollectorSpec[]);
const env = options.pathPrefix === undefined ? undefined : { PATH: `${options.pathPrefix}:${process.env.PATH ?? ""}` };
const stamp = () => new Date().toISOString();
try {
  const result = await runAgent(
    {
      config,
      agentVersion: "test",
      lldpWaitMs: options.lldpWaitMs,
      collectorTimeoutMs: options.collectorTimeoutMs,
      lldpSocket: options.lldpSocket,
      workDir: options.workDir,
      ...(plan !== undefined && { plan }),
      ...(env !== undefined && { env }),
      uploadRetry: {
        maxAttempts: options.maxAttempts,
        totalBudgetMs: options.totalBudgetMs,
        initialDelayMs: options.initialDelayMs,
        maxDelayMs: options.maxDelayMs,
        attemptTimeoutMs: 10_000,
      },
      helloRetry: { maxAttempts: 2, totalBudgetMs: 3000, initialDelayMs: 500, maxDelayMs: 1000, attemptTimeoutMs: 2000 },
    },
    {
      runner: execaRunner,
      status: (line) => process.stdout.write(`${stamp()} ${line}\n`),
      ipmiDevice: async () => false,
      actions: {
        async run(step) {
          const node = await fetchText(`${config.masterUrl}/api/v1/nodes/${config.bootMac}`);
          appendFileSync(recordFile, `${JSON.stringify({ at: stamp(), argv: step.argv, masterSaw: node })}\n`);
          return true;
        },
      },
    },
  );
  process.stdout.write(`${stamp()} RESULT ${JSON.stringify({ ack: result.ack, attempts: result.attempts, postAction: result.postAction?.argv ?? null })}\n`);
} catch (error) {
  process.stdout.write(`${stamp()} ERROR ${error instanceof Error ? error.message : String(error)}\n`);
  // The exit status the CLI would give (src/cli.ts): 3 for a refusal, 1 for a master not reached.
  process.exitCode = isReconError(error) ? error.exitCode : 1;
}
