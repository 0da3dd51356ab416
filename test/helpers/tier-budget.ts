/**
 * Each vitest tier has a wall-clock budget (issue #9 item 8: `make test` ends, pass or fail,
 * within 75 minutes on 2 cores). The tier's globalSetup (tier-budget-setup.ts) fixes its deadline
 * when the tier starts; tier-budget-guard.ts fails every test that would start after it; and
 * `budgetMs` clamps a long wait to what is left, so the last wait of a tier that ran late times
 * out at the deadline instead of after its own bound. The arithmetic is in docs/testing.md.
 */
import { inject } from "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    /** Epoch ms after which this tier starts no more tests and no wait lasts longer. */
    tierDeadline: number;
    tierName: string;
  }
}

/** Minutes per tier; RECON_<TIER>_BUDGET_MIN overrides one (e.g. on a slower machine). */
// integration 11 (was 8): 35 files sequentially took 7.8 min on the clean-clone run of 2026-12-02 after #13/#14 added
// nbd-server, multi-image, agent-lldp-wait and node-timeline-api; e2e 47 (was 50) pays for it (docs/testing.md).
export const TIER_BUDGET_MIN: Record<string, number> = { unit: 2, integration: 11, e2e: 47 };

/** The tier's deadline; none (Infinity) outside vitest, e.g. in bench/. */
export function tierDeadline(): number {
  try {
    const deadline = inject("tierDeadline");
    return typeof deadline === "number" ? deadline : Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** `ms`, or the tier's remaining time when that is shorter (at least 5 s: a wait still looks once). */
export function budgetMs(ms: number): number {
  return Math.max(5_000, Math.min(ms, tierDeadline() - Date.now()));
}
