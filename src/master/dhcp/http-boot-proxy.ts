/**
 * recon's answer to UEFI HTTP-boot clients beside a site DHCP server (issue #11, proxy case).
 * dnsmasq in proxy mode answers only vendor classes starting "PXEClient" (rfc2131.c: "if we're
 * just a proxy server, go no further"), so a client sending "HTTPClient:Arch:00016:…" would get
 * no boot URI. This responder sends it a proxy DHCPOFFER (no address, option 60 "HTTPClient",
 * the URI in the file field); EDK2 takes its address from the site server's offer and the URI
 * from ours (HttpBootSelectDhcpOffer: DhcpOnly/DhcpDns + ProxyIpUri). EDK2 sends its
 * DHCPREQUEST only to the server of the address offer, so there is no REQUEST to answer.
 *
 * Pure: planHttpBootReply (which packet gets which answer). The socket edge is
 * startHttpBootProxy (node:dgram). It never hands out an address.
 */
import { createSocket } from "node:dgram";
import { ReconError } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import {
  buildHttpBootProxyOffer,
  clientArchitectures,
  DHCP_CLIENT_PORT,
  DHCP_MESSAGE_TYPES,
  DHCP_SERVER_PORT,
  ipv4,
  OPTION,
  parseDhcpPacket,
  vendorClass,
  type DhcpPacket,
} from "./dhcp-packet.js";
import { bindSocket, socketStep } from "./probe.js";

/** IANA "Processor Architecture Types" (RFC 4578 §2.1 registry): the UEFI HTTP-boot entries. */
export const HTTP_BOOT_ARCHES: Readonly<Record<number, string>> = {
  15: "x86 UEFI HTTP",
  16: "x64 UEFI HTTP",
  18: "ARM 32-bit UEFI HTTP",
  19: "ARM 64-bit UEFI HTTP",
};

export type HttpBootUrlFor = (arch: number, mac: string) => string | undefined;

export type HttpBootReplyPlan =
  /** Not an HTTP-boot client's request: nothing to say, nothing to log. */
  | { action: "not-ours" }
  /** An HTTP-boot client recon does not answer, and why. */
  | { action: "ignore"; mac: string; arch: number | undefined; reason: string }
  | { action: "answer"; mac: string; arch: number; url: string; reply: Buffer };

/** What one request gets. Pure; urlFor is the caller's boot decision (undefined: no answer). */
export function planHttpBootReply(packet: DhcpPacket, serverAddress: string, urlFor: HttpBootUrlFor): HttpBootReplyPlan {
  if (packet.op !== 1 || !(vendorClass(packet) ?? "").startsWith("HTTPClient")) return { action: "not-ours" };
  const mac = packet.chaddr;
  const arches = clientArchitectures(packet);
  const arch = arches?.[0];
  const ignore = (reason: string): HttpBootReplyPlan => ({ action: "ignore", mac, arch, reason });
  if (packet.messageType !== 1) {
    const type = packet.messageType === undefined ? "BOOTP" : (DHCP_MESSAGE_TYPES[packet.messageType] ?? `type ${packet.messageType}`);
    const server = packet.options.get(OPTION.serverId);
    const to = server?.length === 4 ? ` to ${ipv4(server)}` : "";
    return ignore(`${type}${to}, not a DISCOVER: only DISCOVERs get a proxy offer`);
  }
  if (packet.giaddr !== "0.0.0.0") return ignore(`relayed by ${packet.giaddr}: the responder answers its own segment only`);
  if (packet.htype !== 1 || packet.hlen !== 6) return ignore(`hardware type ${packet.htype} length ${packet.hlen} is not Ethernet`);
  if (arch === undefined) return ignore("no client architecture (option 93)");
  if (HTTP_BOOT_ARCHES[arch] === undefined) return ignore(`architecture ${arch} is not a UEFI HTTP-boot type (15, 16, 18, 19)`);
  const url = urlFor(arch, mac);
  if (url === undefined) return ignore("no boot URL for this machine");
  return { action: "answer", mac, arch, url, reply: buildHttpBootProxyOffer(packet, { serverAddress, url }) };
}

export interface HttpBootProxyOptions {
  /** The master's IPv4 address on the provisioning interface: replies leave by that interface only. */
  address: string;
  urlFor: HttpBootUrlFor;
  log: Logger;
  /** Aborting it stops the responder, as stop() does. */
  signal?: AbortSignal | undefined;
}

export interface HttpBootProxy {
  /** Proxy offers sent. */
  readonly answered: number;
  /** HTTP-boot requests not answered (logged with their reason) and packets that did not parse. */
  readonly ignored: number;
  /** Closes both sockets; idempotent. */
  stop(): Promise<void>;
}

/** How to fix a failed bind, by errno. */
const BIND_HINTS: Readonly<Record<string, (address: string) => string>> = {
  EACCES: () => "binding UDP port 67 needs root (CAP_NET_BIND_SERVICE)",
  EADDRINUSE: () => "a process holds UDP port 67 without SO_REUSEADDR (dnsmasq sets it; another DHCP server may not): stop it or leave HTTP boot off",
  EADDRNOTAVAIL: (address) => `${address} is not an address of this host (or of this network namespace): give the provisioning interface its address first`,
};

function bindError(error: unknown, where: string, address: string): ReconError {
  const hint = BIND_HINTS[(error as NodeJS.ErrnoException).code ?? ""]?.(address);
  return new ReconError("NETWORK_UNAVAILABLE", `HTTP boot responder: ${where}: ${(error as Error).message}`, { cause: error, ...(hint && { hint }) });
}

/**
 * Starts answering HTTP-boot DISCOVERs. Needs root (port 67). Shares the port with dnsmasq:
 * both set SO_REUSEADDR, so each socket gets every broadcast DISCOVER (a unicast datagram goes
 * to one socket only; dnsmasq bound to its one interface wins those, and relayed requests are
 * not answered here anyway).
 *
 * Two sockets: the receiver on 0.0.0.0:67 (a broadcast reaches only wildcard-bound sockets) and
 * the sender bound to `address`:67 and connected to 255.255.255.255:68. Bound to the master's
 * address, Linux sends the limited broadcast out of the interface owning it; connected, the
 * sender matches no incoming datagram, so it takes no unicast meant for dnsmasq on `address`:67.
 * Source port 67 matters: EDK2's DHCP driver accepts replies from the server port only.
 */
export async function startHttpBootProxy(options: HttpBootProxyOptions): Promise<HttpBootProxy> {
  const { address, log } = options;
  let answered = 0;
  let ignored = 0;
  const receiver = createSocket({ type: "udp4", reuseAddr: true });
  const sender = createSocket({ type: "udp4", reuseAddr: true });
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      options.signal?.removeEventListener("abort", onAbort);
      await Promise.all([receiver, sender].map((socket) => new Promise<void>((resolve) => socket.close(() => resolve())).catch(() => undefined)));
      log.info("http boot responder stopped", { answered, ignored });
    })());
  const onAbort = () => void stop();

  try {
    await bindSocket(receiver, DHCP_SERVER_PORT, "0.0.0.0").catch((error: unknown) => {
      throw bindError(error, `cannot bind 0.0.0.0:${DHCP_SERVER_PORT}`, address);
    });
    await bindSocket(sender, DHCP_SERVER_PORT, address).catch((error: unknown) => {
      throw bindError(error, `cannot bind ${address}:${DHCP_SERVER_PORT}`, address);
    });
    sender.setBroadcast(true);
    await socketStep(sender, (done) => sender.connect(DHCP_CLIENT_PORT, "255.255.255.255", done)).catch((error: unknown) => {
      throw bindError(error, `cannot aim at 255.255.255.255:${DHCP_CLIENT_PORT}`, address);
    });
  } catch (error) {
    for (const socket of [receiver, sender]) {
      try {
        socket.close();
      } catch {
        // never bound
      }
    }
    throw error;
  }

  const send = (reply: Buffer) => new Promise<void>((resolve, reject) => sender.send(reply, (error: Error | null) => (error ? reject(error) : resolve())));

  receiver.on("message", (bytes, remote) => {
    const parsed = parseDhcpPacket(bytes);
    if (!parsed.ok) {
      ignored += 1;
      log.warn("malformed DHCP packet ignored", { from: `${remote.address}:${remote.port}`, bytes: bytes.length, reason: parsed.reason });
      return;
    }
    let plan: HttpBootReplyPlan;
    try {
      plan = planHttpBootReply(parsed.packet, address, options.urlFor);
    } catch (error) {
      ignored += 1;
      log.error("http boot request not answered", { mac: parsed.packet.chaddr, error: (error as Error).message });
      return;
    }
    if (plan.action === "not-ours") return;
    const xid = `0x${parsed.packet.xid.toString(16).padStart(8, "0")}`;
    if (plan.action === "ignore") {
      ignored += 1;
      log.info("http boot client ignored", { mac: plan.mac, arch: plan.arch, xid, reason: plan.reason });
      return;
    }
    send(plan.reply).then(
      () => {
        answered += 1;
        log.info("http boot proxy offer sent", { mac: plan.mac, arch: plan.arch, xid, url: plan.url });
      },
      (error: unknown) => {
        ignored += 1;
        log.error("http boot proxy offer not sent", { mac: plan.mac, xid, error: (error as Error).message });
      },
    );
  });
  for (const socket of [receiver, sender]) socket.on("error", (error) => log.error("http boot responder socket error", { error: error.message }));

  if (options.signal?.aborted) await stop();
  else options.signal?.addEventListener("abort", onAbort, { once: true });
  log.info("http boot responder listening", { address, port: DHCP_SERVER_PORT });
  return {
    get answered() {
      return answered;
    },
    get ignored() {
      return ignored;
    },
    stop,
  };
}
