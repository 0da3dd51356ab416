/**
 * Can this host reach a recipe's package repositories? A quick probe with curl before kiwi runs,
 * so that an unreachable or moved repository is reported in seconds with its URL and how to point
 * the recipe at a mirror — instead of kiwi's "Repository … is invalid" deep in its log.
 * curl, not fetch: curl reads http_proxy/https_proxy from the environment (Node 18/20 fetch does not).
 * Argument builder, parser and hint are pure; only checkRepositories runs anything.
 */
import { ReconError } from "../lib/errors.js";
import type { Logger } from "../lib/log.js";
import type { CommandRunner, RunResult } from "../lib/run.js";
import type { Recipe } from "./recipe.js";
import type { ResolvedRepository } from "./render-config-xml.js";
import { ZYPPER_MIRROR_ENV } from "./sources.js";

export const PROBE_TIMEOUT_S = 10;

/** The file a repository of this type must serve; undefined when recon does not probe it. */
export function repositoryProbeUrl(repo: ResolvedRepository): string | undefined {
  if (repo.type !== "rpm-md" || !/^https?:\/\//.test(repo.url)) return undefined;
  // zypper reads rpm-md metadata from repodata/repomd.xml below the repository URL.
  return `${repo.url.replace(/\/+$/, "")}/repodata/repomd.xml`;
}

export function curlProbeArgs(url: string, timeoutS: number = PROBE_TIMEOUT_S): string[] {
  return [
    "--silent",
    "--show-error",
    // download.opensuse.org answers with a redirect to a mirror.
    "--location",
    "--connect-timeout",
    String(Math.min(timeoutS, 5)),
    "--max-time",
    String(timeoutS),
    "--output",
    "/dev/null",
    "--write-out",
    "%{http_code}",
    url,
  ];
}

export type ProbeOutcome = { ok: true } | { ok: false; reason: string };

/** curl's exit code, stderr and `%{http_code}` → reachable, or why not. Pure. */
export function parseCurlProbe(result: Pick<RunResult, "exitCode" | "stdout" | "stderr">): ProbeOutcome {
  const status = Number(result.stdout.trim());
  if (result.exitCode === 0 && status >= 200 && status < 300) return { ok: true };
  if (result.exitCode === 0) return { ok: false, reason: `HTTP ${status || result.stdout.trim()}` };
  // "curl: (7) Failed to connect to 127.0.0.1 port 9 after 0 ms: Couldn't connect to server"
  const message = result.stderr.trim().split("\n").pop()?.replace(/^curl: \(\d+\)\s*/, "");
  return { ok: false, reason: message || `curl exited with ${result.exitCode}` };
}

/** How to fix an unreachable repository of this recipe: the override, or the recipe file. */
export function unreachableRepositoryHint(recipe: Recipe): string {
  const file = `descriptions/${recipe.name}/recipe.json`;
  const base = recipe.mirrorBase
    ? `set ${ZYPPER_MIRROR_ENV}=http://<mirror>/<path> to a mirror of ${recipe.mirrorBase} (it replaces that prefix of every repository URL)`
    : `point the repositories' \`source\` in ${file} at a reachable mirror`;
  const notes = recipe.notes.length ? `; see the notes in ${file}` : "";
  return `check this host's network/proxy (http_proxy), or ${base}${notes}`;
}

export interface UnreachableRepository {
  alias: string;
  url: string;
  reason: string;
}

export function unreachableRepositoryError(recipe: Recipe, failures: UnreachableRepository[], context: string): ReconError {
  const lines = failures.map((f) => `  ${f.alias}: ${f.url} (${f.reason})`);
  return new ReconError(
    "REPOSITORY_UNREACHABLE",
    `${context}: ${failures.length === 1 ? "a package repository" : `${failures.length} package repositories`} of recipe ${recipe.name} cannot be reached:\n${lines.join("\n")}`,
    { hint: unreachableRepositoryHint(recipe), exitCode: 1 },
  );
}

/** Probes every probe-able repository at once (bounded by curl's --max-time); throws if any fails. */
export async function checkRepositories(
  recipe: Recipe,
  repositories: ResolvedRepository[],
  deps: { runner: CommandRunner; log: Logger; timeoutS?: number },
  context: string,
): Promise<void> {
  const probes = repositories.flatMap((repo) => {
    const url = repositoryProbeUrl(repo);
    return url ? [{ repo, url }] : [];
  });
  if (!probes.length) return;
  const started = Date.now();
  const outcomes = await Promise.all(
    probes.map(async ({ repo, url }) => {
      // curl's own --max-time bounds it; the runner's timeout is the backstop.
      const timeoutS = deps.timeoutS ?? PROBE_TIMEOUT_S;
      const result = await deps.runner.run("curl", curlProbeArgs(url, timeoutS), { timeoutMs: (timeoutS + 5) * 1000 });
      return { repo, url, outcome: parseCurlProbe(result) };
    }),
  );
  const failures = outcomes.flatMap(({ repo, outcome }) =>
    outcome.ok ? [] : [{ alias: repo.alias, url: repo.url, reason: outcome.reason }],
  );
  deps.log.info("repositories probed", {
    recipe: recipe.name,
    repositories: probes.length,
    unreachable: failures.length,
    ms: Date.now() - started,
  });
  if (failures.length) throw unreachableRepositoryError(recipe, failures, context);
}
