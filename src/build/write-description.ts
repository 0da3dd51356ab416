import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { DescriptionFile } from "./plan-description.js";

/** Apply step of the plan: replaces `dir` with exactly the planned files. */
export async function writeDescription(dir: string, files: DescriptionFile[]): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const file of files) {
    const path = join(dir, file.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, file.data, { mode: file.mode });
    await chmod(path, file.mode);
  }
}
