/**
 * "Never a rogue DHCP server": before recon answers DHCP on a network it asks who already does.
 * A DHCPDISCOVER that looks like a PXE ROM's (so proxyDHCP servers answer too) goes out as a
 * broadcast; every DHCPOFFER that comes back within the timeout names a server.
 *
 * Pure: buildDhcpDiscover, parseDhcpPacket, summarizeReply. The socket edge is
 * probeForDhcpServers (node:dgram), run in tests only inside a network namespace.
 * Layout and options: RFC 2131 §2 (BOOTP header), RFC 2132 (options), RFC 4578 (93/94),
 * PXE 2.1 (a proxyDHCP offer carries option 60 "PXEClient" and no address).
 */
import { createSocket, type Socket } from "node:dgram";
import { randomInt } from "node:crypto";
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
  end: 255,
} as const;

/** What a legacy BIOS PXE ROM sends (RFC 4578 arch 0, UNDI 2.1), so proxyDHCP servers answer. */
export const PXE_BIOS_VENDOR_CLASS = "PXEClient:Arch:00000:UNDI:002001";

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

function bytesToMac(bytes: Buffer): string {
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join(":");
}

function ipv4(bytes: Buffer, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

function option(code: number, value: Buffer | readonly number[]): Buffer {
  const data = Buffer.isBuffer(value) ? value : Buffer.from(value);
  if (data.length > 255) throw new Error(`DHCP option ${code} is longer than 255 bytes`);
  return Buffer.concat([Buffer.from([code, data.length]), data]);
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

  const cookie = Buffer.alloc(4);
  cookie.writeUInt32BE(MAGIC_COOKIE, 0);
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
  const packet = Buffer.concat([header, cookie, ...options, Buffer.from([OPTION.end])]);
  return packet.length >= MIN_BOOTP_BYTES ? packet : Buffer.concat([packet, Buffer.alloc(MIN_BOOTP_BYTES - packet.length)]);
}

export interface DhcpPacket {
  op: number;
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

/** One server as a probe saw it. */
export interface DhcpServerSeen {
  /** Option 54, else the UDP source address. */
  serverId: string;
  /** Where the reply came from (a relay's address when giaddr is set). */
  sourceAddress: string;
  messageType: string;
  /** yiaddr; undefined when the server offers no address (proxyDHCP). */
  offeredAddress: string | undefined;
  /** Option 60 starts with "PXEClient": the server speaks PXE. */
  pxe: boolean;
  /** PXE 2.1 proxyDHCP: PXE options but no address. It cannot make a machine get a lease. */
  proxy: boolean;
  /** siaddr, when set. */
  nextServer: string | undefined;
  /** Option 67, else the BOOTP file field. */
  bootFile: string | undefined;
  /** Option 43 (PXE vendor options), hex. */
  vendorOptionsHex: string | undefined;
}

/** A reply as recon judges it; undefined for anything that is not an answer to a client. */
export function summarizeReply(packet: DhcpPacket, sourceAddress: string): DhcpServerSeen | undefined {
  if (packet.op !== 2) return undefined;
  const type = packet.messageType === undefined ? "BOOTREPLY" : (DHCP_MESSAGE_TYPES[packet.messageType] ?? `type-${packet.messageType}`);
  const serverIdBytes = packet.options.get(OPTION.serverId);
  const serverId = serverIdBytes && serverIdBytes.length === 4 ? ipv4(serverIdBytes) : sourceAddress;
  const vendorClass = packet.options.get(OPTION.vendorClass)?.toString("latin1");
  const pxe = vendorClass !== undefined && vendorClass.startsWith("PXEClient");
  const offeredAddress = packet.yiaddr === "0.0.0.0" ? undefined : packet.yiaddr;
  const bootFile = packet.options.get(OPTION.bootfileName)?.toString("latin1").replace(/\0+$/, "") || packet.file || undefined;
  const vendorOptions = packet.options.get(OPTION.vendorSpecific);
  return {
    serverId,
    sourceAddress,
    messageType: type,
    offeredAddress,
    pxe,
    proxy: pxe && offeredAddress === undefined,
    nextServer: packet.siaddr === "0.0.0.0" ? undefined : packet.siaddr,
    bootFile,
    vendorOptionsHex: vendorOptions?.toString("hex"),
  };
}

export interface ProbeOptions {
  /** The MAC written into chaddr; the interface's own or any unicast MAC. */
  mac: string;
  timeoutMs: number;
  /**
   * The address recon has on the interface to probe. The DISCOVER is sent from a socket bound to
   * it, so Linux picks that interface for 255.255.255.255 (without it the route table decides,
   * and a host with no default route cannot send the broadcast at all: ENETUNREACH).
   */
  interfaceAddress?: string | undefined;
  /** DISCOVERs sent, spread over the timeout (UDP may drop one). Default 2, at most 5. */
  attempts?: number | undefined;
  /** Default: a BIOS PXE ROM (arch 0), so proxyDHCP servers answer as well. */
  vendorClass?: string | undefined;
  clientArch?: number | undefined;
  /** Test hook: every reply's bytes, for fixtures. */
  onRawReply?: ((bytes: Buffer, from: string) => void) | undefined;
}

export interface ProbeResult {
  xid: number;
  /** One entry per server and message type, in the order they first answered. */
  servers: DhcpServerSeen[];
  /** Packets on port 68 that were not for this probe or did not parse. */
  ignored: number;
  durationMs: number;
}

function bindSocket(socket: Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.bind({ port, address, exclusive: true }, () => {
      socket.off("error", reject);
      resolve();
    });
  });
}

function probeError(error: unknown, where: string): ReconError {
  const code = (error as NodeJS.ErrnoException).code;
  const hint =
    code === "EADDRINUSE"
      ? "another DHCP client (dhclient, udhcpc, NetworkManager) holds UDP port 68 on this host; stop it or configure dhcp.mode explicitly"
      : code === "EACCES"
        ? "binding port 68 needs root (CAP_NET_BIND_SERVICE)"
        : code === "ENETUNREACH"
          ? "no route for 255.255.255.255: give the provisioning interface its address and pass interfaceAddress"
          : code === "EADDRNOTAVAIL"
            ? "interfaceAddress is not an address of this host (or of this network namespace)"
            : undefined;
  return new ReconError("COMMAND_FAILED", `DHCP probe: ${where}: ${(error as Error).message}`, { cause: error, ...(hint && { hint }) });
}

/**
 * Broadcasts DHCPDISCOVERs and collects every offer for `timeoutMs`. Needs root (port 68).
 * Only a client: it never answers anything and requests no lease, so it takes no address from
 * the servers it meets (an offer is not a lease, RFC 2131 §4.3.1).
 */
export async function probeForDhcpServers(options: ProbeOptions): Promise<ProbeResult> {
  const started = Date.now();
  const xid = randomInt(1, 0xffffffff);
  const discover = buildDhcpDiscover({
    mac: options.mac,
    xid,
    vendorClass: options.vendorClass ?? PXE_BIOS_VENDOR_CLASS,
    clientArch: options.clientArch ?? 0,
  });
  const attempts = Math.max(1, Math.min(options.attempts ?? 2, 5));
  const servers: DhcpServerSeen[] = [];
  let ignored = 0;

  // Replies to the broadcast bit go to 255.255.255.255:68, which Linux delivers only to a socket
  // bound to the wildcard address; the sender socket (bound to interfaceAddress) picks the route.
  const receiver = createSocket({ type: "udp4", reuseAddr: true });
  const sender = options.interfaceAddress === undefined ? receiver : createSocket({ type: "udp4", reuseAddr: true });
  const timers: NodeJS.Timeout[] = [];
  try {
    try {
      await bindSocket(receiver, DHCP_CLIENT_PORT, "0.0.0.0");
      if (sender !== receiver) await bindSocket(sender, DHCP_CLIENT_PORT, options.interfaceAddress!);
    } catch (error) {
      throw probeError(error, `cannot bind UDP port ${DHCP_CLIENT_PORT}`);
    }
    sender.setBroadcast(true);

    receiver.on("message", (bytes, remote) => {
      options.onRawReply?.(bytes, remote.address);
      const parsed = parseDhcpPacket(bytes);
      if (!parsed.ok || parsed.packet.xid !== xid || parsed.packet.chaddr !== options.mac.toLowerCase()) {
        ignored += 1;
        return;
      }
      const seen = summarizeReply(parsed.packet, remote.address);
      if (!seen) {
        ignored += 1;
        return;
      }
      if (!servers.some((s) => s.serverId === seen.serverId && s.messageType === seen.messageType)) servers.push(seen);
    });

    const send = () =>
      new Promise<void>((resolve, reject) => sender.send(discover, DHCP_SERVER_PORT, "255.255.255.255", (error) => (error ? reject(error) : resolve())));
    let sendFailure: unknown;
    const spacing = Math.floor(options.timeoutMs / (attempts + 1));
    for (let attempt = 1; attempt < attempts; attempt += 1) {
      timers.push(
        setTimeout(
          () =>
            void send().catch((error: unknown) => {
              sendFailure ??= error;
            }),
          spacing * attempt,
        ),
      );
    }
    try {
      await send();
    } catch (error) {
      throw probeError(error, "cannot broadcast DHCPDISCOVER");
    }
    await new Promise((resolve) => timers.push(setTimeout(resolve, options.timeoutMs)));
    if (sendFailure !== undefined && servers.length === 0) throw probeError(sendFailure, "cannot broadcast DHCPDISCOVER");
    return { xid, servers, ignored, durationMs: Date.now() - started };
  } finally {
    for (const timer of timers) clearTimeout(timer);
    receiver.close();
    if (sender !== receiver) sender.close();
  }
}
