/** The master secret that signs peer tokens: <root>/secret, 32 random bytes, mode 600, created once. */
import { randomBytes } from "node:crypto";
import { link, open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { ReconError } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import type { Durable } from "./durable.js";

export async function loadOrCreateSecret(paths: { root: string; tmp: string }, durable: Durable, log: Logger): Promise<Buffer> {
  const path = join(paths.root, "secret");
  const read = async () => {
    const value = await readFile(path);
    if (value.length < 32) {
      throw new ReconError("IO", `the master secret ${path} is shorter than 32 bytes`, {
        hint: "delete it to make a new one (tokens already handed out stop working)",
      });
    }
    return value;
  };
  try {
    return await read();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  // Written and fsynced under tmp/, then linked into place: link() fails if another process
  // won the race, and a crash never leaves a short secret file behind.
  const temp = join(paths.tmp, `secret-${randomBytes(6).toString("hex")}`);
  const handle = await open(temp, "wx", 0o600);
  try {
    await handle.writeFile(randomBytes(32));
    await durable.syncHandle(handle, temp);
  } finally {
    await handle.close();
  }
  try {
    await link(temp, path);
    await durable.syncDir(paths.root);
    log.info("created the master secret");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    await rm(temp, { force: true });
  }
  return read();
}
