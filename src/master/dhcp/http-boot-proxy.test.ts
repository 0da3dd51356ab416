import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildHttpBootProxyOffer, OPTION, parseDhcpPacket, type DhcpPacket } from "./dhcp-packet.js";
import { planHttpBootReply, type HttpBootUrlFor } from "./http-boot-proxy.js";

const fixtures = join(import.meta.dirname, "../../../test/fixtures/dhcp");
function packet(name: string): DhcpPacket {
  const result = parseDhcpPacket(Buffer.from(readFileSync(join(fixtures, name), "utf8").replace(/\s+/g, ""), "hex"));
  if (!result.ok) throw new Error(result.reason);
  return result.packet;
}

const MASTER = "10.81.0.1";
const URL = "http://10.81.0.1:8080/boot/efi/shimx64.efi";
const httpDiscover = packet("discover-udhcpc-http-x64.hex");
const withOption = (code: number, value: Buffer | undefined): DhcpPacket => {
  const options = new Map(httpDiscover.options);
  if (value === undefined) options.delete(code);
  else options.set(code, value);
  return { ...httpDiscover, options, messageType: options.get(OPTION.messageType)?.[0] };
};
const everyone: HttpBootUrlFor = () => URL;

describe("planHttpBootReply", () => {
  it("answers an HTTP-boot DISCOVER with the proxy offer, asking urlFor with the arch and MAC", () => {
    const asked: [number, string][] = [];
    const plan = planHttpBootReply(httpDiscover, MASTER, (arch, mac) => (asked.push([arch, mac]), URL));
    expect(asked).toEqual([[16, "52:54:00:81:00:01"]]);
    expect(plan).toEqual({
      action: "answer",
      mac: "52:54:00:81:00:01",
      arch: 16,
      url: URL,
      reply: buildHttpBootProxyOffer(httpDiscover, { serverAddress: MASTER, url: URL }),
    });
  });

  it("answers Debian 12 OVMF's HTTPv4 DISCOVER and leaves its REQUEST to the site server", () => {
    const ovmf = packet("discover-ovmf-http-x64.hex");
    expect(planHttpBootReply(ovmf, "10.83.0.1", everyone)).toMatchObject({ action: "answer", mac: "52:54:00:83:00:20", arch: 16, url: URL });
    expect(planHttpBootReply(packet("request-ovmf-http-x64.hex"), "10.83.0.1", everyone)).toMatchObject({
      action: "ignore",
      reason: "REQUEST to 10.83.0.2, not a DISCOVER: only DISCOVERs get a proxy offer",
    });
  });

  it.each([
    ["a PXE ROM's DISCOVER (dnsmasq answers those)", packet("discover-udhcpc-bios.hex")],
    ["OVMF's UEFI PXEv4 DISCOVER", packet("discover-ovmf-pxe-x64.hex")],
    ["a server's offer", packet("offer-site-http-x64.hex")],
    ["a DISCOVER without option 60", withOption(OPTION.vendorClass, undefined)],
    ["a vendor class that only contains HTTPClient", withOption(OPTION.vendorClass, Buffer.from("MSFT HTTPClient"))],
  ])("stays silent on %s", (_name, request) => {
    expect(planHttpBootReply(request, MASTER, everyone)).toEqual({ action: "not-ours" });
  });

  it.each([
    [
      "a REQUEST (to the site server)",
      {
        ...withOption(OPTION.messageType, Buffer.from([3])),
        options: new Map([...withOption(OPTION.messageType, Buffer.from([3])).options, [OPTION.serverId, Buffer.from([10, 81, 0, 2])]]),
      },
      /^REQUEST to 10\.81\.0\.2, not a DISCOVER/,
    ],
    ["a DHCPINFORM", withOption(OPTION.messageType, Buffer.from([8])), /^INFORM, not a DISCOVER/],
    ["a relayed DISCOVER", { ...httpDiscover, giaddr: "10.9.0.1" }, /relayed by 10\.9\.0\.1/],
    ["a non-Ethernet chaddr", { ...httpDiscover, htype: 6 }, /not Ethernet/],
    ["no option 93", withOption(OPTION.clientArch, undefined), /no client architecture/],
    ["a PXE architecture (7, x64 UEFI PXE)", withOption(OPTION.clientArch, Buffer.from([0, 7])), /architecture 7 is not a UEFI HTTP-boot type/],
  ])("ignores %s with a reason", (_name, request, reason) => {
    const plan = planHttpBootReply(request, MASTER, everyone);
    expect(plan).toMatchObject({ action: "ignore", mac: "52:54:00:81:00:01", reason: expect.stringMatching(reason) });
  });

  it("ignores a machine urlFor has no URL for", () => {
    expect(planHttpBootReply(httpDiscover, MASTER, () => undefined)).toEqual({
      action: "ignore",
      mac: "52:54:00:81:00:01",
      arch: 16,
      reason: "no boot URL for this machine",
    });
  });

  it("answers ARM 64 HTTP clients (19) too, and leaves the choice to urlFor", () => {
    const arm = withOption(OPTION.clientArch, Buffer.from([0, 19]));
    expect(planHttpBootReply(arm, MASTER, (arch) => (arch === 16 ? URL : undefined))).toMatchObject({ action: "ignore", arch: 19 });
    expect(planHttpBootReply(arm, MASTER, everyone)).toMatchObject({ action: "answer", arch: 19 });
  });
});
