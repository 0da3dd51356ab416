/** setupFiles of every tier: a test that would start after the tier's deadline fails at once. */
import { beforeAll, beforeEach, inject } from "vitest";
import { tierDeadline } from "./tier-budget.js";

function guard(): void {
  const deadline = tierDeadline();
  if (Date.now() > deadline) {
    throw new Error(
      `the ${inject("tierName")} tier ran past its budget (deadline ${new Date(deadline).toISOString()}): not starting this; see docs/testing.md`,
    );
  }
}

beforeAll(guard);
beforeEach(guard);
