import { describe, expect, it } from "vitest";
import { lockdownCommand } from "../../../test/fixtures/inventory/lockdown/sections.js";
import { parseLockdown } from "./lockdown.js";

describe("parseLockdown", () => {
  it("reads each form Debian 12's kernel wrote (lockdown=none, integrity, confidentiality)", () => {
    const file = (mode: "none" | "integrity" | "confidentiality") => lockdownCommand(mode, "cat /sys/kernel/security/lockdown").output;
    expect(file("none")).toBe("[none] integrity confidentiality\n");
    expect(parseLockdown(file("none"))).toEqual({ value: "none", errors: [] });
    expect(file("integrity")).toBe("none [integrity] confidentiality\n");
    expect(parseLockdown(file("integrity"))).toEqual({ value: "integrity", errors: [] });
    expect(file("confidentiality")).toBe("none integrity [confidentiality]\n");
    expect(parseLockdown(file("confidentiality"))).toEqual({ value: "confidentiality", errors: [] });
  });

  it("says so instead of guessing when no (or an unknown) mode is bracketed", () => {
    for (const text of ["", "none integrity confidentiality\n", "[paranoid] none\n", "[none] [integrity]\n"]) {
      const parsed = parseLockdown(text);
      expect(parsed.value, text).toBeNull();
      expect(parsed.errors, text).toHaveLength(1);
      expect(parsed.errors[0]?.source).toBe("raw/lockdown.txt");
    }
  });
});
