// ESLint 9 flat config: typescript-eslint's recommended rules (type-aware) on the TypeScript,
// plain recommended rules on the JavaScript (scripts, the browser UI), and eslint-config-prettier
// last so formatting is Prettier's alone. `make lint` runs it; `make test` runs it before the unit tier.
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  // Generated from static/ by src/review/ui/embed.ts; its freshness is embed.test.ts's job.
  { ignores: ["src/review/ui/embedded.ts", "dist/", "build/", "node_modules/", "test-results/"] },
  {
    files: ["src/**/*.ts", "test/**/*.ts", "bench/**/*.ts", "vitest.config.ts"],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: globals.node,
    },
    rules: {
      // `_name` marks a deliberately unused binding: an omitted key in `{ key: _key, ...rest }`, express's
      // four-argument error handler, a fake's ignored parameter.
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_", ignoreRestSiblings: true },
      ],
      // Interfaces return promises; an implementation (or a fake) that has nothing to await stays async so it
      // rejects instead of throwing synchronously.
      "@typescript-eslint/require-await": "off",
      // Control characters in a character class are the point: untrusted names and strings are checked for them.
      "no-control-regex": "off",
      // Parsers turn untrusted tool output into text with String() on purpose; any value, however odd, prints.
      "@typescript-eslint/no-base-to-string": "off",
    },
  },
  {
    // Tests and benchmarks read JSON bodies and poke into them; expect() is the check, not the type.
    files: ["**/*.test.ts", "test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-explicit-any": "off",
    },
  },
  {
    files: ["scripts/*.mjs", "test/**/*.mjs", "eslint.config.js"],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
  {
    // The review UI: one ES module served as is to the browser (no build step).
    files: ["src/review/ui/static/*.js"],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: "module", globals: globals.browser },
  },
  prettier,
);
