/**
 * <root>/state/events.jsonl: NodeEvents appended durably (group commit: events queued while an
 * fsync runs are written and synced together, so a burst of uploads costs one fsync of the log,
 * not one each), and read back in order to rebuild fleet state at start-up.
 */
import { open, readFile, type FileHandle } from "node:fs/promises";
import type { Logger } from "../../lib/log.js";
import type { NodeEvent } from "../../model/node-state.js";
import type { Durable } from "./durable.js";

export interface EventLog {
  append: (event: NodeEvent) => Promise<void>;
  read: () => Promise<NodeEvent[]>;
  /** Waits for appends in flight, then closes the file. */
  close: () => Promise<void>;
}

export function createEventLog(eventsPath: string, durable: Durable, log: Logger): EventLog {
  let eventsHandle: FileHandle | undefined;
  let queue: Array<{ line: string; resolve: () => void; reject: (error: unknown) => void }> = [];
  let flushing: Promise<void> | undefined;
  async function flushEvents(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        eventsHandle ??= await open(eventsPath, "a", 0o644);
        await eventsHandle.write(batch.map((item) => item.line).join(""));
        await durable.syncHandle(eventsHandle, eventsPath);
        for (const item of batch) item.resolve();
      } catch (error) {
        for (const item of batch) item.reject(error);
      }
    }
    flushing = undefined;
  }

  return {
    append(event) {
      return new Promise((resolve, reject) => {
        queue.push({ line: `${JSON.stringify(event)}\n`, resolve, reject });
        flushing ??= flushEvents();
      });
    },
    async read() {
      const text = await readFile(eventsPath, "utf8").catch((error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return "";
        throw error;
      });
      const events: NodeEvent[] = [];
      for (const [index, line] of text.split("\n").entries()) {
        if (line.trim() === "") continue;
        try {
          events.push(JSON.parse(line) as NodeEvent);
        } catch {
          log.warn("skipping an unreadable event line", { line: index + 1 });
        }
      }
      return events;
    },
    async close() {
      await flushing;
      await eventsHandle?.close();
      eventsHandle = undefined;
    },
  };
}
