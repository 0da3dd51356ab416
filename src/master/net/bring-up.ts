/**
 * Network bring-up, the apply half: runs `ip` (and dhclient) for what plan-provisioning.ts
 * decides. On the appliance it keeps retrying while there is no link.
 */
import { mkdir } from "node:fs/promises";
import { sleep } from "../../lib/abortable-sleep.js";
import { ReconError } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import { runChecked, type CommandRunner } from "../../lib/run.js";
import { acquireLease } from "./dhclient.js";
import { IP_ADDR_ARGS, IP_ROUTE_ARGS, parseIpAddr, parseIpRoutes, type Interface } from "./ip.js";
import { interfacesToBringUp, planProvisioningAddress, type Provisioning, type ProvisioningConfig } from "./plan-provisioning.js";

async function readInterfaces(runner: CommandRunner): Promise<Interface[]> {
  return parseIpAddr((await runChecked(runner, "ip", IP_ADDR_ARGS)).stdout);
}

/** Interface with carrier (or the configured one), and an address: configured, present, leased or a free default /24. */
export async function bringUpNetwork(
  config: ProvisioningConfig,
  runner: CommandRunner,
  log: Logger,
  runDir: string,
  signal?: AbortSignal,
): Promise<Provisioning> {
  let interfaces = await readInterfaces(runner);
  const down = interfacesToBringUp(interfaces, config);
  if (down.length > 0) {
    for (const name of down) await runner.run("ip", ["link", "set", name, "up"]);
    // Give the links a moment to negotiate.
    await sleep(3000, signal);
    interfaces = await readInterfaces(runner);
  }
  let plan = planProvisioningAddress(interfaces, [], config);
  await runChecked(runner, "ip", ["link", "set", plan.interface, "up"]);
  let leased = false;
  if (plan.kind === "lease") {
    // A site DHCP server on this segment gives the address its peers can reach.
    await mkdir(runDir, { recursive: true });
    if (await acquireLease(runner, runDir, plan.interface, 10)) {
      interfaces = await readInterfaces(runner);
      leased = true;
    }
    const routes = parseIpRoutes((await runChecked(runner, "ip", IP_ROUTE_ARGS)).stdout);
    plan = planProvisioningAddress(interfaces, routes, config, { leaseTried: true });
  }
  if (plan.kind !== "address") throw new Error("unreachable: a plan after the lease is an address");
  if (leased && plan.source === "present") log.info("address leased from the site's DHCP server", { interface: plan.interface, address: plan.cidr });
  if (plan.source === "default")
    log.warn("no address configured or present: using a default private subnet", { address: plan.cidr, interface: plan.interface });
  if (plan.add) await runChecked(runner, "ip", ["addr", "add", plan.cidr, "dev", plan.interface]);
  log.info("provisioning network up", { interface: plan.interface, address: plan.cidr });
  return { interface: plan.interface, mac: plan.mac, address: plan.address, prefix: plan.prefix, network: plan.network };
}

/** Retries while there is no link (every 10 s, a log line a minute) until it works or `signal` stops it. */
export async function bringUpNetworkPatiently(
  config: ProvisioningConfig,
  runner: CommandRunner,
  log: Logger,
  runDir: string,
  signal: AbortSignal,
  wait: boolean,
): Promise<Provisioning | undefined> {
  let lastLogged = 0;
  for (;;) {
    try {
      return await bringUpNetwork(config, runner, log, runDir, signal);
    } catch (error) {
      if (!wait || !(error instanceof ReconError) || error.code !== "NETWORK_UNAVAILABLE") throw error;
      if (Date.now() - lastLogged >= 60_000) {
        log.warn("waiting for the provisioning network", { reason: error.message, hint: error.hint });
        lastLogged = Date.now();
      }
    }
    if (!(await sleep(10_000, signal))) return undefined;
  }
}
