/**
 * Whether `path` can be reached with `mode` (default: it exists). A dangling symlink does not exist;
 * any error (missing, no permission along the path) is false: callers that must tell those apart
 * read the error themselves.
 */
import { access, constants } from "node:fs/promises";

export async function pathExists(path: string, mode: number = constants.F_OK): Promise<boolean> {
  return access(path, mode).then(
    () => true,
    () => false,
  );
}
