/**
 * The kernel command line tokenizer. Pure: the text of /proc/cmdline in, key → values out. In
 * model/ because both the boot role (boot/cmdline.ts) and the site config's boot-menu overrides
 * (model/site-config.ts) read kernel arguments.
 */

/** Splits a kernel command line into key → values (a key may repeat: `console=`). */
export function parseCmdline(text: string): Map<string, string[]> {
  const args = new Map<string, string[]>();
  // The kernel allows double quotes around a value (`foo="a b"`); a word is otherwise unquoted.
  const words = text.trim().match(/(?:[^\s"]+|"[^"]*")+/g) ?? [];
  for (const word of words) {
    const eq = word.indexOf("=");
    const key = eq < 0 ? word : word.slice(0, eq);
    const value = eq < 0 ? "" : word.slice(eq + 1).replace(/^"(.*)"$/, "$1");
    const list = args.get(key) ?? [];
    list.push(value);
    args.set(key, list);
  }
  return args;
}

/** The last value of a key, as the kernel and dracut treat repeats. */
export function cmdlineValue(args: Map<string, string[]>, key: string): string | undefined {
  const values = args.get(key);
  return values === undefined ? undefined : values[values.length - 1];
}
