/**
 * Reads the build host's apt sources (deb822 `.sources` and one-line `.list`) so that a recipe
 * can use `"source": "host-apt"`: the mirror the host already trusts, never one written into
 * this repository. Pure: text in, entries out.
 */
export interface AptSourceEntry {
  uri: string;
  suites: string[];
  components: string[];
  origin: string;
}

export function parseDeb822Sources(text: string, origin: string): AptSourceEntry[] {
  const entries: AptSourceEntry[] = [];
  const stanzas = text.split(/\n\s*\n/);
  for (const stanza of stanzas) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const raw of stanza.split("\n")) {
      if (raw.startsWith("#") || raw.trim() === "") continue;
      if (/^\s/.test(raw) && last) {
        fields.set(last, `${fields.get(last) ?? ""} ${raw.trim()}`);
        continue;
      }
      const match = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(raw);
      if (!match) continue;
      last = match[1]!.toLowerCase();
      fields.set(last, match[2]!.trim());
    }
    const types = (fields.get("types") ?? "").split(/\s+/);
    if (!types.includes("deb")) continue;
    if ((fields.get("enabled") ?? "yes").toLowerCase() === "no") continue;
    const uris = (fields.get("uris") ?? "").split(/\s+/).filter(Boolean);
    const suites = (fields.get("suites") ?? "").split(/\s+/).filter(Boolean);
    const components = (fields.get("components") ?? "").split(/\s+/).filter(Boolean);
    for (const uri of uris) entries.push({ uri, suites, components, origin });
  }
  return entries;
}

export function parseOneLineSources(text: string, origin: string): AptSourceEntry[] {
  const entries: AptSourceEntry[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line.startsWith("deb ")) continue;
    const words = line
      .slice(4)
      .replace(/\[[^\]]*\]/, "")
      .trim()
      .split(/\s+/);
    const [uri, suite, ...components] = words;
    if (!uri || !suite) continue;
    entries.push({ uri, suites: [suite], components, origin });
  }
  return entries;
}

/** The first host mirror that serves `suite`, without a trailing slash. */
export function findMirror(entries: AptSourceEntry[], suite: string): string | undefined {
  const entry = entries.find((e) => e.suites.includes(suite) && /^https?:\/\//.test(e.uri));
  return entry?.uri.replace(/\/+$/, "");
}
