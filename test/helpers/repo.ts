import { join } from "node:path";

/** The repository root, for tests that run the project's own commands. */
export const repoRoot = join(import.meta.dirname, "..", "..");
export const reconBin = join(repoRoot, "bin", "recon");
