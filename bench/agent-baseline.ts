/**
 * The baseline the agent benches compare with: the plan's commands one after another with plain
 * execa (no time limits, no process groups, no manifest, no tar), what a shell script running
 * them in sequence would cost. Shared by bench/agent.ts and bench/agent-lldp-child.ts.
 */
import { execa } from "execa";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { CollectorSpec } from "../src/agent/collectors.js";
import { BUILTIN_READERS } from "../src/agent/sysfs.js";

/** The plain way: each command in turn, stdout buffered and written, nothing else. Milliseconds. */
export async function sequential(plan: CollectorSpec[], dir: string): Promise<number> {
  const started = performance.now();
  await mkdir(join(dir, "raw"), { recursive: true });
  for (const spec of plan) {
    if (spec.kind === "command") {
      const result = await execa(spec.argv[0]!, spec.argv.slice(1), { reject: false, cwd: dir });
      if (spec.stdout !== null) await writeFile(join(dir, spec.stdout), String(result.stdout ?? ""));
    } else if (spec.kind === "first-answer") {
      for (const candidate of spec.candidates) {
        const result = await execa(candidate.argv[0]!, candidate.argv.slice(1), { reject: false, cwd: dir });
        if (result.exitCode === 0) break;
      }
    } else if (spec.kind === "builtin") {
      // A place that is absent (securityfs under `ip netns exec`'s fresh /sys) is skipped, as a script would.
      const text = await BUILTIN_READERS[spec.reader]("/").catch(() => null);
      if (text !== null) await writeFile(join(dir, spec.stdout), text);
    }
  }
  return performance.now() - started;
}
