import { describe, expect, it } from "vitest";
import { isReconError } from "./errors.js";
import { flagsOf, parseCommandFlags, type CommandFlagTable } from "./command-flags.js";

const options = {
  debug: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
  "data-dir": { type: "string", default: "/var/lib/tool" },
  out: { type: "string" },
  peers: { type: "string" },
} as const;
const table: CommandFlagTable<typeof options> = {
  program: "tool",
  options,
  common: ["debug", "help"],
  commands: { serve: ["data-dir"], collect: ["data-dir"], "collect now": ["out"], lab: ["peers"], version: [] },
};

function usageError(argv: string[]) {
  try {
    parseCommandFlags(argv, table);
  } catch (error) {
    return isReconError(error) ? { message: error.message, hint: error.hint, exitCode: error.exitCode } : error;
  }
  return undefined;
}

describe("parseCommandFlags", () => {
  it("takes the command's own flags, the common ones and the defaults", () => {
    const { values, positionals } = parseCommandFlags(["serve", "--data-dir", "/d", "--debug"], table);
    expect(positionals).toEqual(["serve"]);
    expect(values).toMatchObject({ "data-dir": "/d", debug: true, help: false });
    expect(parseCommandFlags(["serve"], table).values["data-dir"]).toBe("/var/lib/tool");
  });

  it("finds the command after a flag that takes a value", () => {
    expect(parseCommandFlags(["--data-dir", "serve", "serve"], table).positionals).toEqual(["serve"]);
  });

  it.each([
    [["serve", "--peers", "2"], "tool serve does not take --peers", "tool serve takes: --debug --help --data-dir; tool --help lists every command"],
    [["version", "--data-dir=/x"], "tool version does not take --data-dir", "tool version takes: --debug --help; tool --help lists every command"],
    [["--out", "f", "lab"], "tool lab does not take --out", "tool lab takes: --debug --help --peers; tool --help lists every command"],
    [["--peers", "2"], "tool does not take --peers", "tool takes: --debug --help; tool --help lists every command"],
  ])("%j is a usage error with a hint", (argv, message, hint) => {
    expect(usageError(argv)).toEqual({ message, hint, exitCode: 2 });
  });

  it("a flag no command knows is a usage error of the command too", () => {
    expect(usageError(["serve", "--bogus"])).toMatchObject({ message: "tool serve does not take --bogus", exitCode: 2 });
  });

  it("an action's own declaration wins over the command's", () => {
    expect(parseCommandFlags(["collect", "now", "--out", "f"], table).values.out).toBe("f");
    expect(usageError(["collect", "now", "--data-dir", "d"])).toMatchObject({ message: "tool collect now does not take --data-dir" });
    expect(usageError(["collect", "later", "--out", "f"])).toMatchObject({ message: "tool collect does not take --out" });
  });

  it("leaves an unknown command to the caller", () => {
    expect(flagsOf(table, ["frobnicate"])).toBeUndefined();
    expect(parseCommandFlags(["frobnicate", "--peers", "1"], table).positionals).toEqual(["frobnicate"]);
  });

  it("a missing value still fails as parseArgs does", () => {
    expect(() => parseCommandFlags(["serve", "--data-dir"], table)).toThrow(expect.objectContaining({ code: "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" }) as Error);
  });
});
