/**
 * ipmitool's text outputs as data, pure: `chassis power status`, `chassis power <action>`, the
 * "Key : value" listings of `lan print` and `mc info`. The out-of-band power client
 * (src/ipmi/ipmitool.ts) and the in-band inventory (ipmitool.ts here) read the same parsers.
 * Fixtures: test/fixtures/ipmi/ (captured from ipmitool 1.8.19 against OpenIPMI's ipmi_sim).
 */

export type PowerState = "on" | "off";

/** `Chassis Power is on` → "on"; undefined when the text says neither. */
export function parsePowerStatus(stdout: string): PowerState | undefined {
  const match = /^Chassis Power is (on|off)\s*$/im.exec(stdout);
  return match ? (match[1]!.toLowerCase() as PowerState) : undefined;
}

/** `Chassis Power Control: Up/On` → "Up/On" (the BMC's acknowledgement of a power action). */
export function parsePowerControl(stdout: string): string | undefined {
  return /^Chassis Power Control:\s*(.+?)\s*$/im.exec(stdout)?.[1];
}

/**
 * ipmitool's `Key : value` listings, with continuation lines (`  : more` or indented values)
 * gathered under the last key. Keys keep their spelling; values are trimmed.
 */
export function parseColonListing(stdout: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  let last: string | undefined;
  for (const raw of stdout.split("\n")) {
    const line = raw.replace(/\r$/, "");
    if (!line.trim()) continue;
    const at = line.indexOf(":");
    const key = at >= 0 ? line.slice(0, at).trim() : "";
    const value = at >= 0 ? line.slice(at + 1).trim() : line.trim();
    if (key && !/^\s/.test(line)) {
      last = key;
      fields.set(key, value ? [value] : []);
    } else if (last !== undefined) {
      if (value) fields.get(last)!.push(value);
    }
  }
  return fields;
}

export interface LanPrint {
  ipAddressSource: string | undefined;
  ipAddress: string | undefined;
  subnetMask: string | undefined;
  macAddress: string | undefined;
  defaultGatewayIp: string | undefined;
  /** null when 802.1q is disabled. */
  vlanId: number | null | undefined;
  cipherSuites: number[];
}

const first = (fields: Map<string, string[]>, key: string) => fields.get(key)?.[0];

export function parseLanPrint(stdout: string): LanPrint {
  const fields = parseColonListing(stdout);
  const vlan = first(fields, "802.1q VLAN ID");
  const suites = first(fields, "RMCP+ Cipher Suites");
  const nonZero = (ip: string | undefined) => (ip === undefined || ip === "0.0.0.0" ? undefined : ip);
  return {
    ipAddressSource: first(fields, "IP Address Source"),
    ipAddress: nonZero(first(fields, "IP Address")),
    subnetMask: nonZero(first(fields, "Subnet Mask")),
    macAddress: first(fields, "MAC Address")?.toLowerCase(),
    defaultGatewayIp: nonZero(first(fields, "Default Gateway IP")),
    vlanId: vlan === undefined ? undefined : /^\d+$/.test(vlan) ? Number(vlan) : null,
    cipherSuites: suites
      ? suites
          .split(",")
          .map((s) => Number(s.trim()))
          .filter((n) => Number.isInteger(n))
      : [],
  };
}

export interface McInfo {
  deviceId: number | undefined;
  deviceRevision: number | undefined;
  firmwareRevision: string | undefined;
  ipmiVersion: string | undefined;
  manufacturerId: number | undefined;
  manufacturerName: string | undefined;
  productId: number | undefined;
  productName: string | undefined;
  deviceAvailable: boolean | undefined;
  additionalDeviceSupport: string[];
}

export function parseMcInfo(stdout: string): McInfo {
  const fields = parseColonListing(stdout);
  const num = (key: string) => {
    const text = first(fields, key);
    const match = text === undefined ? null : /^(\d+)/.exec(text);
    return match ? Number(match[1]) : undefined;
  };
  const available = first(fields, "Device Available");
  return {
    deviceId: num("Device ID"),
    deviceRevision: num("Device Revision"),
    firmwareRevision: first(fields, "Firmware Revision"),
    ipmiVersion: first(fields, "IPMI Version"),
    manufacturerId: num("Manufacturer ID"),
    manufacturerName: first(fields, "Manufacturer Name"),
    productId: num("Product ID"),
    productName: first(fields, "Product Name"),
    deviceAvailable: available === undefined ? undefined : available === "yes",
    additionalDeviceSupport: fields.get("Additional Device Support") ?? [],
  };
}
