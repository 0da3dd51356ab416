/**
 * Start-up recovery: everything under tmp/ is unfinished by construction (completed uploads were
 * renamed out), so it goes; and a torn last line of the event log is cut back.
 */
import { open, readdir, readFile, rm, truncate } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../../lib/log.js";
import type { Durable } from "./durable.js";

export interface RecoveryReport {
  /** Leftovers of interrupted work removed from tmp/. */
  removedTemp: string[];
  /** Bytes cut from the end of events.jsonl because the last line was incomplete. */
  truncatedEventBytes: number;
}

export async function recoverStore(paths: { tmp: string; events: string }, durable: Durable, log: Logger): Promise<RecoveryReport> {
  const removedTemp: string[] = [];
  for (const name of await readdir(paths.tmp)) {
    await rm(join(paths.tmp, name), { recursive: true, force: true });
    removedTemp.push(name);
  }
  if (removedTemp.length > 0) {
    await durable.syncDir(paths.tmp);
    log.warn("removed unfinished work from an earlier run", { count: removedTemp.length });
  }
  // A crash can cut the last append short; appending after a torn line would glue the next
  // event onto it, so cut back to the last complete line.
  let truncatedEventBytes = 0;
  const events = await readFile(paths.events).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  if (events !== undefined && events.length > 0 && events[events.length - 1] !== 0x0a) {
    const keep = events.lastIndexOf(0x0a) + 1;
    truncatedEventBytes = events.length - keep;
    await truncate(paths.events, keep);
    const handle = await open(paths.events, "r+");
    try {
      await durable.syncHandle(handle, paths.events);
    } finally {
      await handle.close();
    }
    log.warn("cut an incomplete last line from the event log", { bytes: truncatedEventBytes });
  }
  return { removedTemp, truncatedEventBytes };
}
