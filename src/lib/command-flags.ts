/**
 * Flags declared per command: one table of flag definitions (node:util parseArgs options), and
 * for each command the names it takes. A flag the command does not take is a usage error (exit
 * 2) whose hint lists the ones it does, instead of being accepted and ignored.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ReconError } from "./errors.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

export interface CommandFlagTable<O extends Options> {
  /** Every flag any command takes, with its type and default. */
  options: O;
  /** Flags every command takes (--help, --debug). */
  common: readonly (keyof O & string)[];
  /** Per command ("agent") or command and action ("agent collect", tried first): the flags it takes. */
  commands: Record<string, readonly (keyof O & string)[]>;
  /** How the program calls itself in messages ("recon"). */
  program: string;
}

/** The flags `argv`'s command takes, or undefined for a command the table does not know. */
export function flagsOf<O extends Options>(
  table: CommandFlagTable<O>,
  positionals: readonly string[],
): { command: string; flags: readonly string[] } | undefined {
  const [command, action] = positionals;
  if (command === undefined) return { command: "", flags: table.common };
  const key = action !== undefined && table.commands[`${command} ${action}`] ? `${command} ${action}` : command;
  const own = table.commands[key];
  return own ? { command: key, flags: [...table.common, ...own] } : undefined;
}

/**
 * Parses argv against the whole table (types, defaults), then refuses any flag that the command
 * (the first positional, or the first two) does not declare. Unknown commands are left to the
 * caller, which knows what to say about them.
 */
export function parseCommandFlags<const O extends Options>(argv: string[], table: CommandFlagTable<O>) {
  // Pass 1, lenient: where the command is (a string flag before it takes a value) and which flags were given.
  const { tokens } = parseArgs({ args: argv, options: table.options, allowPositionals: true, strict: false, tokens: true });
  const positionals = tokens.flatMap((t) => (t.kind === "positional" ? [t.value] : []));
  const declared = flagsOf(table, positionals);
  if (declared) {
    for (const token of tokens) {
      if (token.kind !== "option" || declared.flags.includes(token.name)) continue;
      const where = declared.command === "" ? table.program : `${table.program} ${declared.command}`;
      const takes = declared.flags.map((name) => `--${name}`).join(" ");
      throw new ReconError("USAGE", `${where} does not take ${token.rawName}`, {
        hint: `${where} takes: ${takes}; ${table.program} --help lists every command`,
        exitCode: 2,
      });
    }
  }
  // Pass 2, strict: values typed and defaulted; a missing value or an unknown flag still fails here.
  return parseArgs({ args: argv, options: table.options, allowPositionals: true, strict: true });
}
