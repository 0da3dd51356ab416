/**
 * `recon master`: the composition root of the master role. Reads the site config, brings the
 * provisioning network up, decides the DHCP mode (never a rogue server), starts the HTTP service,
 * dnsmasq and (when a node's root is nbd) nbd-server, and keeps probing for foreign DHCP servers
 * while authoritative. One AbortSignal stops everything; a fatal subsystem error stops the others.
 */
import { chmod, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { checkBootSettings, planBoot, settingLayers, type BootServer } from "../boot/plan-boot.js";
import { untilAborted } from "../lib/abortable-sleep.js";
import { isReconError, ReconError } from "../lib/errors.js";
import { stopLeftover, stopLeftoverWorkers } from "../lib/leftover.js";
import type { Logger } from "../lib/log.js";
import type { CommandRunner } from "../lib/run.js";
import { applyKernelOverrides, parseSiteConfig, type SiteConfig } from "../model/site-config.js";
import { decideDhcpMode, type DhcpMode, type ProbeFindings } from "./dhcp/decide-dhcp-mode.js";
import { probeForDhcpServers } from "./dhcp/probe.js";
import { watchForForeignDhcp } from "./dhcp/reprobe.js";
import { prepareDnsmasqDirs, writeDnsmasqFiles } from "./dhcp/dnsmasq-files.js";
import { superviseDnsmasq } from "./dhcp/supervisor.js";
import { startHttpBootProxy } from "./dhcp/http-boot-proxy.js";
import { nodeEventFromDnsmasq } from "./dnsmasq-events.js";
import { createApp, DEFAULT_APP_LIMITS } from "./http/app.js";
import { createReviewService } from "./review-service.js";
import { loadOrCreateAdminToken } from "../review/access.js";
import { createFleetPower } from "./power/fleet-power.js";
import { startHttpFront } from "./http/front.js";
import { raiseSysctls } from "./net/sysctl.js";
import { expectedNodes, neighbourSysctls, planScale } from "./scale.js";
import { stopDhclient } from "./net/dhclient.js";
import { bringUpNetworkPatiently } from "./net/bring-up.js";
import type { Provisioning } from "./net/plan-provisioning.js";
import { EMPTY_FLEET, reduceFleet, type FleetState, type NodeEvent } from "../model/node-state.js";
import { createStore } from "./store/store.js";
import { createInventoryNormalizer } from "./inventories.js";
import { prepareWorkload } from "./workload.js";
import { confirmFrontAnswers, newRunId } from "./http/readiness.js";
import { applyTftpRoot, DEBIAN_GRUB_NET, DEBIAN_SHIM, ipxeFilesIn, planTftpRoot, RECON_GRUB_HTTP } from "./boot-files/tftp-root.js";
import { createGrubNodeFiles } from "./boot-files/grub-node-files.js";
import { discoverImages } from "./images.js";
import { startMasterNbd } from "./nbd/master-nbd.js";
import { planMasterTorrent, servePeerAssist, torrentRunDir } from "./torrent/master-torrent.js";
import { startMasterNfs } from "./nfs/master-nfs.js";
import { pathExists } from "../lib/path-exists.js";

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
  /** Where the iPXE binaries are (Debian: /usr/lib/ipxe); the TFTP root itself is assembled in the run dir (boot-files/tftp-root.ts). */
  tftpRoot: string;
  /** Microsoft-signed shim (default: Debian's /usr/lib/shim/shimx64.efi.signed). */
  shimFile?: string | undefined;
  /** The signed network GRUB shim loads (default: Debian's grubnetx64.efi.signed). */
  grubFile?: string | undefined;
  /** The HTTP-capable signed GRUB shim loads under UEFI HTTP boot (default: RECON_GRUB_HTTP). */
  grubHttpFile?: string | undefined;
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

export async function loadSiteConfig(path: string, cmdline: Map<string, string[]>, log: Logger): Promise<SiteConfig> {
  let text = "";
  if (await pathExists(path)) text = await readFile(path, "utf8");
  else log.info("no site config; using defaults", { path, hint: "write that file to set interface, address, dhcp mode, hosts" });
  const { config, applied } = applyKernelOverrides(parseSiteConfig(text, path), cmdline);
  for (const override of applied) log.info("kernel command line overrides the site config", { override: String(override) });
  return config;
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
  // Sized for the expected fleet (src/master/scale.ts). The neighbour table is the kernel's, shared
  // by the whole machine: only the appliance raises it, never a master started on someone's host.
  const limits = planScale(expectedNodes(config.fleet, config.dhcp.pool));
  log.info("sized for the fleet", {
    expectedNodes: expectedNodes(config.fleet, config.dhcp.pool),
    ...limits.neighbour,
    nginxWorkerConnections: limits.nginxWorkerConnections,
  });
  if (!options.requireExplicitInterface) await raiseSysctls(neighbourSysctls(limits), log.child({ component: "net" }));

  let mode: DhcpMode = config.dhcp.mode === "off" ? "off" : "proxy";
  if (config.dhcp.mode !== "off" && config.dhcp.mode !== "proxy") {
    const findings = await probe(net, options.probeTimeoutMs ?? 3000);
    const decision = decideDhcpMode(config.dhcp.mode, findings, [net.address]);
    mode = decision.mode;
    log.info("dhcp mode decided", { mode, reason: decision.reason });
    for (const warning of decision.warnings) log.warn(warning);
  }

  // What the boot decision serves: every image (own, others in the http root, the data partition's
  // images/), each with its boot.json's kernel args and architecture (none: an older tree, x86_64).
  await mkdir(options.runDir, { recursive: true });
  const images = await discoverImages({
    httpRoot: options.httpRoot,
    ownLabel: options.imageLabel,
    dataDir: options.dataDir,
    runDir: options.runDir,
    log: log.child({ component: "images" }),
  });
  const httpRoot = images.httpRoot;
  const ipxePresent = await ipxeFilesIn(options.tftpRoot);
  const server: BootServer = {
    address: net.address,
    httpPort: config.http.port,
    imageLabel: images.own.label,
    imageArch: images.own.arch,
    imageKernelArgs: images.own.kernelArgs,
    imageVolumeId: images.own.volumeId,
    otherImages: images.others.map(({ label, arch, kernelArgs, volumeId }) => ({ label, arch, kernelArgs, volumeId })),
    arm64Firmware: ipxePresent.includes("ipxe-arm64.efi"),
    dhcpMode: mode === "proxy" ? "proxy" : "authoritative",
  };
  // Every image: and root: in the site config must name what this master serves, now rather than when a node boots.
  checkBootSettings(config, server);
  // root: nfs is served by the kernel NFS server, started with nbd-server below (src/master/nfs).

  // Peer assist (#14 item 5): the master makes the torrents and runs the tracker once it is ready
  // (below); once they are served the boot decision hands root http nodes the torrent (plan-boot.ts).
  const torrentPlan = planMasterTorrent({
    config,
    images: [images.own, ...images.others],
    address: net.address,
    httpPort: config.http.port,
    runDir: options.runDir,
  });

  // Store and fleet state: replay the stored events so a restarted master knows its nodes.
  const store = await createStore(options.dataDir, { log: log.child({ component: "store" }) });
  const secret = await store.secret();
  let fleet: FleetState = (await store.readEvents()).reduce(reduceFleet, EMPTY_FLEET);
  // The review (#6): UI, read API, live events; shows the admin token on the appliance's console.
  const review = await createReviewService({
    dataDir: options.dataDir,
    fleet: () => fleet,
    log: log.child({ component: "review" }),
    announce: options.isoDevice ? "/dev/console" : "tty",
    url: `http://${net.address}${config.http.port === 80 ? "" : `:${config.http.port}`}/`,
    // The fleet page's link budget (#14 item 4): the fleet size, the own image's ISO, the boot NIC's speed.
    linkBudget: {
      expectedNodes: config.fleet.expectedNodes,
      image: { label: images.own.label, isoPath: join(images.own.root, "isos", `${images.own.label}.iso`) },
      bootInterface: net.interface,
      peerAssist: config.distribution.peerAssist,
    },
  });
  const inventories = createInventoryNormalizer(store, log.child({ component: "inventory" }), (mac) => review.inventoryWritten(mac));
  // The TFTP root (also /tftp/ over HTTP): first stages, GRUB's files, kernel and initrd, all from this medium.
  const tftpRoot = join(options.runDir, "tftp");
  await applyTftpRoot(
    tftpRoot,
    planTftpRoot({
      ipxeDir: options.tftpRoot,
      shimFile: options.shimFile ?? DEBIAN_SHIM,
      grubFile: options.grubFile ?? DEBIAN_GRUB_NET,
      grubHttpFile: options.grubHttpFile ?? RECON_GRUB_HTTP,
      httpRoot,
      imageLabel: options.imageLabel,
      otherLabels: images.others.map((image) => image.label),
      address: net.address,
      ipxePresent,
    }),
  );
  // dnsmasq logs a request's vendor class (log-dhcp) before its answer, by transaction id: the last few hundred.
  const vendorClasses = new Map<number, string>();
  const rememberVendorClass = (xid: number, vendorClass: string) => {
    vendorClasses.set(xid, vendorClass);
    if (vendorClasses.size > 512) vendorClasses.delete(vendorClasses.keys().next().value!);
  };
  const grubFiles = createGrubNodeFiles({ tftpRoot, config, server, secret, record: (mac) => fleet.nodes[mac], log: log.child({ component: "grub" }) });
  // Power (#5): the site config's BMCs — wake the fleet, confirm off after uploads, the power API.
  const power = createFleetPower({
    config,
    runner,
    log: log.child({ component: "power" }),
    emit: (event) => onEvent(event),
    adminToken: (await loadOrCreateAdminToken(options.dataDir)).token,
    fleet: () => fleet,
    server,
    dataDir: options.dataDir,
  });
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
  const app = createApp({
    runId,
    config,
    store,
    httpRoot,
    tftpRoot,
    isoDevice: options.isoDevice,
    postTgzPath,
    torrentDir: torrentPlan === undefined ? undefined : torrentRunDir(options.runDir),
    server,
    fleet: () => fleet,
    onEvent,
    secret,
    log: log.child({ component: "http" }),
    now,
    review: review.router,
    power: power.router,
    wakePending: () => power.service.wakePending(),
  });
  // nginx workers of a run killed with -9 still hold the port and answer 502: end them first.
  await stopLeftoverWorkers("nginx", options.runDir, log.child({ component: "http" }));
  const http = await startHttpFront(app, {
    wanted: config.http.server,
    port: config.http.port,
    httpRoot,
    runDir: options.runDir,
    maxBodyBytes: DEFAULT_APP_LIMITS.maxBodyBytes,
    workerConnections: limits.nginxWorkerConnections,
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
  log.info("http service listening", { url: `http://${net.address}:${http.port}/`, httpRoot, server: http.server, run: runId });

  const stopAll = new AbortController();
  if (signal.aborted) stopAll.abort();
  signal.addEventListener("abort", () => stopAll.abort(), { once: true });
  const confFile = await prepareDnsmasqDirs(options.runDir);

  async function startDnsmasq(currentMode: Exclude<DhcpMode, "off">, stop: AbortSignal) {
    // A master killed with -9 leaves its dnsmasq serving: end it (by its pid file) first.
    await stopLeftover(join(options.runDir, "dnsmasq.pid"), "dnsmasq", log);
    await writeDnsmasqFiles({ mode: currentMode, net, config, server, tftpRoot, runDir: options.runDir });
    if (currentMode === "proxy") {
      // dnsmasq's proxy mode answers only PXEClient vendor classes: recon answers UEFI HTTP-boot clients itself.
      const responder = await startHttpBootProxy({
        address: net.address,
        urlFor: (arch, mac) => {
          if (arch !== 16) return undefined;
          const plan = planBoot({ mac, arch: "efi64" }, config, fleet.nodes[mac], server);
          return plan.kind === "ignore" && plan.why === "config-ignore" ? undefined : plan.firstStage.efi64Http.url;
        },
        log: log.child({ component: "http-boot" }),
        signal: stop,
      });
      stop.addEventListener("abort", () => void responder.stop(), { once: true });
    }
    return superviseDnsmasq({
      runner,
      confFile,
      logger: log.child({ component: "dnsmasq" }),
      signal: stop,
      onEvent: (event) => {
        if (event.type !== "dnsmasq") return;
        const answered = event.event;
        if (answered.kind === "vendor-class" && answered.xid !== undefined) rememberVendorClass(answered.xid, answered.vendorClass);
        // dnsmasq answered a UEFI x86-64 PXE client: its GRUB (if its first stage is shim) reads its file seconds later.
        if ((answered.kind === "dhcp" && (answered.message === "ACK" || answered.message === "OFFER")) || answered.kind === "pxe") {
          const vendorClass = answered.xid === undefined ? undefined : vendorClasses.get(answered.xid);
          const uefiPxe = vendorClass === undefined || /^PXEClient:Arch:0000[79]/.test(vendorClass);
          if (uefiPxe && answered.mac !== net.mac.toLowerCase()) {
            void grubFiles
              .prepare(answered.mac, answered.ip)
              .catch((error: unknown) => log.error("grub config not written", { mac: answered.mac, error: String(error) }));
          }
        }
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
  // A supervisor that gives up is fatal: it stops every other subsystem (docs/architecture.md, "Supervised loops").
  const watch = (done: Promise<void>, what = "dnsmasq") =>
    done.catch((error: unknown) => {
      if (stopAll.signal.aborted) return;
      failure = error;
      log.error(`${what} gave up; stopping the master`, { error: error instanceof Error ? error.message : String(error) });
      stopAll.abort();
    });
  void watch(http.done, "nginx");
  // nbd-server (root: nbd), only when a settings layer asks for it; supervised, stopped with the rest.
  let nbdDone: Promise<void> = Promise.resolve();
  let torrentDone: Promise<void> = Promise.resolve();
  let nfs: Awaited<ReturnType<typeof startMasterNfs>>;
  try {
    // Never fatal either: an nbd-server that cannot start or gives up is logged at error, and the http
    // and nfs nodes are still served (a master that dies for it serves nobody).
    const nbdLog = log.child({ component: "nbd" });
    const nbd = await startMasterNbd({
      config,
      images: [images.own, ...images.others],
      address: net.address,
      runDir: options.runDir,
      // Where a node's writable copy (root: nbd-rw) is made and kept: the data partition.
      dataDir: options.dataDir,
      runner,
      log: nbdLog,
      signal: stopAll.signal,
      ownIsoOnDevice: options.isoDevice !== undefined,
    }).catch((error: unknown) => {
      // A site config that asks for the impossible (nbd-rw on a layer wider than one host) is still a
      // config error at start, as every other; only a server that will not run is not.
      if (isReconError(error) && error.code === "CONFIG_INVALID") throw error;
      nbdLog.error("nbd root transport not served: these nodes will not boot", nbdFailure(error, config));
      return undefined;
    });
    if (nbd !== undefined) {
      nbdDone = nbd.done.catch((error: unknown) => {
        if (!stopAll.signal.aborted) nbdLog.error("nbd-server gave up: nbd roots no longer served", nbdFailure(error, config));
      });
    }
    // The kernel NFS server (root: nfs), only when a settings layer asks for it. Never fatal: a kernel
    // without nfsd is logged at error naming those layers, and every other node is still served.
    nfs = await startMasterNfs({
      config,
      images: [images.own, ...images.others],
      address: net.address,
      prefix: net.prefix,
      runDir: options.runDir,
      runner,
      log: log.child({ component: "nfs" }),
      signal: stopAll.signal,
      ownIsoOnDevice: options.isoDevice !== undefined,
    });
    if (mode !== "off") {
      dnsmasqDone = (await startDnsmasq(mode, dnsmasqStop.signal)).done;
      void watch(dnsmasqDone);
    }
    log.info("master ready", { mode, interface: net.interface, address: net.address, http: http.port });
    power.wake(stopAll.signal);
    if (torrentPlan !== undefined) {
      // After ready: mktorrent reads each ISO whole, which must not delay DHCP, HTTP or the wake.
      torrentDone = servePeerAssist({
        runner,
        plan: torrentPlan,
        log: log.child({ component: "torrent" }),
        signal: stopAll.signal,
        ownIso: options.isoDevice === undefined ? undefined : { label: images.own.label, device: options.isoDevice },
        // From now on the boot decision hands a root http node of these images its torrent (plan-boot.ts).
        onServing: (labels) => {
          server.torrentLabels = new Set(labels);
        },
      });
    }

    const interval = options.reprobeIntervalMs ?? 60_000;
    const foreign =
      mode === "authoritative"
        ? await watchForForeignDhcp({
            intervalMs: interval,
            signal: stopAll.signal,
            probe: () => probe(net, options.probeTimeoutMs ?? 3000),
            ownAddresses: [net.address],
          })
        : undefined;
    if (foreign !== undefined) {
      log.error("FOREIGN DHCP SERVER on the provisioning network: recon stops handing out addresses", { reason: foreign.reason });
      mode = "proxy";
      // The boot decision's proxy defaults from now on (plan-boot.ts defaultUefiFirstStage).
      server.dhcpMode = "proxy";
      dnsmasqStop.abort();
      await dnsmasqDone.catch(() => undefined);
      dnsmasqStop = new AbortController();
      dnsmasqDone = (await startDnsmasq("proxy", dnsmasqStop.signal)).done;
      void watch(dnsmasqDone);
      log.info("master ready", { mode, interface: net.interface, address: net.address, http: http.port });
    }
    await untilAborted(stopAll.signal);
    if (failure !== undefined) throw failure instanceof Error ? failure : new Error(String(failure));
  } finally {
    stopAll.abort();
    dnsmasqStop.abort();
    await dnsmasqDone.catch(() => undefined);
    await nbdDone.catch(() => undefined);
    await torrentDone;
    await nfs?.stop();
    await http.close();
    review.close();
    await power.stop();
    await rebuilding;
    await inventories.idle();
    await store.close();
    log.info("master stopped");
  }
}

/** The fields of an nbd-server failure line: the error, the layers whose nodes it leaves without a root, the fix. */
function nbdFailure(error: unknown, config: SiteConfig): Record<string, string> {
  return {
    error: error instanceof Error ? error.message : String(error),
    where: settingLayers(config)
      .filter(([, settings]) => settings.root === "nbd" || settings.root === "nbd-rw")
      .map(([where]) => where)
      .join(","),
    hint:
      isReconError(error) && error.hint !== undefined ? error.hint : "see the system log (journalctl -t nbd_server); set root: http for these nodes meanwhile",
  };
}
