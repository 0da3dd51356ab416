/**
 * The appliance's master start (recon.service on the stick): the data partition, what recon saw
 * of the boot devices, the live image served from the boot medium (then staged into RAM), then
 * the master itself, waiting for a cable if need be.
 */
import { join } from "node:path";
import { writeFileAtomic } from "../lib/atomic-write.js";
import type { Logger } from "../lib/log.js";
import type { CommandRunner } from "../lib/run.js";
import { cmdlineValue } from "../model/kernel-cmdline.js";
import { prepareLiveHttpRoot, stageIsoInRam } from "./live-image.js";
import { runMaster } from "./main.js";
import { LSBLK_ARGS, prepareDataDir } from "./store/data-partition.js";

export interface ApplianceOptions {
  /** Where the data partition is mounted (/var/lib/recon). */
  dataDir: string;
  httpRoot: string;
  runDir: string;
  tftpRoot: string;
  /** site.yaml; absent = <data dir>/site.yaml. */
  configPath?: string | undefined;
}

export interface ApplianceDeps {
  runner: CommandRunner;
  /** The boot log (console lines). */
  log: Logger;
  /** The master's own log. */
  masterLog: Logger;
  /** Called once the data partition and the live image are ready: stops the master. */
  stopSignal: () => AbortSignal;
}

export async function startApplianceMaster(args: Map<string, string[]>, options: ApplianceOptions, deps: ApplianceDeps): Promise<void> {
  const { runner, log } = deps;
  const root = cmdlineValue(args, "root") ?? "";
  const volumeLabel = /^live:CDLABEL=(.+)$/.exec(root)?.[1] ?? "RECON";
  const data = await prepareDataDir(runner, log.child({ component: "data" }), {
    volumeLabel,
    mountPoint: options.dataDir,
  });
  // What recon saw, kept with the data: explains on the stick itself why it chose as it did.
  const devices = await runner.run("lsblk", LSBLK_ARGS);
  await writeFileAtomic(
    join(data.dir, "boot-devices.json"),
    JSON.stringify(
      { at: new Date().toISOString(), persistent: data.persistent, reason: data.reason, lsblk: JSON.parse(devices.stdout || "{}") as unknown },
      null,
      2,
    ),
  );
  log.info("data directory ready", { dir: data.dir, persistent: data.persistent, device: data.device });
  const live = await prepareLiveHttpRoot(runner, { httpRoot: options.httpRoot, volumeLabel });
  log.info("serving the boot medium to peers", { label: live.label, iso: live.isoDevice.path, sizeBytes: live.isoDevice.sizeBytes });
  // In the background: peers need the ISO only after kernel and initrd; until the RAM copy
  // is in place the ISO is served from the device.
  void stageIsoInRam(runner, log.child({ component: "iso" }), { httpRoot: live.httpRoot, label: live.label, isoDevice: live.isoDevice });
  const signal = deps.stopSignal();
  await runMaster(
    {
      configPath: options.configPath ?? join(data.dir, "site.yaml"),
      dataDir: data.dir,
      runDir: options.runDir,
      httpRoot: live.httpRoot,
      imageLabel: live.label,
      tftpRoot: options.tftpRoot,
      cmdline: args,
      isoDevice: live.isoDevice,
      waitForNetwork: true,
    },
    { runner, log: deps.masterLog, signal },
  );
}
