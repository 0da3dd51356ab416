/**
 * The master's power control over the fleet's BMCs: status of all, one action on one, "wake the
 * fleet" at start (`chassis bootdev pxe` where supported, then `power on`), and after a node's
 * upload is stored, confirming within `confirmOffAfterMs` that it powered itself off — or
 * powering it off. Every action on a node with a known MAC becomes a node event; BMCs without a
 * MAC are only logged. The IPMI client is injected (tests use a scripted one, the master the
 * real ipmitool).
 */
import type { IpmiClient, PowerAction } from "../../ipmi/ipmitool.js";
import type { PowerState } from "../../inventory/parse/ipmitool-text.js";
import { IpmiError } from "../../ipmi/ipmitool.js";
import { sleep } from "../../lib/abortable-sleep.js";
import { ReconError } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import type { NodeEvent, PowerEventAction, PowerEventCause } from "../../model/node-state.js";
import { describeBmc, findBmc, type FleetBmc } from "./bmcs.js";

export interface PowerServiceOptions {
  bmcs: readonly FleetBmc[];
  ipmi: IpmiClient;
  log: Logger;
  emit: (event: NodeEvent) => void | Promise<void>;
  now?: () => Date;
  /** After an upload: how long a node has to power itself off. 0 = never check. */
  confirmOffAfterMs: number;
  bootdevPxe: boolean;
  /** After the master's own power off: how long to wait for the BMC to report off. */
  offWaitMs?: number;
  /** A reason not to wake this BMC's node (e.g. its inventory is already stored), or undefined. */
  skipWake?: (bmc: FleetBmc) => string | undefined;
  /**
   * The BMC address a node's agent found in-band (`ipmitool lan print`, in its normalized
   * inventory), if any yet. A `bmcs:` entry without `mac` whose address matches is attached to
   * that node, so the confirm-off check covers it too. undefined: no normalized inventory yet (it is
   * looked for again); null: the inventory is there and names no BMC (the look ends).
   */
  inventoryBmcAddress?: (mac: string) => Promise<string | null | undefined>;
  /** How long to look for that inventory after an upload (it is normalized after the ack). */
  inBandWaitMs?: number;
  /** BMCs asked at once (status of the fleet, wake). */
  concurrency?: number;
  /** Paced wake (site config power.wakeBatch): this many nodes, then `wakePauseMs`, then the next; 0/absent = all. */
  wakeBatch?: number;
  wakePauseMs?: number;
}

export interface BmcStatus {
  name: string;
  mac: string | null;
  address: string;
  port: number;
  username: string;
  credentials: "password" | "passwordFile";
  state: PowerState | "unknown";
  error?: { failure: string; message: string };
}

export interface PowerService {
  readonly bmcs: readonly FleetBmc[];
  /** Every BMC's power state (failures are reported per BMC, not thrown). */
  statusAll(): Promise<BmcStatus[]>;
  /** Throws NOT_FOUND for an unknown node/BMC, IpmiError when the BMC fails. */
  status(key: string): Promise<BmcStatus>;
  act(key: string, action: PowerAction, by: PowerEventCause): Promise<{ bmc: FleetBmc; answer: string }>;
  /** Nodes a running wake has still to ask (a paced wake's later batches); 0 when none runs. */
  wakePending(): number;
  /** bootdev pxe + power on for every BMC; resolves when all were asked. */
  wakeFleet(signal?: AbortSignal): Promise<void>;
  /** Feed every node event: an upload-stored schedules the confirm-off check. */
  observe(event: NodeEvent): void;
  /** Cancels pending confirm-off checks and waits for running ones. */
  stop(): Promise<void>;
}

/** Runs `task` over `items`, at most `size` at once. */
async function eachLimited<T, R>(items: readonly T[], size: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
  return results;
}

export function createPowerService(options: PowerServiceOptions): PowerService {
  const { bmcs, ipmi, log } = options;
  const now = options.now ?? (() => new Date());
  const stopping = new AbortController();
  // Nodes a running wakeFleet has not asked yet (the swarm is not done while some are: node-state.ts swarmStatus).
  let toAsk = 0;
  const pending = new Set<Promise<void>>();
  const scheduled = new Map<string, AbortController>();

  const record = async (bmc: FleetBmc, action: PowerEventAction, by: PowerEventCause, result: "ok" | "unsupported" | "failed", message?: string) => {
    const fields = { bmc: bmc.name, address: bmc.address, action, by, result, ...(message && { error: message }) };
    if (result === "failed") log.warn("bmc action failed", fields);
    else log.info("bmc action", fields);
    if (bmc.mac === undefined) return;
    try {
      await options.emit({ type: "power", at: now().toISOString(), mac: bmc.mac, action, by, result, ...(message && { message }) });
    } catch (error) {
      log.error("power event not recorded", { bmc: bmc.name, error: (error as Error).message });
    }
  };

  const lookup = (key: string): FleetBmc => {
    const bmc = findBmc(bmcs, key);
    if (!bmc) {
      throw new ReconError("NOT_FOUND", `no BMC for '${key.slice(0, 60)}' in the site config`, {
        hint: `known: ${bmcs.map((b) => b.mac ?? b.address).join(", ") || "none"}; add it under bmcs: (address, username, passwordFile, mac)`,
      });
    }
    return bmc;
  };

  const statusOf = async (bmc: FleetBmc): Promise<BmcStatus> => {
    try {
      return { ...describeBmc(bmc), state: await ipmi.powerStatus(bmc) };
    } catch (error) {
      if (!(error instanceof IpmiError)) throw error;
      return { ...describeBmc(bmc), state: "unknown", error: { failure: error.failure, message: error.message } };
    }
  };

  /** The confirm-off check of one node: its BMC says off by the deadline, else the master powers it off. */
  const confirmOff = async (bmc: FleetBmc, signal: AbortSignal) => {
    if (!(await sleep(options.confirmOffAfterMs, signal))) return;
    try {
      if ((await ipmi.powerStatus(bmc)) === "off") {
        log.info("node powered itself off after its upload", { bmc: bmc.name, mac: bmc.mac });
        await record(bmc, "status-off", "confirm-off", "ok");
        if (bmc.mac) await options.emit({ type: "powered-off", at: now().toISOString(), mac: bmc.mac });
        return;
      }
      log.warn("node still on after its upload; powering it off through its BMC", {
        bmc: bmc.name,
        mac: bmc.mac,
        afterS: Math.round(options.confirmOffAfterMs / 1000),
      });
      await ipmi.power(bmc, "off");
      await record(bmc, "off", "confirm-off", "ok");
      const deadline = Date.now() + (options.offWaitMs ?? 60_000);
      while (Date.now() < deadline && !signal.aborted) {
        if ((await ipmi.powerStatus(bmc)) === "off") {
          if (bmc.mac) await options.emit({ type: "powered-off", at: now().toISOString(), mac: bmc.mac });
          return;
        }
        await sleep(2000, signal);
      }
      if (!signal.aborted)
        await record(bmc, "off", "confirm-off", "failed", `the BMC still reports on ${Math.round((options.offWaitMs ?? 60_000) / 1000)} s after power off`);
    } catch (error) {
      await record(bmc, "off", "confirm-off", "failed", (error as Error).message);
    }
  };

  const track = (work: Promise<void>) => {
    pending.add(work);
    void work.finally(() => pending.delete(work));
  };

  /** bootdev pxe (where the BMC takes it) then power on, each recorded as a node event. */
  const wakeOne = async (bmc: FleetBmc, signal: AbortSignal): Promise<void> => {
    if (signal.aborted) return;
    if (options.bootdevPxe) {
      try {
        await ipmi.bootdevPxe(bmc);
        await record(bmc, "bootdev-pxe", "wake", "ok");
      } catch (error) {
        // Not every BMC takes a boot device; the node may boot from the network anyway.
        const unsupported = error instanceof IpmiError && error.failure === "UNSUPPORTED";
        await record(bmc, "bootdev-pxe", "wake", unsupported ? "unsupported" : "failed", (error as Error).message);
        if (!unsupported && error instanceof IpmiError && (error.failure === "AUTH" || error.failure === "UNREACHABLE")) return;
      }
    }
    try {
      await ipmi.power(bmc, "on");
      await record(bmc, "on", "wake", "ok");
    } catch (error) {
      await record(bmc, "on", "wake", "failed", (error as Error).message);
    }
  };

  return {
    bmcs,
    statusAll: () => eachLimited(bmcs, options.concurrency ?? 8, statusOf),
    async status(key) {
      const bmc = lookup(key);
      return { ...describeBmc(bmc), state: await ipmi.powerStatus(bmc) };
    },
    async act(key, action, by) {
      const bmc = lookup(key);
      try {
        const answer = await ipmi.power(bmc, action);
        await record(bmc, action, by, "ok");
        return { bmc, answer };
      } catch (error) {
        await record(bmc, action, by, error instanceof IpmiError && error.failure === "UNSUPPORTED" ? "unsupported" : "failed", (error as Error).message);
        throw error;
      }
    },
    wakePending: () => toAsk,
    async wakeFleet(signal) {
      // Nodes not to wake (inventory stored, config ignore) do not count toward a paced batch.
      const toWake = bmcs.filter((bmc) => {
        const skip = options.skipWake?.(bmc);
        if (skip !== undefined) log.info("not waking a node", { bmc: bmc.name, mac: bmc.mac, reason: skip });
        return skip === undefined;
      });
      const batch = options.wakeBatch !== undefined && options.wakeBatch > 0 ? options.wakeBatch : Math.max(1, toWake.length);
      log.info("waking the fleet", { bmcs: bmcs.length, waking: toWake.length, bootdevPxe: options.bootdevPxe, batch, pauseMs: options.wakePauseMs ?? 0 });
      // One signal for the caller's abort and the service's stop (AbortSignal.any is not in the image's Node 18).
      const both = new AbortController();
      const abort = () => both.abort();
      signal?.addEventListener("abort", abort, { once: true });
      stopping.signal.addEventListener("abort", abort, { once: true });
      if (signal?.aborted || stopping.signal.aborted) both.abort();
      toAsk = toWake.length;
      try {
        for (let first = 0; first < toWake.length; first += batch) {
          if (first > 0) {
            log.info("paced wake: pausing before the next batch", { woken: first, left: toWake.length - first, pauseMs: options.wakePauseMs ?? 0 });
            if (!(await sleep(options.wakePauseMs ?? 0, both.signal))) return;
          }
          await eachLimited(toWake.slice(first, first + batch), options.concurrency ?? 8, (bmc) =>
            wakeOne(bmc, both.signal).finally(() => {
              toAsk = Math.max(0, toAsk - 1);
            }),
          );
        }
      } finally {
        toAsk = 0;
        signal?.removeEventListener("abort", abort);
        stopping.signal.removeEventListener("abort", abort);
      }
    },
    observe(event) {
      if (event.type !== "upload-stored" || stopping.signal.aborted) return;
      const mac = event.mac.toLowerCase();
      const bmc = bmcs.find((b) => b.mac === mac);
      if (!bmc) {
        if (options.inventoryBmcAddress) track(attachInBand(mac));
        return;
      }
      scheduleConfirmOff(bmc);
    },
    async stop() {
      stopping.abort();
      await Promise.allSettled([...pending]);
    },
  };

  /** Finds the node's in-band BMC address in its inventory and attaches a matching entry. */
  async function attachInBand(mac: string): Promise<void> {
    const deadline = Date.now() + (options.inBandWaitMs ?? 60_000);
    // Only a bmcs: entry without a MAC can be attached: with none (every entry named, or no bmcs: at
    // all, as in a fleet without credentials) the inventory is not read at all. It was read every 2 s
    // for 60 s per upload, 6 % of the master's CPU in bench/fleet-sim at 200 peers.
    while (!stopping.signal.aborted && bmcs.some((b) => b.mac === undefined)) {
      const address = await options.inventoryBmcAddress!(mac).catch(() => undefined);
      if (address === null) return;
      if (address !== undefined) {
        const entry = bmcs.find((b) => b.address === address);
        if (entry === undefined) {
          log.info("node reports a BMC recon has no credentials for", {
            mac,
            bmc: address,
            hint: "add it under bmcs: (address, username, passwordFile) to control it",
          });
        } else if (entry.mac === undefined) {
          entry.mac = mac;
          if (entry.name === entry.address) entry.name = mac;
          log.info("BMC found in-band attached to its node", { mac, bmc: address });
          scheduleConfirmOff(entry);
        }
        return;
      }
      if (Date.now() > deadline || !(await sleep(2000, stopping.signal))) return;
    }
  }

  function scheduleConfirmOff(bmc: FleetBmc): void {
    if (options.confirmOffAfterMs <= 0 || stopping.signal.aborted) return;
    // A second upload restarts the clock for that node.
    scheduled.get(bmc.address)?.abort();
    const controller = new AbortController();
    // One listener per check on the service-long signal, removed when the check ends (else
    // every upload leaves one behind: MaxListenersExceededWarning after 11, issue #9).
    const cancel = () => controller.abort();
    stopping.signal.addEventListener("abort", cancel, { once: true });
    scheduled.set(bmc.address, controller);
    track(
      confirmOff(bmc, controller.signal).finally(() => {
        stopping.signal.removeEventListener("abort", cancel);
        if (scheduled.get(bmc.address) === controller) scheduled.delete(bmc.address);
      }),
    );
  }
}
