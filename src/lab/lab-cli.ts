/**
 * `recon lab up|status|down`. `up` stays in the foreground holding the lab (its BMCs and the
 * master VM are its children) until SIGINT/SIGTERM, then removes it; `down` removes a lab from
 * its lab.json even when the `up` process is gone (crash, SIGKILL).
 */
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ReconError } from "../lib/errors.js";
import type { Logger } from "../lib/log.js";
import type { CommandRunner } from "../lib/run.js";
import { formatLabStatus, labDown, labStatus, labUp } from "./lab.js";
import { MASTER_FIRMWARES, parseLabFirmware, type MasterFirmware } from "./lab-plan.js";
import { ROOT_TRANSPORTS, type RootTransport } from "../model/root-transport.js";

export const LAB_USAGE =
  "recon lab up [--peers N] [--firmware bios|uefi|uefi-sb|uefi-http|uefi-http-sb|mixed|KIND,KIND,...] [--master-firmware bios|uefi|uefi-sb] [--roots http|nbd,...] [--iso PATH] [--dir DIR] [--debug] | recon lab status [--dir DIR] [--json] | recon lab down [--dir DIR]";
export const DEFAULT_LAB_DIR = "/var/tmp/recon-lab";

export interface LabCliOptions {
  dir: string | undefined;
  peers: string | undefined;
  firmware: string | undefined;
  masterFirmware: string | undefined;
  /** Each peer's root transport by position, comma-separated (http if left out). */
  roots: string | undefined;
  iso: string | undefined;
  /** The recipe whose built ISO `up` uses when --iso is not given. */
  recipe: string;
  buildDir: string;
  debug: boolean;
  json: boolean;
}

export interface LabCliIo {
  runner: CommandRunner;
  log: Logger;
  write: (line: string) => void;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
}

async function builtIso(buildDir: string, recipe: string): Promise<string> {
  const stamp = await readFile(join(buildDir, recipe, "image-DracutLive.json"), "utf8").catch(() => undefined);
  if (stamp === undefined)
    throw new ReconError("ARTEFACT_MISSING", `no ISO has been built for ${recipe}`, { hint: `./make-recipe-target ${recipe} target, or pass --iso PATH` });
  return resolve((JSON.parse(stamp) as { image: string }).image);
}

/** `--roots nbd,http`: one root transport per peer, at most as many as peers (the rest boot http). */
export function parseLabRoots(text: string | undefined, peers: number): RootTransport[] | undefined {
  if (text === undefined) return undefined;
  const roots = text.split(",").map((item) => item.trim());
  const bad = roots.find((root) => !(ROOT_TRANSPORTS as readonly string[]).includes(root));
  if (bad !== undefined) throw new ReconError("USAGE", `--roots: '${bad}' is not one of ${ROOT_TRANSPORTS.join(", ")}`, { hint: LAB_USAGE, exitCode: 2 });
  if (roots.length > peers) throw new ReconError("USAGE", `--roots names ${roots.length} peers, the lab has ${peers}`, { hint: LAB_USAGE, exitCode: 2 });
  return roots as RootTransport[];
}

export async function runLabCli(rest: string[], options: LabCliOptions, io: LabCliIo): Promise<number> {
  const [action, ...extra] = rest;
  const dir = resolve(options.dir ?? DEFAULT_LAB_DIR);
  if (extra.length > 0) throw new ReconError("USAGE", `unexpected arguments: ${extra.join(" ")}`, { hint: LAB_USAGE, exitCode: 2 });
  const deps = { runner: io.runner, log: io.log };
  switch (action) {
    case "up": {
      const { firmware, peers } = parseLabFirmware(options.firmware, options.peers);
      const masterFirmware = (options.masterFirmware ?? "bios") as MasterFirmware;
      if (!MASTER_FIRMWARES.includes(masterFirmware)) {
        throw new ReconError("USAGE", `--master-firmware must be one of ${MASTER_FIRMWARES.join(", ")}`, { hint: LAB_USAGE, exitCode: 2 });
      }
      const roots = parseLabRoots(options.roots, peers);
      const iso = options.iso ? resolve(options.iso) : await builtIso(options.buildDir, options.recipe);
      const lab = await labUp({ peers, firmware, masterFirmware, roots, iso, dir, debug: options.debug }, deps);
      io.log.info("lab ready", { dir, id: lab.plan.id, namespace: lab.plan.wireNs, master: lab.plan.masterAddress, peers: lab.plan.peers.length });
      io.write(`lab up in ${dir}: the master boots from ${lab.plan.master.stick} and wakes ${lab.plan.peers.length} peer(s) through their BMCs.`);
      io.write(`watch: tail -f ${lab.plan.master.vm.serialLog}   status: recon lab status --dir ${dir}   stop: Ctrl-C or recon lab down --dir ${dir}`);
      await new Promise<void>((done) => {
        if (io.signal.aborted) return done();
        io.signal.addEventListener("abort", () => done(), { once: true });
      });
      io.log.info("stopping the lab", { dir });
      await lab.down();
      return 0;
    }
    case "status": {
      const status = await labStatus(dir, deps);
      if (!status) {
        io.write(options.json ? "null" : `no lab in ${dir}`);
        return 1;
      }
      io.write(options.json ? JSON.stringify(status, null, 2) : formatLabStatus(status));
      return 0;
    }
    case "down": {
      const result = await labDown(dir, deps);
      io.write(
        result.killed.length + result.namespaces.length === 0
          ? `nothing running for a lab in ${dir}; its files are removed`
          : `lab in ${dir} removed: killed ${result.killed.length} process(es), deleted ${result.namespaces.join(", ") || "no"} namespace(s)`,
      );
      return 0;
    }
    default:
      throw new ReconError("USAGE", `unknown lab action '${action ?? ""}'`, { hint: LAB_USAGE, exitCode: 2 });
  }
}
