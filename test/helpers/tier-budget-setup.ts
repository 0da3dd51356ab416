/** globalSetup of every tier: fixes the tier's deadline (tier-budget.ts) once, when it starts. */
import type { TestProject } from "vitest/node";
import { TIER_BUDGET_MIN } from "./tier-budget.js";

export default function setup(project: TestProject): void {
  const name = project.name;
  const override = Number(process.env[`RECON_${name.toUpperCase()}_BUDGET_MIN`]);
  const minutes = Number.isFinite(override) && override > 0 ? override : (TIER_BUDGET_MIN[name] ?? 60);
  project.provide("tierDeadline", Date.now() + minutes * 60_000);
  project.provide("tierName", name);
}
