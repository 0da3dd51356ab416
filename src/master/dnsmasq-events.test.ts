import { describe, expect, it } from "vitest";
import { EMPTY_FLEET, reduceFleet } from "../model/node-state.js";
import { parseDnsmasqLogLine } from "./dhcp/parse-dnsmasq-log.js";
import { nodeEventFromDnsmasq } from "./dnsmasq-events.js";

// Lines as recon's dnsmasq 2.90 wrote them in the proxy-firmware e2e (shim → GRUB, Secure Boot VM).
const LINES = [
  "dnsmasq-tftp[4711]: sent /var/tmp/recon-e2e-proxy-G9r2t2/run/tftp/shimx64.efi to 10.81.0.103",
  "dnsmasq-tftp[4711]: sent /var/tmp/recon-e2e-proxy-G9r2t2/run/tftp/grub/nodes/52:54:00:81:00:07.cfg to 10.81.0.103",
  "dnsmasq-tftp[4711]: sent /var/tmp/recon-e2e-proxy-G9r2t2/run/tftp/install/test/linux to 10.81.0.103",
];

describe("dnsmasq events of the GRUB chain", () => {
  it("GRUB's per-MAC file is its script: the node is known by MAC and IP even without a lease (proxy mode), then the kernel by TFTP", () => {
    const at = new Date("2026-12-02T01:22:59Z");
    const events = LINES.map((line) => nodeEventFromDnsmasq(parseDnsmasqLogLine(line)!, at));
    expect(events[1]).toEqual({ type: "script-served", at: at.toISOString(), mac: "52:54:00:81:00:07", ip: "10.81.0.103" });
    const fleet = events.reduce((state, event) => reduceFleet(state, event!), EMPTY_FLEET);
    // shim's line came before anything tied 10.81.0.103 to a MAC: it changes nothing.
    expect(Object.keys(fleet.nodes)).toEqual(["52:54:00:81:00:07"]);
    expect(fleet.nodes["52:54:00:81:00:07"]!.phase).toBe("kernel");
    expect(Object.keys(fleet.nodes["52:54:00:81:00:07"]!.phases)).toEqual(["ipxe", "kernel"]);
    // The kernel's path names the image (install/<label>/linux), as an HTTP kernel's URL does: the node
    // state says which image a GRUB-by-TFTP node booted (the lab e2e's Secure Boot peer on its second image).
    expect(events[2]).toMatchObject({ type: "tftp-sent", file: "linux", image: "test" });
    expect(fleet.nodes["52:54:00:81:00:07"]!.image).toBe("test");
  });
});
