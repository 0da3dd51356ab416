/**
 * fsync helpers every part of the store writes through: each successful sync is reported to
 * `onSync` (tests watch durability with it), and ensureDir makes new directory names survive.
 */
import { mkdir, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { fsyncDir } from "../../lib/atomic-write.js";

export interface Durable {
  syncDir(dir: string): Promise<void>;
  syncHandle(handle: FileHandle, path: string): Promise<void>;
  /** mkdir -p that fsyncs the parent of every directory it creates, so the new names survive. */
  ensureDir(dir: string): Promise<void>;
}

export function createDurable(onSync: ((path: string) => void) | undefined): Durable {
  const synced = (path: string) => onSync?.(path);
  const syncDir = async (dir: string) => {
    await fsyncDir(dir);
    synced(dir);
  };
  const syncHandle = async (handle: FileHandle, path: string) => {
    await handle.sync();
    synced(path);
  };
  const ensureDir = async (dir: string): Promise<void> => {
    const first = await mkdir(dir, { recursive: true });
    if (first === undefined) return;
    // `first` is the top-most directory created; each new name lives in its parent.
    for (let current = dir; ; current = dirname(current)) {
      await syncDir(dirname(current));
      if (current === first || current === dirname(current)) break;
    }
  };
  return { syncDir, syncHandle, ensureDir };
}
