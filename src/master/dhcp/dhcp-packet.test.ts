import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildHttpBootProxyOffer, clientArchitectures, ipv4ToBytes, OPTION, parseDhcpPacket, vendorClass, type DhcpPacket } from "./dhcp-packet.js";

const fixtures = join(import.meta.dirname, "../../../test/fixtures/dhcp");
const fixture = (name: string) => Buffer.from(readFileSync(join(fixtures, name), "utf8").replace(/\s+/g, ""), "hex");
const hexLines = (bytes: Buffer) =>
  bytes
    .toString("hex")
    .replace(/(.{64})/g, "$1\n")
    .trim();

function parsed(bytes: Buffer): DhcpPacket {
  const result = parseDhcpPacket(bytes);
  if (!result.ok) throw new Error(result.reason);
  return result.packet;
}

const URL = "http://10.81.0.1:8080/boot/efi/shimx64.efi";

describe("parseDhcpPacket on an HTTP-boot DISCOVER (busybox udhcpc sending EDK2's options)", () => {
  const discover = parsed(fixture("discover-udhcpc-http-x64.hex"));

  it("reads the header", () => {
    expect(discover).toMatchObject({ op: 1, htype: 1, hlen: 6, xid: 0x6dd36d53, flags: 0, ciaddr: "0.0.0.0", giaddr: "0.0.0.0", chaddr: "52:54:00:81:00:01" });
    expect(discover.messageType).toBe(1);
  });

  it("reads options 60, 93, 94 and 97", () => {
    expect(vendorClass(discover)).toBe("HTTPClient:Arch:00016:UNDI:003001");
    expect(clientArchitectures(discover)).toEqual([16]);
    expect(discover.options.get(OPTION.clientNdi)?.toString("hex")).toBe("010301");
    expect(discover.options.get(OPTION.clientMachineId)?.toString("hex")).toBe("00a3c1f6d25e4b4f0c9b7d2e11f0a8c4d3");
  });
});

describe("parseDhcpPacket on Debian 12 OVMF's UEFI HTTPv4 DISCOVER and REQUEST (real firmware)", () => {
  const discover = parsed(fixture("discover-ovmf-http-x64.hex"));
  const request = parsed(fixture("request-ovmf-http-x64.hex"));

  it("reads EDK2 HttpBootDxe's options", () => {
    expect(discover).toMatchObject({ op: 1, htype: 1, hlen: 6, flags: 0x8000, chaddr: "52:54:00:83:00:20", messageType: 1 });
    expect(vendorClass(discover)).toBe("HTTPClient:Arch:00016:UNDI:003000");
    expect(clientArchitectures(discover)).toEqual([16]);
    expect(discover.options.get(OPTION.clientNdi)?.toString("hex")).toBe("010300");
    expect(discover.options.get(OPTION.clientMachineId)).toHaveLength(17);
    expect([...discover.options.keys()]).toEqual([53, 57, 55, 97, 94, 93, 60]);
  });

  it("requests the site server's address with the DISCOVER's xid", () => {
    expect(request).toMatchObject({ op: 1, messageType: 3, xid: discover.xid, chaddr: discover.chaddr });
    expect([...request.options.get(OPTION.serverId)!].join(".")).toBe("10.83.0.2");
    expect([...request.options.get(OPTION.requestedAddress)!].join(".")).toMatch(/^10\.83\.0\.1[0-5]\d$/);
  });
});

describe("parseDhcpPacket on a site server's offer to that client (dnsmasq 2.90, addresses only)", () => {
  const offer = parsed(fixture("offer-site-http-x64.hex"));

  it("offers an address and no HTTP boot", () => {
    expect(offer).toMatchObject({ op: 2, messageType: 2, yiaddr: "10.81.0.148", siaddr: "10.81.0.1", chaddr: "52:54:00:81:00:01", file: "", flags: 0x8000 });
    expect([...offer.options.get(OPTION.serverId)!]).toEqual([10, 81, 0, 1]);
    expect(vendorClass(offer)).toBeUndefined();
  });
});

describe("clientArchitectures", () => {
  const withArch = (value: number[]) => ({ ...parsed(fixture("discover-udhcpc-http-x64.hex")), options: new Map([[OPTION.clientArch, Buffer.from(value)]]) });

  it("reads a list, the preferred first, and refuses odd lengths", () => {
    expect(clientArchitectures(withArch([0, 16, 0, 7]))).toEqual([16, 7]);
    expect(clientArchitectures(withArch([0, 16, 0]))).toBeUndefined();
    expect(clientArchitectures(withArch([]))).toBeUndefined();
  });
});

describe("buildHttpBootProxyOffer", () => {
  const discover = parsed(fixture("discover-udhcpc-http-x64.hex"));
  const bytes = buildHttpBootProxyOffer(discover, { serverAddress: "10.81.0.1", url: URL });

  it("writes the whole packet", () => {
    expect(hexLines(bytes)).toMatchInlineSnapshot(`
      "020106006dd36d530000800000000000000000000a5100010000000052540081
      0001000000000000000000000000000000000000000000000000000000000000
      0000000000000000000000000000000000000000000000000000000000000000
      000000000000000000000000687474703a2f2f31302e38312e302e313a383038
      302f626f6f742f6566692f7368696d7836342e65666900000000000000000000
      0000000000000000000000000000000000000000000000000000000000000000
      0000000000000000000000000000000000000000000000000000000000000000
      0000000000000000000000006382536335010236040a5100013c0a4854545043
      6c69656e74611100a3c1f6d25e4b4f0c9b7d2e11f0a8c4d3ff00000000000000
      000000000000000000000000"
    `);
  });

  it("writes the whole answer to OVMF's DISCOVER", () => {
    const ovmf = parsed(fixture("discover-ovmf-http-x64.hex"));
    expect(hexLines(buildHttpBootProxyOffer(ovmf, { serverAddress: "10.83.0.1", url: "http://10.83.0.1:8080/shimx64.efi" }))).toMatchInlineSnapshot(`
      "02010600f4294dfd0000800000000000000000000a5300010000000052540083
      0020000000000000000000000000000000000000000000000000000000000000
      0000000000000000000000000000000000000000000000000000000000000000
      000000000000000000000000687474703a2f2f31302e38332e302e313a383038
      302f7368696d7836342e65666900000000000000000000000000000000000000
      0000000000000000000000000000000000000000000000000000000000000000
      0000000000000000000000000000000000000000000000000000000000000000
      0000000000000000000000006382536335010236040a5300013c0a4854545043
      6c69656e7461110000000000000000000000000000000000ff00000000000000
      000000000000000000000000"
    `);
  });

  it("is a proxy offer as EDK2's HttpBootParseDhcp4Packet reads one", () => {
    const offer = parsed(bytes);
    expect(offer).toMatchObject({ op: 2, htype: 1, hlen: 6, xid: discover.xid, chaddr: discover.chaddr, flags: 0x8000, yiaddr: "0.0.0.0", ciaddr: "0.0.0.0" });
    expect(offer).toMatchObject({ siaddr: "10.81.0.1", giaddr: "0.0.0.0", file: URL, messageType: 2 });
    expect([...offer.options.get(OPTION.serverId)!]).toEqual([10, 81, 0, 1]);
    expect(vendorClass(offer)).toBe("HTTPClient");
    expect(offer.options.get(OPTION.clientMachineId)).toEqual(discover.options.get(OPTION.clientMachineId));
    expect([...offer.options.keys()]).toEqual([OPTION.messageType, OPTION.serverId, OPTION.vendorClass, OPTION.clientMachineId]);
    expect(bytes.length).toBe(300); // RFC 1542 minimum
  });

  it("leaves 97 out when the request had none", () => {
    const bare = { ...discover, options: new Map([...discover.options].filter(([code]) => code !== OPTION.clientMachineId)) };
    expect(parsed(buildHttpBootProxyOffer(bare, { serverAddress: "10.81.0.1", url: URL })).options.has(OPTION.clientMachineId)).toBe(false);
  });

  it("puts a URL over 127 bytes in option 67 and refuses one over 255", () => {
    const long = `http://10.81.0.1/${"a".repeat(150)}.efi`;
    const offer = parsed(buildHttpBootProxyOffer(discover, { serverAddress: "10.81.0.1", url: long }));
    expect(offer.file).toBe("");
    expect(offer.options.get(OPTION.bootfileName)?.toString()).toBe(long);
    expect(() => buildHttpBootProxyOffer(discover, { serverAddress: "10.81.0.1", url: `http://x/${"a".repeat(250)}` })).toThrow(/255/);
  });

  it("keeps a 127-byte URL in the file field with its NUL", () => {
    const url = `http://10.81.0.1/${"b".repeat(110)}`;
    expect(url.length).toBe(127);
    const built = buildHttpBootProxyOffer(discover, { serverAddress: "10.81.0.1", url });
    expect(built[108 + 127]).toBe(0);
    expect(parsed(built).file).toBe(url);
  });
});

describe("ipv4ToBytes", () => {
  it("reads dotted quads and refuses anything else", () => {
    expect([...ipv4ToBytes("10.81.0.1")]).toEqual([10, 81, 0, 1]);
    for (const bad of ["10.81.0", "10.81.0.256", "a.b.c.d", "10.81.0.1.2", ""]) expect(() => ipv4ToBytes(bad), bad).toThrow(/IPv4/);
  });
});
