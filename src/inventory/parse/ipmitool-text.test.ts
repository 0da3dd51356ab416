import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseLanPrint, parseMcInfo, parsePowerControl, parsePowerStatus } from "./ipmitool-text.js";

const fixture = (name: string) => readFileSync(join(import.meta.dirname, "../../../test/fixtures/ipmi", name), "utf8");

describe("parsers on ipmi_sim outputs", () => {
  it("power status and power control", () => {
    expect(parsePowerStatus(fixture("ipmi-sim.power-status-on.txt"))).toBe("on");
    expect(parsePowerStatus(fixture("ipmi-sim.power-status-off.txt"))).toBe("off");
    expect(parsePowerStatus("garbage")).toBeUndefined();
    expect(parsePowerControl(fixture("ipmi-sim.power-on.txt"))).toBe("Up/On");
    expect(parsePowerControl(fixture("ipmi-sim.power-off.txt"))).toBe("Down/Off");
    expect(parsePowerControl(fixture("ipmi-sim.power-cycle.txt"))).toBe("Cycle");
  });

  it("lan print 1", () => {
    expect(parseLanPrint(fixture("ipmi-sim.lan-print-1.txt"))).toEqual({
      ipAddressSource: "Static Address",
      ipAddress: "10.99.0.10",
      subnetMask: "255.255.255.0",
      macAddress: "52:54:00:b0:00:01",
      defaultGatewayIp: undefined,
      vlanId: null,
      cipherSuites: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    });
  });

  it("mc info", () => {
    expect(parseMcInfo(fixture("ipmi-sim.mc-info.txt"))).toEqual({
      deviceId: 0,
      deviceRevision: 3,
      firmwareRevision: "9.08",
      ipmiVersion: "2.0",
      manufacturerId: 4753,
      manufacturerName: "MontaVista Software, Inc.",
      productId: 3842,
      productName: "Unknown (0xF02)",
      deviceAvailable: true,
      additionalDeviceSupport: ["Sensor Device", "SDR Repository Device", "SEL Device", "FRU Inventory Device", "IPMB Event Receiver", "Chassis Device"],
    });
  });
});
