/** `ip -j link` and `ip -j addr` (iproute2 JSON) → Ethernet interfaces with MAC, carrier, IPv4. */
import { clean, isRecord, macOrNull, parseJson, type Parsed } from "./common.js";

export interface IpLink {
  name: string;
  mac_address: string | null;
  /** LOWER_UP in the flags: the kernel sees a carrier (only meaningful when the link is UP). */
  lower_up: boolean;
  up: boolean;
  operstate: string | null;
  /** Set for VLAN, bridge, bond… (only with `ip -d`): not a physical port. */
  kind: string | null;
  /** The lower device of a stacked interface (a VLAN's "link"): not a physical port. */
  parent: string | null;
}

export function parseIpLink(text: string, source = "raw/ip-link.json"): Parsed<IpLink[]> {
  const json = parseJson(text, source);
  if (!Array.isArray(json.value)) {
    return { value: [], errors: json.errors.length ? json.errors : [{ source, message: "expected a JSON list of links" }] };
  }
  const links: IpLink[] = [];
  for (const link of json.value) {
    if (!isRecord(link) || typeof link.ifname !== "string" || link.link_type !== "ether") continue;
    const flags = Array.isArray(link.flags) ? link.flags.filter((flag): flag is string => typeof flag === "string") : [];
    links.push({
      name: link.ifname,
      mac_address: macOrNull(link.address),
      lower_up: flags.includes("LOWER_UP"),
      up: flags.includes("UP"),
      operstate: clean(link.operstate),
      kind: isRecord(link.linkinfo) ? clean(link.linkinfo.info_kind) : null,
      parent: clean(link.link),
    });
  }
  // ip always lists at least lo; an empty list means the output is not what ip prints.
  return { value: links, errors: json.value.length === 0 ? [{ source, message: "no links in the list" }] : [] };
}

/** Interface name → its first global IPv4 address. */
export function parseIpAddr(text: string): Parsed<Map<string, string>> {
  const source = "raw/ip-addr.json";
  const json = parseJson(text, source);
  const addresses = new Map<string, string>();
  if (!Array.isArray(json.value)) {
    return { value: addresses, errors: json.errors.length ? json.errors : [{ source, message: "expected a JSON list of interfaces" }] };
  }
  for (const entry of json.value) {
    if (!isRecord(entry) || typeof entry.ifname !== "string" || !Array.isArray(entry.addr_info)) continue;
    const inet = (entry.addr_info as unknown[]).find((info) => isRecord(info) && info.family === "inet" && info.scope !== "host");
    if (isRecord(inet) && typeof inet.local === "string" && !addresses.has(entry.ifname)) addresses.set(entry.ifname, inet.local);
  }
  return { value: addresses, errors: json.value.length === 0 ? [{ source, message: "no interfaces in the list" }] : [] };
}
