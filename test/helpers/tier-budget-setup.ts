/** globalSetup of every tier: fixes the tier's deadline (tier-budget.ts) once, when it starts. */
import type { TestProject } from "vitest/node";
import { tierDeadlineFor } from "./tier-budget.js";

export default function setup(project: TestProject): void {
  const name = project.name;
  project.provide("tierDeadline", tierDeadlineFor(name, Date.now(), process.env));
  project.provide("tierName", name);
}
