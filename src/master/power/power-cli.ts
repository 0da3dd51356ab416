/**
 * `recon power status|on|off|cycle|reset|soft [<node-mac | bmc-address | bmc-name>] [--config FILE]`:
 * the site config's BMCs driven straight through ipmitool from wherever recon runs (on the
 * master: `recon power status` with its /var/lib/recon/site.yaml). `status` without a target
 * lists every BMC. Output never includes a password.
 */
import { readFile } from "node:fs/promises";
import { bmcLabel, createIpmiClient, IpmiError, POWER_ACTIONS, type PowerAction } from "../../ipmi/ipmitool.js";
import { ReconError } from "../../lib/errors.js";
import type { CommandRunner } from "../../lib/run.js";
import { parseSiteConfig } from "../../model/site-config.js";
import { fleetBmcs, findBmc } from "./bmcs.js";

export const POWER_USAGE = "recon power status [<node-mac|bmc-address>] | recon power on|off|cycle|reset|soft <node-mac|bmc-address> [--config FILE] [--json]";

export async function runPowerCli(
  rest: string[],
  options: { configPath: string; json: boolean },
  io: { runner: CommandRunner; write: (line: string) => void },
): Promise<number> {
  const [action, key, ...extra] = rest;
  if (action === undefined || extra.length > 0 || (action !== "status" && !POWER_ACTIONS.includes(action as PowerAction))) {
    throw new ReconError("USAGE", `power needs an action (status, ${POWER_ACTIONS.join(", ")}) and a node`, { hint: POWER_USAGE, exitCode: 2 });
  }
  const text = await readFile(options.configPath, "utf8").catch((error: unknown) => {
    throw new ReconError("CONFIG_INVALID", `cannot read the site config ${options.configPath}`, {
      hint: "pass --config FILE (the master's is /var/lib/recon/site.yaml)",
      cause: error,
    });
  });
  const bmcs = fleetBmcs(parseSiteConfig(text, options.configPath));
  const ipmi = createIpmiClient({ runner: io.runner });
  if (action !== "status" && key === undefined)
    throw new ReconError("USAGE", `power ${action} needs a node MAC or BMC address`, { hint: POWER_USAGE, exitCode: 2 });
  const targets = key === undefined ? bmcs : [findBmc(bmcs, key)];
  if (targets[0] === undefined) {
    throw new ReconError("NOT_FOUND", key === undefined ? `no BMCs in ${options.configPath}` : `no BMC for '${key}' in ${options.configPath}`, {
      hint: `known: ${bmcs.map((b) => b.mac ?? b.address).join(", ") || "none (add bmcs: to the site config)"}`,
      exitCode: 1,
    });
  }
  let failed = 0;
  const results: Array<Record<string, string | null>> = [];
  for (const bmc of targets as NonNullable<(typeof targets)[number]>[]) {
    try {
      const answer = action === "status" ? await ipmi.powerStatus(bmc) : await ipmi.power(bmc, action as PowerAction);
      results.push({ bmc: bmc.name, mac: bmc.mac ?? null, address: bmc.address, [action === "status" ? "state" : "answer"]: answer });
      if (!options.json) io.write(`${bmcLabel(bmc)}: ${answer}`);
    } catch (error) {
      if (!(error instanceof IpmiError) || targets.length === 1) throw error;
      failed += 1;
      results.push({ bmc: bmc.name, mac: bmc.mac ?? null, address: bmc.address, error: error.failure, message: error.message });
      if (!options.json) io.write(`${bmcLabel(bmc)}: ${error.failure} — ${error.message}`);
    }
  }
  if (options.json) io.write(JSON.stringify(results, null, 2));
  return failed > 0 ? 1 : 0;
}
