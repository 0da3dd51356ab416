/**
 * The agent's collection (buildUpload) with only its LLDP collector from the real plan, as its
 * own process inside a peer's network namespace (`ip netns exec`), so the lldpd it starts hears
 * only that namespace. Usage: node --import tsx lldp-collect-child.ts <options-json>
 * options: {outPath, lldpWaitMs, lldpSocket, tmpDir, sysRoot?, pathPrefix?}
 * Status lines go to stdout as the agent prints them; the last line is `MANIFEST <json>`.
 */
import { buildUpload } from "../../../src/agent/build-upload.js";
import { planCollectors } from "../../../src/agent/collectors.js";
import { execaRunner } from "../../../src/lib/run.js";

const optionsJson = process.argv[2];
if (optionsJson === undefined) {
  process.stderr.write("usage: lldp-collect-child.ts <options-json>\n");
  process.exit(2);
}
const options = JSON.parse(optionsJson) as { outPath: string; lldpWaitMs: number; lldpSocket: string; tmpDir: string; sysRoot?: string; pathPrefix?: string };
const collectorTimeoutMs = 10_000;
const plan = planCollectors(
  { interfaces: [], disks: [], nvmeControllers: [], ipmiDevice: false, nvidiaSmi: false, raidDisks: [] },
  { lldpWaitMs: options.lldpWaitMs, collectorTimeoutMs, lldpSocket: options.lldpSocket },
).filter((spec) => spec.kind === "lldp");
const built = await buildUpload(execaRunner, {
  outPath: options.outPath,
  agentVersion: "test",
  bootMac: null,
  lldpWaitMs: options.lldpWaitMs,
  collectorTimeoutMs,
  plan,
  // The peer's eth0 is a veth: no device behind it, but it is the port to wait for here.
  lldpVirtualInterfaces: true,
  tmpDir: options.tmpDir,
  ...(options.sysRoot !== undefined && { sysRoot: options.sysRoot }),
  ...(options.pathPrefix !== undefined && { env: { PATH: `${options.pathPrefix}:${process.env.PATH ?? ""}` } }),
  status: (line) => process.stdout.write(`recon-agent: ${line}\n`),
});
process.stdout.write(`MANIFEST ${JSON.stringify(built.manifest)}\n`);
