/**
 * The master's side of the peer workload: `<data dir>/workload/` (manifest.json + scripts, on the
 * stick next to site.yaml) is validated and packed into `<run dir>/post.tgz` at start, served as
 * /post.tgz. A broken workload is logged loudly with what to fix and not served: peers then run
 * recon's own collectors, and the fleet's inventory is still taken.
 */
import { access, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { create } from "tar";
import type { Logger } from "../lib/log.js";
import { parseWorkloadManifest } from "../model/workload-manifest.js";

export async function prepareWorkload(dataDir: string, runDir: string, log: Logger): Promise<string | undefined> {
  const dir = join(dataDir, "workload");
  const manifestPath = join(dir, "manifest.json");
  const text = await readFile(manifestPath, "utf8").catch(() => undefined);
  if (text === undefined) {
    log.info("no peer workload; peers run recon's own collectors", { hint: `put manifest.json (and scripts) in ${dir} to add collectors` });
    return undefined;
  }
  try {
    const manifest = parseWorkloadManifest(text, manifestPath);
    for (const collector of manifest.collectors) {
      const program = collector.argv[0]!;
      if (program.startsWith("./"))
        await access(join(dir, program)).catch(() => {
          throw new Error(`${manifestPath}: collectors.${collector.id} runs ${program}, which is not in ${dir}`);
        });
    }
    const out = join(runDir, "post.tgz");
    const entries = (await readdir(dir)).sort();
    await create({ gzip: true, file: out, cwd: dir, portable: true, mtime: new Date(0) }, entries);
    log.info("peer workload ready", { collectors: manifest.collectors.map((c) => c.id).join(","), builtin: manifest.builtin_collectors, file: out });
    return out;
  } catch (error) {
    log.error("PEER WORKLOAD NOT SERVED: fix it and restart the master", { error: (error as Error).message, hint: "see docs/workload.md" });
    return undefined;
  }
}
