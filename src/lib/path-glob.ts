/**
 * Path globs for file lists (relative paths, "/"-separated): `**` as a whole segment is any number
 * of segments (none too), `*` any run inside one segment, `?` one character, `{a,b}` either.
 * Anchored at both ends. Small on purpose: the image diet's cut and needs lists are all it serves.
 */
export function globToRegExp(glob: string): RegExp {
  let out = "";
  let braces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      const wholeSegment = (i === 0 || glob[i - 1] === "/") && (i + 2 === glob.length || glob[i + 2] === "/");
      if (!wholeSegment) throw new Error(`path glob ${JSON.stringify(glob)}: ** must be a whole segment`);
      // "a/**/b" matches a/b and a/x/y/b; a trailing "a/**" matches everything below a.
      if (i + 2 === glob.length) out += ".*";
      else out += "(?:[^/]+/)*";
      i += 2; // also skips the "/" after "**"
    } else if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else if (c === "{") {
      braces++;
      out += "(?:";
    } else if (c === "}" && braces > 0) {
      braces--;
      out += ")";
    } else if (c === "," && braces > 0) out += "|";
    else out += c.replace(/[.+^$()|[\]\\]/g, "\\$&");
  }
  if (braces !== 0) throw new Error(`path glob ${JSON.stringify(glob)}: unbalanced braces`);
  return new RegExp(`^${out}$`);
}

/** One compiled matcher for many globs: true when any matches the path. */
export function matchAny(globs: readonly string[]): (path: string) => boolean {
  const patterns = globs.map(globToRegExp);
  return (path) => patterns.some((pattern) => pattern.test(path));
}
