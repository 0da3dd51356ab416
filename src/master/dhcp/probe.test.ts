import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildDhcpDiscover, OPTION, parseDhcpPacket, summarizeReply, type DhcpPacket } from "./probe.js";

const fixtures = join(import.meta.dirname, "../../../test/fixtures/dhcp");
const fixture = (name: string) => Buffer.from(readFileSync(join(fixtures, name), "utf8").replace(/\s+/g, ""), "hex");

function parsed(bytes: Buffer): DhcpPacket {
  const result = parseDhcpPacket(bytes);
  if (!result.ok) throw new Error(result.reason);
  return result.packet;
}

describe("buildDhcpDiscover", () => {
  const bytes = buildDhcpDiscover({ mac: "52:54:00:AA:00:01", xid: 0xdeadbeef, vendorClass: "PXEClient:Arch:00000:UNDI:002001", clientArch: 0 });

  it("writes the BOOTP header of RFC 2131 §2", () => {
    expect(bytes.length).toBeGreaterThanOrEqual(300); // RFC 1542 minimum
    expect([...bytes.subarray(0, 4)]).toEqual([1, 1, 6, 0]); // BOOTREQUEST, Ethernet, hlen 6, hops 0
    expect(bytes.readUInt32BE(4)).toBe(0xdeadbeef);
    expect(bytes.readUInt16BE(10)).toBe(0x8000); // broadcast flag
    expect(bytes.subarray(12, 28).every((b) => b === 0)).toBe(true); // ciaddr yiaddr siaddr giaddr
    expect(bytes.subarray(28, 34).toString("hex")).toBe("525400aa0001");
    expect(bytes.subarray(34, 236).every((b) => b === 0)).toBe(true); // chaddr padding, sname, file
    expect(bytes.readUInt32BE(236)).toBe(0x63825363);
  });

  it("carries 53=1, 61, 55, 60, 93, 94 and ends with 255", () => {
    const packet = parsed(bytes);
    expect(packet.messageType).toBe(1);
    expect(packet.options.get(OPTION.clientId)?.toString("hex")).toBe("01525400aa0001");
    expect([...packet.options.get(OPTION.parameterList)!]).toEqual([1, 3, 43, 54, 60, 66, 67]);
    expect(packet.options.get(OPTION.vendorClass)?.toString()).toBe("PXEClient:Arch:00000:UNDI:002001");
    expect([...packet.options.get(OPTION.clientArch)!]).toEqual([0, 0]);
    expect([...packet.options.get(OPTION.clientNdi)!]).toEqual([1, 2, 1]);
    const end = bytes.indexOf(255, 240);
    expect(bytes.subarray(end + 1).every((b) => b === 0)).toBe(true);
  });

  it("asks what busybox udhcpc asks in the same role (captured DISCOVER)", () => {
    const udhcpc = parsed(fixture("discover-udhcpc-bios.hex"));
    const ours = parsed(buildDhcpDiscover({ mac: udhcpc.chaddr, xid: udhcpc.xid, vendorClass: "PXEClient:Arch:00000:UNDI:002001", clientArch: 0 }));
    expect(udhcpc.op).toBe(1);
    expect(ours.op).toBe(udhcpc.op);
    expect(ours.messageType).toBe(udhcpc.messageType);
    expect(ours.chaddr).toBe(udhcpc.chaddr);
    for (const code of [OPTION.clientId, OPTION.vendorClass, OPTION.clientArch]) {
      expect(ours.options.get(code)?.toString("hex"), `option ${code}`).toBe(udhcpc.options.get(code)?.toString("hex"));
    }
  });

  it("leaves 60, 93 and 94 out when not asked", () => {
    const packet = parsed(buildDhcpDiscover({ mac: "52:54:00:00:00:01", xid: 1 }));
    expect(packet.options.has(OPTION.vendorClass)).toBe(false);
    expect(packet.options.has(OPTION.clientArch)).toBe(false);
    expect(buildDhcpDiscover({ mac: "52:54:00:00:00:01", xid: 1 }).length).toBe(300); // padded (RFC 1542)
  });

  it("refuses a malformed MAC", () => {
    expect(() => buildDhcpDiscover({ mac: "52:54:00:00:01", xid: 1 })).toThrow(/MAC/);
  });
});

describe("parseDhcpPacket + summarizeReply on dnsmasq 2.90 replies", () => {
  it.each([
    [
      "offer-authoritative-bios.hex",
      { serverId: "10.77.0.1", offeredAddress: "10.77.0.185", proxy: false, pxe: false, bootFile: "undionly.kpxe", nextServer: "10.77.0.1" },
    ],
    [
      "offer-authoritative-efi64.hex",
      { serverId: "10.77.0.1", offeredAddress: "10.77.0.185", proxy: false, pxe: false, bootFile: "ipxe.efi", nextServer: "10.77.0.1" },
    ],
    ["offer-proxy-bios.hex", { serverId: "10.77.0.1", offeredAddress: undefined, proxy: true, pxe: true, bootFile: "undionly.kpxe", nextServer: "10.77.0.1" }],
    // dnsmasq gives UEFI clients their file on port 4011 only (pxe_uefi_workaround).
    ["offer-proxy-efi64.hex", { serverId: "10.77.0.1", offeredAddress: undefined, proxy: true, pxe: true, bootFile: undefined, nextServer: "10.77.0.1" }],
    [
      "offer-foreign-plain.hex",
      { serverId: "10.77.0.2", offeredAddress: "10.77.0.70", proxy: false, pxe: false, bootFile: undefined, nextServer: "10.77.0.2" },
    ],
  ])("%s", (name, expected) => {
    const packet = parsed(fixture(name));
    expect(packet.op).toBe(2);
    expect(packet.messageType).toBe(2);
    expect(packet.chaddr).toBe("52:54:00:aa:00:01");
    expect(summarizeReply(packet, expected.serverId)).toMatchObject({ messageType: "OFFER", ...expected });
  });

  it("reads the PXE vendor options (43) of a proxy offer", () => {
    const seen = summarizeReply(parsed(fixture("offer-proxy-bios.hex")), "10.77.0.1");
    // PXE 2.1 tag 6 (discovery control) is the first sub-option dnsmasq writes.
    expect(seen?.vendorOptionsHex?.startsWith("06")).toBe(true);
    expect(seen?.vendorOptionsHex?.endsWith("ff")).toBe(true);
  });

  it("falls back to the UDP source when option 54 is missing", () => {
    const bytes = fixture("offer-foreign-plain.hex");
    const at = bytes.indexOf(Buffer.from([OPTION.serverId, 4, 10, 77, 0, 2]), 240);
    expect(at).toBeGreaterThan(0);
    bytes[at] = 254; // a private-use option code instead of 54
    expect(summarizeReply(parsed(bytes), "10.9.9.9")?.serverId).toBe("10.9.9.9");
  });

  it("rejects short packets, a wrong cookie and options running past the end", () => {
    expect(parseDhcpPacket(Buffer.alloc(100))).toMatchObject({ ok: false });
    const noCookie = fixture("offer-foreign-plain.hex");
    noCookie.writeUInt32BE(0, 236);
    expect(parseDhcpPacket(noCookie)).toEqual({ ok: false, reason: "no DHCP magic cookie" });
    const truncated = Buffer.concat([fixture("offer-foreign-plain.hex").subarray(0, 240), Buffer.from([60, 40, 65])]);
    expect(parseDhcpPacket(truncated)).toMatchObject({ ok: false, reason: expect.stringMatching(/option 60/) });
  });

  it("reads options from the file field under option 52 overload (RFC 2132 §9.3)", () => {
    const bytes = Buffer.alloc(300);
    bytes[0] = 2;
    bytes[1] = 1;
    bytes[2] = 6;
    bytes.writeUInt32BE(0x63825363, 236);
    Buffer.from([53, 1, 2, 52, 1, 1, 255]).copy(bytes, 240);
    Buffer.from([67, 5, ...Buffer.from("a.efi"), 255]).copy(bytes, 108);
    const packet = parsed(bytes);
    expect(packet.file).toBe("");
    expect(packet.options.get(OPTION.bootfileName)?.toString()).toBe("a.efi");
  });

  it("ignores requests (op 1)", () => {
    expect(summarizeReply(parsed(fixture("discover-udhcpc-bios.hex")), "0.0.0.0")).toBeUndefined();
  });
});
