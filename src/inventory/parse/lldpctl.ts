/**
 * `lldpctl -f json` → what each port's neighbour says. lldpd's JSON changes shape with the
 * count of things: one interface is an object, several are a list of one-key objects; a
 * chassis with a system name is keyed by that name, without one it is the bare object; "vlan"
 * is an object or a list. All shapes are accepted.
 */
import type { Lldp } from "../schema.js";
import { clean, isRecord, parseJson, toInt, type Parsed } from "./common.js";

const SOURCE = "raw/lldpctl.json";

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
}

/** {type, value} or a plain string → the value. */
function idValue(value: unknown): string | null {
  if (isRecord(value)) return clean(value.value);
  return clean(value);
}

function parseNeighbour(entry: Record<string, unknown>): Lldp {
  let chassisId: string | null = null;
  let systemName: string | null = null;
  const chassis = isRecord(entry.chassis) ? entry.chassis : {};
  if ("id" in chassis) {
    chassisId = idValue(chassis.id);
    systemName = clean(chassis.name);
  } else {
    const [name, body] = Object.entries(chassis)[0] ?? [];
    systemName = clean(name);
    if (isRecord(body)) chassisId = idValue(body.id);
  }
  const port = isRecord(entry.port) ? entry.port : {};
  const vlans = asList(entry.vlan).filter(isRecord);
  const vlan = vlans.find((candidate) => candidate.pvid === true || candidate.pvid === "yes") ?? vlans[0];
  return {
    chassis_id: chassisId,
    system_name: systemName,
    port_id: idValue(port.id),
    port_description: clean(port.descr),
    vlan: vlan ? toInt(vlan["vlan-id"]) : null,
  };
}

/** Interface name → its (first) LLDP neighbour. */
export function parseLldpctl(text: string): Parsed<Map<string, Lldp>> {
  const json = parseJson(text, SOURCE);
  const neighbours = new Map<string, Lldp>();
  if (!isRecord(json.value) || !isRecord(json.value.lldp)) {
    return { value: neighbours, errors: json.errors.length ? json.errors : [{ source: SOURCE, message: 'expected {"lldp": …}' }] };
  }
  for (const item of asList(json.value.lldp.interface)) {
    if (!isRecord(item)) continue;
    for (const [name, entry] of Object.entries(item)) {
      if (isRecord(entry) && !neighbours.has(name)) neighbours.set(name, parseNeighbour(entry));
    }
  }
  return { value: neighbours, errors: [] };
}
