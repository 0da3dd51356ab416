/**
 * The end of a network-namespace test's afterAll, after its AbortController stopped what it started:
 * a dnsmasq its supervisor left running is killed by the PID it wrote, the lab's namespaces are
 * deleted, the work dir is removed. Returns the namespaces with the prefix still present (expect none).
 */
import { readFile, rm } from "node:fs/promises";
import { listNetns, type Lab } from "../../../src/lab/netns.js";
import { execaRunner } from "../../../src/lib/run.js";

export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function tearDownLab(options: {
  lab: Lab | undefined;
  prefix: string;
  work: string;
  pidFiles: readonly string[];
  log?: readonly string[];
}): Promise<string[]> {
  for (const pidFile of options.pidFiles) {
    const pid = Number((await readFile(pidFile, "utf8").catch(() => "")).trim());
    if (pid > 0 && isPidAlive(pid)) process.kill(pid, "SIGKILL"); // a dnsmasq this test started, by its PID
  }
  await options.lab?.destroy();
  const left = (await listNetns(execaRunner)).filter((ns) => ns.startsWith(options.prefix));
  if (process.env.RECON_LAB_LOG && options.log) console.log(options.log.join("\n"));
  await rm(options.work, { recursive: true, force: true });
  return left;
}
