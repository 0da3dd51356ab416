/**
 * "Never a rogue DHCP server": before recon answers DHCP on a network it asks who already does.
 * A DHCPDISCOVER that looks like a PXE ROM's (so proxyDHCP servers answer too) goes out as a
 * broadcast; every DHCPOFFER that comes back within the timeout names a server.
 *
 * Pure: summarizeReply here, the packet codec (buildDhcpDiscover, parseDhcpPacket) in
 * dhcp-packet.ts. The socket edge is probeForDhcpServers (node:dgram), run in tests only inside
 * a network namespace.
 * Layout and options: RFC 2131 §2 (BOOTP header), RFC 2132 (options), RFC 4578 (93/94),
 * PXE 2.1 (a proxyDHCP offer carries option 60 "PXEClient" and no address).
 */
import { createSocket, type Socket } from "node:dgram";
import { randomInt } from "node:crypto";
import { ReconError } from "../../lib/errors.js";
import { buildDhcpDiscover, DHCP_CLIENT_PORT, DHCP_MESSAGE_TYPES, DHCP_SERVER_PORT, ipv4, OPTION, parseDhcpPacket, type DhcpPacket } from "./dhcp-packet.js";

// The codec moved to dhcp-packet.ts (shared with http-boot-proxy.ts); these names stay importable from here.
export { buildDhcpDiscover, DHCP_CLIENT_PORT, DHCP_MESSAGE_TYPES, DHCP_SERVER_PORT, MAGIC_COOKIE, macToBytes, OPTION, parseDhcpPacket } from "./dhcp-packet.js";
export type { DhcpPacket, DiscoverSpec, ParseResult } from "./dhcp-packet.js";

/** What a legacy BIOS PXE ROM sends (RFC 4578 arch 0, UNDI 2.1), so proxyDHCP servers answer. */
export const PXE_BIOS_VENDOR_CLASS = "PXEClient:Arch:00000:UNDI:002001";

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

/** Runs one asynchronous socket step (bind, connect) and resolves when it is done or rejects with its error. */
export function socketStep(socket: Socket, step: (done: () => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    step(() => {
      socket.off("error", reject);
      resolve();
    });
  });
}

/** Binds a UDP socket (exclusive: not shared with cluster workers). Also used by http-boot-proxy.ts. */
export function bindSocket(socket: Socket, port: number, address: string): Promise<void> {
  return socketStep(socket, (done) => socket.bind({ port, address, exclusive: true }, done));
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
