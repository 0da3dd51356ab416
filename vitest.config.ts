import { defineConfig } from "vitest/config";

// Three tiers: unit (pure code, next to it), integration (real tools: kiwi schema, dnsmasq in a
// netns, ...), e2e (real ISO build and qemu boots). `make test` runs all three in that order.
// Every tier has a wall-clock budget (test/helpers/tier-budget.ts); the timeouts below and the
// waits inside the tests are set from measured times, arithmetic in docs/testing.md.
const budget = { globalSetup: ["test/helpers/tier-budget-setup.ts"], setupFiles: ["test/helpers/tier-budget-guard.ts"] };
export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: ["src/**/*.test.ts"], ...budget } },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          ...budget,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          // A default only: every long e2e test sets its own timeout from its waits' bounds.
          testTimeout: 10 * 60_000,
          hookTimeout: 10 * 60_000,
          fileParallelism: false,
          ...budget,
        },
      },
    ],
  },
});
