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

export { TIER_BUDGET_MIN, MAKE_TEST_E2E_END_MIN, tierDeadlineFor } from "./tier-deadline.js";

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
