/**
 * `recon master`: the composition root of the master role. Reads the site config, brings the
 * provisioning network up, decides the DHCP mode (never a rogue server), starts the HTTP service
 * and dnsmasq, and keeps probing for foreign DHCP servers while authoritative. One AbortSignal
 * stops everything; a fatal subsystem error stops the others.
 */
import { access, chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { imageArchFromBootJson, type BootServer } from "../boot/plan-boot.js";
import { planDhcpBoot } from "../boot/plan-dhcp.js";
import { sleep, untilAborted } from "../lib/abortable-sleep.js";
import { ReconError } from "../lib/errors.js";
import { stopLeftover, stopLeftoverWorkers } from "../lib/leftover.js";
import type { Logger } from "../lib/log.js";
import { runChecked, type CommandRunner } from "../lib/run.js";
import { applyKernelOverrides, parseSiteConfig, type SiteConfig } from "../model/site-config.js";
import { formatIpv4, parseIpv4, parseIpv4Cidr } from "../model/net-address.js";
import { decideDhcpMode, type DhcpMode, type ProbeFindings } from "./dhcp/decide-dhcp-mode.js";
import { probeForDhcpServers } from "./dhcp/probe.js";
import { watchForForeignDhcp } from "./dhcp/reprobe.js";
import { renderDhcpHostsFile, renderDnsmasqConf } from "./dhcp/render-dnsmasq.js";
import { superviseDnsmasq } from "./dhcp/supervisor.js";
import { nodeEventFromDnsmasq } from "./dnsmasq-events.js";
import { createApp, DEFAULT_APP_LIMITS } from "./http/app.js";
import { createReviewService } from "./review-service.js";
import { loadOrCreateAdminToken } from "../review/access.js";
import { createFleetPower } from "./power/fleet-power.js";
import { startHttpFront } from "./http/front.js";
import { acquireLease, stopDhclient } from "./net/dhclient.js";
import { chooseInterface, IP_ADDR_ARGS, IP_ROUTE_ARGS, parseIpAddr, parseIpRoutes, pickDefaultSubnet } from "./net/ip.js";
import { EMPTY_FLEET, reduceFleet, type FleetState, type NodeEvent } from "../model/node-state.js";
import { createStore } from "./store/store.js";
import { createInventoryNormalizer } from "./inventories.js";
import { prepareWorkload } from "./workload.js";
import { confirmFrontAnswers, newRunId } from "./http/readiness.js";

export interface MasterOptions {
  /** site.yaml; a missing file means every default. */
  configPath: string;
  /** The store: the stick's data partition (or tmpfs). */
  dataDir: string;
  /** dnsmasq.conf, leases, host files: volatile. */
  runDir: string;
  /** isos/<label>.iso and install/<label>/{linux,initrd,boot.json}, as the `http` target lays out. */
  httpRoot: string;
  imageLabel: string;
  /** iPXE binaries served by TFTP (Debian: /usr/lib/ipxe). */
  tftpRoot: string;
  cmdline: Map<string, string[]>;
  probeTimeoutMs?: number;
  /** How often to look for a foreign DHCP server while authoritative; 0 = never. */
  reprobeIntervalMs?: number;
  /**
   * Off the recon appliance (a workstation, a CI machine) recon never picks an interface by
   * itself: serving DHCP on a machine's own uplink is exactly the rogue server this tool must
   * never be. The site config must then name the interface.
   */
  requireExplicitInterface?: boolean;
  /** On the appliance: the ISO is served from the boot device (see live-image.ts). */
  isoDevice?: { path: string; sizeBytes: number } | undefined;
  /** Keep retrying network bring-up (no link yet) instead of failing: the appliance waits for a cable. */
  waitForNetwork?: boolean;
}

export interface MasterDeps {
  runner: CommandRunner;
  log: Logger;
  signal: AbortSignal;
  now?: () => Date;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export async function loadSiteConfig(path: string, cmdline: Map<string, string[]>, log: Logger): Promise<SiteConfig> {
  let text = "";
  if (await exists(path)) text = await readFile(path, "utf8");
  else log.info("no site config; using defaults", { path, hint: "write that file to set interface, address, dhcp mode, hosts" });
  const { config, applied } = applyKernelOverrides(parseSiteConfig(text, path), cmdline);
  for (const override of applied) log.info("kernel command line overrides the site config", { override: String(override) });
  return config;
}

interface Provisioning {
  interface: string;
  mac: string;
  address: string;
  prefix: number;
  network: string;
}

/** Interface with carrier (or the configured one), and an address: configured, present, or a free default /24. */
export async function bringUpNetwork(config: SiteConfig, runner: CommandRunner, log: Logger, runDir: string): Promise<Provisioning> {
  let interfaces = parseIpAddr((await runChecked(runner, "ip", IP_ADDR_ARGS)).stdout);
  // A port that is administratively down shows no carrier: bring the Ethernet ports up (the
  // configured one only, if there is one) and give the links a moment to negotiate.
  const down = interfaces.filter((i) => !i.loopback && i.mac !== undefined && !i.up && (!config.interface || i.name === config.interface));
  if (down.length > 0) {
    for (const i of down) await runner.run("ip", ["link", "set", i.name, "up"]);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    interfaces = parseIpAddr((await runChecked(runner, "ip", IP_ADDR_ARGS)).stdout);
  }
  const chosen = chooseInterface(interfaces, config.interface);
  if (!chosen || !chosen.mac) {
    throw new ReconError("NETWORK_UNAVAILABLE", config.interface ? `interface ${config.interface} (from the site config) does not exist or has no MAC` : "no Ethernet interface with a carrier (link)", {
      hint: `interfaces seen: ${interfaces.map((i) => `${i.name}${i.carrier ? "(link)" : ""}`).join(", ")}; plug the provisioning network in or set interface: in the site config`,
    });
  }
  await runChecked(runner, "ip", ["link", "set", chosen.name, "up"]);
  let cidr = config.address;
  if (!cidr && chosen.ipv4[0]) cidr = `${chosen.ipv4[0].address}/${chosen.ipv4[0].prefix}`;
  if (!cidr) {
    // A site DHCP server on this segment gives the address its peers can reach.
    await mkdir(runDir, { recursive: true });
    if (await acquireLease(runner, runDir, chosen.name, 10)) {
      interfaces = parseIpAddr((await runChecked(runner, "ip", IP_ADDR_ARGS)).stdout);
      const leased = interfaces.find((i) => i.name === chosen.name)?.ipv4[0];
      if (leased) {
        cidr = `${leased.address}/${leased.prefix}`;
        log.info("address leased from the site's DHCP server", { interface: chosen.name, address: cidr });
      }
    }
  }
  if (!cidr) {
    const routes = parseIpRoutes((await runChecked(runner, "ip", IP_ROUTE_ARGS)).stdout);
    const subnet = pickDefaultSubnet(routes, interfaces);
    if (!subnet) throw new ReconError("NETWORK_UNAVAILABLE", "every default provisioning subnet collides with a route on this node", { hint: "set address: in the site config" });
    cidr = subnet.replace(/\.0\/24$/, ".1/24");
    log.warn("no address configured or present: using a default private subnet", { address: cidr, interface: chosen.name });
  }
  const parsed = parseIpv4Cidr(cidr)!;
  const present = interfaces.find((i) => i.name === chosen.name)?.ipv4 ?? [];
  if (!present.some((a) => a.address === parsed.address)) {
    await runChecked(runner, "ip", ["addr", "add", cidr, "dev", chosen.name]);
  }
  log.info("provisioning network up", { interface: chosen.name, address: cidr });
  return { interface: chosen.name, mac: chosen.mac, address: parsed.address, prefix: parsed.prefix, network: parsed.network };
}

/** Retries while there is no link (every 10 s, a log line a minute) until it works or `signal` stops it. */
async function bringUpNetworkPatiently(config: SiteConfig, runner: CommandRunner, log: Logger, runDir: string, signal: AbortSignal, wait: boolean): Promise<Provisioning | undefined> {
  let lastLogged = 0;
  for (;;) {
    try {
      return await bringUpNetwork(config, runner, log, runDir);
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

/** dhcp.pool, else .100–.250 of a /24 (or the upper part of any other subnet). */
export function defaultPool(net: Provisioning): { start: string; end: string } {
  const base = parseIpv4(net.network)!;
  const size = 2 ** (32 - net.prefix);
  const start = base + Math.min(100, Math.floor(size / 2));
  const end = base + Math.min(250, size - 2);
  return { start: formatIpv4(start), end: formatIpv4(end) };
}

async function probe(net: Provisioning, timeoutMs: number): Promise<ProbeFindings> {
  try {
    const result = await probeForDhcpServers({ mac: net.mac, timeoutMs, interfaceAddress: net.address });
    return { servers: result.servers };
  } catch (error) {
    return { servers: [], error: error instanceof Error ? error.message : String(error) };
  }
}

export async function runMaster(options: MasterOptions, deps: MasterDeps): Promise<void> {
  const { runner, log, signal } = deps;
  const now = deps.now ?? (() => new Date());
  const config = await loadSiteConfig(options.configPath, options.cmdline, log);
  if (options.requireExplicitInterface && !config.interface) {
    throw new ReconError("USAGE", "refusing to choose a provisioning interface: this machine is not the recon appliance", {
      hint: `name the interface that faces the nodes to provision in ${options.configPath} (interface: eth1), on a network where serving DHCP/proxyDHCP is intended`,
      exitCode: 2,
    });
  }
  const up = await bringUpNetworkPatiently(config, runner, log.child({ component: "net" }), options.runDir, signal, options.waitForNetwork ?? false);
  if (!up) return;
  try {
    await serve(options, deps, config, up);
  } finally {
    // The dhclient recon may have started to hold a lease: it ends with the master.
    await stopDhclient(options.runDir);
  }
}

async function serve(options: MasterOptions, deps: MasterDeps, config: SiteConfig, net: Provisioning): Promise<void> {
  const { runner, log, signal } = deps;
  const now = deps.now ?? (() => new Date());

  let mode: DhcpMode = config.dhcp.mode === "off" ? "off" : "proxy";
  if (config.dhcp.mode !== "off" && config.dhcp.mode !== "proxy") {
    const findings = await probe(net, options.probeTimeoutMs ?? 3000);
    const decision = decideDhcpMode(config.dhcp.mode, findings, [net.address]);
    mode = decision.mode;
    log.info("dhcp mode decided", { mode, reason: decision.reason });
    for (const warning of decision.warnings) log.warn(warning);
  }

  // Store and fleet state: replay the stored events so a restarted master knows its nodes.
  const store = await createStore(options.dataDir, { log: log.child({ component: "store" }) });
  const secret = await store.secret();
  let fleet: FleetState = (await store.readEvents()).reduce(reduceFleet, EMPTY_FLEET);
  // The review (#6): UI, read API, live events; shows the admin token on the appliance's console.
  const review = await createReviewService({ dataDir: options.dataDir, fleet: () => fleet, log: log.child({ component: "review" }), announce: options.isoDevice ? "/dev/console" : "tty", url: `http://${net.address}${config.http.port === 80 ? "" : `:${config.http.port}`}/` });
  const inventories = createInventoryNormalizer(store, log.child({ component: "inventory" }), (mac) => review.inventoryWritten(mac));
  // What the boot decision serves: the image's boot.json (http target or appliance) says its
  // kernel args and architecture (none: an older tree, x86_64).
  const bootJsonPath = join(options.httpRoot, "install", options.imageLabel, "boot.json");
  const bootJson = (await exists(bootJsonPath))
    ? (JSON.parse(await readFile(bootJsonPath, "utf8")) as { imageKernelArgs?: string[]; arch?: unknown })
    : {};
  const server: BootServer = {
    address: net.address,
    httpPort: config.http.port,
    imageLabel: options.imageLabel,
    imageArch: imageArchFromBootJson(bootJson),
    imageKernelArgs: bootJson.imageKernelArgs ?? [],
    arm64Firmware: await exists(join(options.tftpRoot, "ipxe-arm64.efi")),
  };
  // Power (#5): the site config's BMCs — wake the fleet, confirm off after uploads, the power API.
  const power = createFleetPower({ config, runner, log: log.child({ component: "power" }), emit: (event) => onEvent(event), adminToken: (await loadOrCreateAdminToken(options.dataDir)).token, fleet: () => fleet, server, dataDir: options.dataDir });
  const onEvent = async (event: NodeEvent) => {
    fleet = reduceFleet(fleet, event);
    await store.appendEvent(event);
    power.observe(event);
    if (event.type === "upload-stored") inventories.enqueue(event.mac);
    review.publish(event);
  };
  // In the background: a store from an older recon (or a crash before normalizing) gets its
  // inventories rebuilt from the raw uploads without delaying DHCP or HTTP.
  const rebuilding = inventories.rebuildMissing();

  await mkdir(options.runDir, { recursive: true });
  // dnsmasq (as nobody) re-reads the hosts dir and nginx's workers chdir here: world-traversable.
  await chmod(options.runDir, 0o755);
  const runId = newRunId();
  const postTgzPath = await prepareWorkload(options.dataDir, options.runDir, log.child({ component: "workload" }));
  const app = createApp({ runId, config, store, httpRoot: options.httpRoot, isoDevice: options.isoDevice, postTgzPath, server, fleet: () => fleet, onEvent, secret, log: log.child({ component: "http" }), now, review: review.router, power: power.router });
  // nginx workers of a run killed with -9 still hold the port and answer 502: end them first.
  await stopLeftoverWorkers("nginx", options.runDir, log.child({ component: "http" }));
  const http = await startHttpFront(app, {
    wanted: config.http.server,
    port: config.http.port,
    httpRoot: options.httpRoot,
    runDir: options.runDir,
    maxBodyBytes: DEFAULT_APP_LIMITS.maxBodyBytes,
    runner,
    log: log.child({ component: "http" }),
    signal,
  });
  // Ready means this run answers on the port peers use, not a leftover that holds it.
  try {
    await confirmFrontAnswers({ port: http.port, runId, timeoutMs: 30_000, log: log.child({ component: "http" }), signal });
  } catch (error) {
    await http.close();
    throw error;
  }
  log.info("http service listening", { url: `http://${net.address}:${http.port}/`, httpRoot: options.httpRoot, server: http.server, run: runId });

  const stopAll = new AbortController();
  if (signal.aborted) stopAll.abort();
  signal.addEventListener("abort", () => stopAll.abort(), { once: true });
  const hostsDir = join(options.runDir, "hosts");
  const confFile = join(options.runDir, "dnsmasq.conf");
  // dnsmasq drops root for `nobody` after start and re-reads the hosts dir then: world-readable.
  await mkdir(hostsDir, { recursive: true, mode: 0o755 });
  await chmod(hostsDir, 0o755);

  async function startDnsmasq(currentMode: Exclude<DhcpMode, "off">, stop: AbortSignal) {
    // A master killed with -9 leaves its dnsmasq serving: end it (by its pid file) first.
    await stopLeftover(join(options.runDir, "dnsmasq.pid"), "dnsmasq", log);
    const dhcpBoot = planDhcpBoot(config, server);
    await writeFile(
      confFile,
      renderDnsmasqConf({
        mode: currentMode,
        interface: net.interface,
        address: net.address,
        network: net.network,
        prefix: net.prefix,
        pool: currentMode === "authoritative" ? (config.dhcp.pool ?? defaultPool(net)) : undefined,
        leaseTime: config.dhcp.leaseTime,
        ipv6Prefix: config.ipv6Prefix,
        dns: config.dns,
        firstStage: dhcpBoot.firstStage,
        paths: {
          tftpRoot: options.tftpRoot,
          leaseFile: join(options.runDir, "dnsmasq.leases"),
          pidFile: join(options.runDir, "dnsmasq.pid"),
          hostsDir,
        },
      }),
    );
    await writeFile(join(hostsDir, "recon.hosts"), renderDhcpHostsFile(dhcpBoot.hosts));
    return superviseDnsmasq({
      runner,
      confFile,
      logger: log.child({ component: "dnsmasq" }),
      signal: stop,
      onEvent: (event) => {
        if (event.type !== "dnsmasq") return;
        const nodeEvent = nodeEventFromDnsmasq(event.event, event.at);
        // The master's own probe (its MAC) gets offers from its own dnsmasq: not a node.
        if (nodeEvent && "mac" in nodeEvent && nodeEvent.mac === net.mac.toLowerCase()) return;
        if (nodeEvent) void onEvent(nodeEvent).catch((error: unknown) => log.error("event not stored", { error: String(error) }));
      },
    });
  }

  let dnsmasqStop = new AbortController();
  let dnsmasqDone: Promise<void> = Promise.resolve();
  let failure: unknown;
  // A supervisor that gives up is fatal: it stops every other subsystem (house style 8).
  const watch = (done: Promise<void>, what = "dnsmasq") =>
    done.catch((error: unknown) => {
      if (stopAll.signal.aborted) return;
      failure = error;
      log.error(`${what} gave up; stopping the master`, { error: error instanceof Error ? error.message : String(error) });
      stopAll.abort();
    });
  void watch(http.done, "nginx");
  try {
    if (mode !== "off") {
      dnsmasqDone = (await startDnsmasq(mode, dnsmasqStop.signal)).done;
      void watch(dnsmasqDone);
    }
    log.info("master ready", { mode, interface: net.interface, address: net.address, http: http.port });
    power.wake(stopAll.signal);

    const interval = options.reprobeIntervalMs ?? 60_000;
    const foreign = mode === "authoritative"
      ? await watchForForeignDhcp({ intervalMs: interval, signal: stopAll.signal, probe: () => probe(net, options.probeTimeoutMs ?? 3000), ownAddresses: [net.address] })
      : undefined;
    if (foreign !== undefined) {
      log.error("FOREIGN DHCP SERVER on the provisioning network: recon stops handing out addresses", { reason: foreign.reason });
      mode = "proxy";
      dnsmasqStop.abort();
      await dnsmasqDone.catch(() => undefined);
      dnsmasqStop = new AbortController();
      dnsmasqDone = (await startDnsmasq("proxy", dnsmasqStop.signal)).done;
      void watch(dnsmasqDone);
      log.info("master ready", { mode, interface: net.interface, address: net.address, http: http.port });
    }
    await untilAborted(stopAll.signal);
    if (failure !== undefined) throw failure;
  } finally {
    stopAll.abort();
    dnsmasqStop.abort();
    await dnsmasqDone.catch(() => undefined);
    await http.close();
    review.close();
    await power.stop();
    await rebuilding;
    await inventories.idle();
    await store.close();
    log.info("master stopped");
  }
}
