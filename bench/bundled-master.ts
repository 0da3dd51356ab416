/**
 * `recon master` as the appliance runs it, for benches that measure its memory: the bundle
 * (scripts/bundle.mjs → one ESM file, what the image's /usr/bin/recon runs) under plain node,
 * not bin/recon's tsx loader, which adds ≈47 MB of resident set (transpiler and its caches) to
 * the node process (bench/fleet-sim --master tsx shows it). Same process tree and stop as
 * test/helpers/master-process.ts: the node process's PID is in the store's master.lock, its
 * nginx/dnsmasq/nbd-server in the run dir's pid files; each is ended only when /proc says it is
 * that program.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { netnsExecArgv } from "../src/lab/netns.js";
import { stopLeftover } from "../src/lib/leftover.js";
import { createLogger } from "../src/lib/log.js";
import { recordedPid, type MasterProcess } from "../test/helpers/master-process.js";
import { repoRoot } from "../test/helpers/repo.js";
import { stopChild, stopPid } from "../test/helpers/stop-child.js";

/** Bundles src/cli.ts into `outfile` (scripts/bundle.mjs, esbuild; a few seconds). */
export async function bundleRecon(outfile: string): Promise<string> {
  await execa("node", [join(repoRoot, "scripts", "bundle.mjs"), outfile], { cwd: repoRoot, timeout: 120_000 });
  return outfile;
}

/**
 * `node [nodeArgs] <bundle> master <args>` inside `ns`; `dataDir`/`runDir` are the ones in `args`.
 * nodeArgs e.g. `--cpu-prof --cpu-prof-dir <dir>` (written when the master exits on SIGTERM).
 */
export function startBundledMasterInNetns(
  ns: string,
  bundle: string,
  args: string[],
  dirs: { dataDir: string; runDir: string },
  nodeArgs: string[] = [],
): MasterProcess {
  let log = "";
  let exited = false;
  const [command, ...rest] = netnsExecArgv(ns, ["node", ...nodeArgs, bundle, "master", ...args]);
  const child = execa(command!, rest, { reject: false, all: true, cwd: repoRoot });
  child.all?.on("data", (chunk: Buffer) => {
    log += chunk.toString("utf8");
  });
  void child.then(() => {
    exited = true;
  });
  return {
    child,
    log: () => log,
    exited: () => exited,
    subject: {
      name: `recon master, bundled (pid ${child.pid ?? "?"})`,
      exited: () => exited,
      tail: () => `${log.slice(-3000)}${exited ? `\n(exit code ${child.exitCode ?? "?"})` : ""}`,
    },
    async stop() {
      if (!exited) await stopChild(child, 10_000);
      const quiet = createLogger({}, { write: () => {} });
      const pid = recordedPid(await readFile(join(dirs.dataDir, "master.lock"), "utf8").catch(() => ""));
      if (pid !== undefined) await stopPid(pid, "node");
      await stopLeftover(join(dirs.runDir, "nginx.pid"), "nginx", quiet);
      await stopLeftover(join(dirs.runDir, "dnsmasq.pid"), "dnsmasq", quiet);
      await stopLeftover(join(dirs.runDir, "nbd", "nbd-server.pid"), "nbd-server", quiet);
    },
  };
}
