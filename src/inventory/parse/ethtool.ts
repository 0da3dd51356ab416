/** `ethtool -i <if>` (driver, firmware) and `ethtool <if>` (speed, link) text. */
import { clean, keyValueLines, type Parsed } from "./common.js";

export interface EthtoolDriver {
  driver: string | null;
  version: string | null;
  firmware_version: string | null;
  bus_info: string | null;
}

export function parseEthtoolDriver(text: string, source: string): Parsed<EthtoolDriver> {
  const fields = keyValueLines(text);
  const errors = fields.has("driver") ? [] : [{ source, message: "no 'driver:' line in ethtool -i output" }];
  return {
    value: {
      driver: clean(fields.get("driver")),
      version: clean(fields.get("version")),
      firmware_version: clean(fields.get("firmware-version")),
      bus_info: clean(fields.get("bus-info")),
    },
    errors,
  };
}

export interface EthtoolSettings {
  speed_mbps: number | null;
  link: boolean | null;
}

export function parseEthtool(text: string, source: string): Parsed<EthtoolSettings> {
  const fields = keyValueLines(text.replace(/^Settings for [^\n]*\n/, ""));
  const speed = /^(\d+)\s*Mb\/s$/.exec(fields.get("Speed") ?? "");
  const link = fields.get("Link detected");
  const errors = fields.size === 0 ? [{ source, message: "no settings in ethtool output" }] : [];
  return {
    value: { speed_mbps: speed ? Number(speed[1]) : null, link: link === "yes" ? true : link === "no" ? false : null },
    errors,
  };
}
