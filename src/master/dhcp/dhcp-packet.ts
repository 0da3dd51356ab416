/**
 * The DHCP packet codec shared by the probe (probe.ts) and the HTTP-boot responder
 * (http-boot-proxy.ts): BOOTP header and options in, bytes out, and back. Pure: no sockets.
 * Layout and options: RFC 2131 §2 (BOOTP header), RFC 2132 (options), RFC 4578 (93/94/97),
 * RFC 1542 (minimum size), RFC 3396 (repeated options).
 */
import { ReconError } from "../../lib/errors.js";

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
/** RFC 2131 §3: 99.130.83.99 opens the options field. */
export const MAGIC_COOKIE = 0x63825363;
/** RFC 2131 §2: op, htype … file, before the cookie. */
const FIXED_HEADER_BYTES = 236;
/** RFC 1542 §2.1: some relays and servers drop BOOTP messages shorter than 300 octets. */
const MIN_BOOTP_BYTES = 300;

export const DHCP_MESSAGE_TYPES: Record<number, string> = {
  1: "DISCOVER",
  2: "OFFER",
  3: "REQUEST",
  4: "DECLINE",
  5: "ACK",
  6: "NAK",
  7: "RELEASE",
  8: "INFORM",
};

export const OPTION = {
  pad: 0,
  subnetMask: 1,
  router: 3,
  hostname: 12,
  vendorSpecific: 43,
  requestedAddress: 50,
  leaseTime: 51,
  overload: 52,
  messageType: 53,
  serverId: 54,
  parameterList: 55,
  maxMessageSize: 57,
  vendorClass: 60,
  clientId: 61,
  tftpServerName: 66,
  bootfileName: 67,
  clientArch: 93,
  clientNdi: 94,
  clientMachineId: 97,
  end: 255,
} as const;

export interface DiscoverSpec {
  mac: string;
  /** 32-bit transaction id. */
  xid: number;
  /** Option 60; undefined leaves it out. */
  vendorClass?: string | undefined;
  /** Option 93 (RFC 4578): 0 BIOS, 7 x86-64 UEFI; undefined leaves 93 and 94 out. */
  clientArch?: number | undefined;
  /** Option 55. */
  parameterList?: readonly number[] | undefined;
}

export function macToBytes(mac: string): Buffer {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) throw new ReconError("USAGE", `MAC "${mac}" is not aa:bb:cc:dd:ee:ff`);
  return Buffer.from(mac.split(":").map((part) => parseInt(part, 16)));
}

export function bytesToMac(bytes: Buffer): string {
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join(":");
}

export function ipv4(bytes: Buffer, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

export function option(code: number, value: Buffer | readonly number[]): Buffer {
  const data = Buffer.isBuffer(value) ? value : Buffer.from(value);
  if (data.length > 255) throw new Error(`DHCP option ${code} is longer than 255 bytes`);
  return Buffer.concat([Buffer.from([code, data.length]), data]);
}

/** Header, magic cookie, options and the end option, padded to 300 bytes (RFC 1542). */
function assemble(header: Buffer, options: readonly Buffer[]): Buffer {
  const cookie = Buffer.alloc(4);
  cookie.writeUInt32BE(MAGIC_COOKIE, 0);
  const packet = Buffer.concat([header, cookie, ...options, Buffer.from([OPTION.end])]);
  return packet.length >= MIN_BOOTP_BYTES ? packet : Buffer.concat([packet, Buffer.alloc(MIN_BOOTP_BYTES - packet.length)]);
}

/** The DHCPDISCOVER as bytes: RFC 2131 §4.4.1, broadcast flag set, padded to 300 (RFC 1542). */
export function buildDhcpDiscover(spec: DiscoverSpec): Buffer {
  const header = Buffer.alloc(FIXED_HEADER_BYTES);
  const mac = macToBytes(spec.mac);
  header[0] = 1; // op: BOOTREQUEST
  header[1] = 1; // htype: Ethernet (RFC 1700 ARP hardware types)
  header[2] = 6; // hlen
  header[3] = 0; // hops
  header.writeUInt32BE(spec.xid >>> 0, 4);
  header.writeUInt16BE(0, 8); // secs
  // RFC 2131 §4.1: a client that cannot receive unicast before it has an address sets the
  // BROADCAST bit, so servers answer to 255.255.255.255 and a socket on 0.0.0.0:68 hears them.
  header.writeUInt16BE(0x8000, 10);
  // ciaddr, yiaddr, siaddr, giaddr stay 0.0.0.0; chaddr is the MAC padded to 16; sname/file empty.
  mac.copy(header, 28);

  const options = [
    option(OPTION.messageType, [1]),
    // RFC 2132 §9.14: client identifier = hardware type followed by the hardware address.
    option(OPTION.clientId, Buffer.concat([Buffer.from([1]), mac])),
    option(OPTION.maxMessageSize, [0x05, 0xc0]), // 1472: fits one Ethernet frame with headers
    option(
      OPTION.parameterList,
      spec.parameterList ?? [
        OPTION.subnetMask,
        OPTION.router,
        OPTION.vendorSpecific,
        OPTION.serverId,
        OPTION.vendorClass,
        OPTION.tftpServerName,
        OPTION.bootfileName,
      ],
    ),
  ];
  if (spec.vendorClass !== undefined) options.push(option(OPTION.vendorClass, Buffer.from(spec.vendorClass, "ascii")));
  if (spec.clientArch !== undefined) {
    options.push(option(OPTION.clientArch, [(spec.clientArch >> 8) & 255, spec.clientArch & 255]));
    // RFC 4578 §2.2: UNDI interface type 1, version 2.1.
    options.push(option(OPTION.clientNdi, [1, 2, 1]));
  }
  return assemble(header, options);
}

export interface DhcpPacket {
  op: number;
  /** Hardware type (1 Ethernet) and address length (6), as the sender wrote them. */
  htype: number;
  hlen: number;
  xid: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  chaddr: string;
  sname: string;
  file: string;
  /** Option 53, e.g. 2 (OFFER); undefined for plain BOOTP. */
  messageType: number | undefined;
  /** Every option by code; repeated codes are concatenated (RFC 3396). */
  options: Map<number, Buffer>;
}

export type ParseResult = { ok: true; packet: DhcpPacket } | { ok: false; reason: string };

function zeroTerminated(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end < 0 ? bytes.length : end).toString("latin1");
}

function readOptions(bytes: Buffer, into: Map<number, Buffer>): string | undefined {
  let index = 0;
  while (index < bytes.length) {
    const code = bytes[index]!;
    if (code === OPTION.pad) {
      index += 1;
      continue;
    }
    if (code === OPTION.end) return undefined;
    if (index + 1 >= bytes.length) return `option ${code} has no length byte`;
    const length = bytes[index + 1]!;
    if (index + 2 + length > bytes.length) return `option ${code} runs past the end of the packet`;
    const value = bytes.subarray(index + 2, index + 2 + length);
    const previous = into.get(code);
    into.set(code, previous ? Buffer.concat([previous, value]) : Buffer.from(value));
    index += 2 + length;
  }
  // RFC 2131 §3 wants an end option, but the packet is usable without one.
  return undefined;
}

/** Parses any BOOTP/DHCP message; a malformed one gives a reason instead of throwing. */
export function parseDhcpPacket(bytes: Buffer): ParseResult {
  if (bytes.length < FIXED_HEADER_BYTES + 4) return { ok: false, reason: `${bytes.length} bytes is shorter than a BOOTP header` };
  if (bytes.readUInt32BE(FIXED_HEADER_BYTES) !== MAGIC_COOKIE) return { ok: false, reason: "no DHCP magic cookie" };
  const hlen = Math.min(bytes[2]!, 16);
  const options = new Map<number, Buffer>();
  const problem = readOptions(bytes.subarray(FIXED_HEADER_BYTES + 4), options);
  if (problem) return { ok: false, reason: problem };
  const snameBytes = bytes.subarray(44, 108);
  const fileBytes = bytes.subarray(108, 236);
  // RFC 2132 §9.3: option 52 says the file (1), sname (2) or both (3) fields hold more options.
  const overload = options.get(OPTION.overload)?.[0] ?? 0;
  if (overload & 1) {
    const more = readOptions(fileBytes, options);
    if (more) return { ok: false, reason: `file field: ${more}` };
  }
  if (overload & 2) {
    const more = readOptions(snameBytes, options);
    if (more) return { ok: false, reason: `sname field: ${more}` };
  }
  const messageType = options.get(OPTION.messageType)?.[0];
  return {
    ok: true,
    packet: {
      op: bytes[0]!,
      htype: bytes[1]!,
      hlen: bytes[2]!,
      xid: bytes.readUInt32BE(4),
      flags: bytes.readUInt16BE(10),
      ciaddr: ipv4(bytes, 12),
      yiaddr: ipv4(bytes, 16),
      siaddr: ipv4(bytes, 20),
      giaddr: ipv4(bytes, 24),
      chaddr: bytesToMac(bytes.subarray(28, 28 + hlen)),
      sname: overload & 2 ? "" : zeroTerminated(snameBytes),
      file: overload & 1 ? "" : zeroTerminated(fileBytes),
      messageType,
      options,
    },
  };
}

/** RFC 2131 §2: the BOOTP file field is 128 octets, so it holds at most 127 characters and a NUL. */
const FILE_FIELD_BYTES = 128;

export function ipv4ToBytes(address: string): Buffer {
  const parts = address.split(".");
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255)) {
    throw new ReconError("USAGE", `IPv4 address "${address}" is not four numbers 0-255 separated by dots`);
  }
  return Buffer.from(parts.map(Number));
}

/**
 * Option 93 (RFC 4578 §2.1): one or more 16-bit architecture types, the client's preferred
 * first. Undefined when the option is missing or not a whole number of 16-bit values.
 */
export function clientArchitectures(packet: DhcpPacket): number[] | undefined {
  const value = packet.options.get(OPTION.clientArch);
  if (value === undefined || value.length === 0 || value.length % 2 !== 0) return undefined;
  const arches: number[] = [];
  for (let offset = 0; offset < value.length; offset += 2) arches.push(value.readUInt16BE(offset));
  return arches;
}

/** Option 60 as text, undefined when absent. */
export function vendorClass(packet: DhcpPacket): string | undefined {
  return packet.options.get(OPTION.vendorClass)?.toString("latin1");
}

export interface ProxyReplySpec {
  /** The responder's own IPv4 address: siaddr and option 54. */
  serverAddress: string;
  /** The boot URI; in the file field when it fits (127 bytes), else in option 67. */
  url: string;
}

/**
 * The proxy DHCPOFFER an EDK2 HTTP-boot client accepts beside a site server's address offer
 * (UEFI 2.x §24.7, EDK2 NetworkPkg/HttpBootDxe HttpBootParseDhcp4Packet: yiaddr 0 makes it a
 * proxy offer, option 60 "HTTPClient" an HTTP offer, the URI comes from option 67 or the file
 * field): op 2, the request's xid, chaddr and flags with BROADCAST set, yiaddr 0, siaddr the
 * server, options 53=OFFER, 54, 60 "HTTPClient", 97 copied when the request carried it, end.
 * EDK2's DHCP driver drops an offer without option 54 (Dhcp4Io.c DhcpHandleSelect).
 */
export function buildHttpBootProxyOffer(request: DhcpPacket, spec: ProxyReplySpec): Buffer {
  const url = Buffer.from(spec.url, "ascii");
  if (url.length > 255) throw new ReconError("USAGE", `HTTP boot URL is ${url.length} bytes; a DHCP option holds at most 255`);
  const chaddr = Buffer.from(request.chaddr.replace(/:/g, ""), "hex");
  if (chaddr.length > 16) throw new ReconError("USAGE", `chaddr ${request.chaddr} is longer than 16 bytes`);
  const header = Buffer.alloc(FIXED_HEADER_BYTES);
  header[0] = 2; // op: BOOTREPLY
  header[1] = request.htype;
  header[2] = request.hlen;
  header[3] = 0; // hops
  header.writeUInt32BE(request.xid >>> 0, 4);
  header.writeUInt16BE(0, 8); // secs
  // RFC 2131 §4.1: the client has no address yet; the reply goes to 255.255.255.255 either way.
  header.writeUInt16BE((request.flags | 0x8000) & 0xffff, 10);
  // ciaddr, yiaddr and giaddr stay 0.0.0.0: no address from us, and relayed requests are not answered.
  ipv4ToBytes(spec.serverAddress).copy(header, 20);
  chaddr.copy(header, 28);
  const inFileField = url.length < FILE_FIELD_BYTES;
  if (inFileField) url.copy(header, 108);

  const options = [
    option(OPTION.messageType, [2]),
    option(OPTION.serverId, ipv4ToBytes(spec.serverAddress)),
    option(OPTION.vendorClass, Buffer.from("HTTPClient")),
  ];
  if (!inFileField) options.push(option(OPTION.bootfileName, url));
  const machineId = request.options.get(OPTION.clientMachineId);
  if (machineId !== undefined) options.push(option(OPTION.clientMachineId, machineId));
  return assemble(header, options);
}
