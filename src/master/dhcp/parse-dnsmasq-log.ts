/**
 * dnsmasq's log lines → typed events. Pure, one line at a time; a line it does not know gives
 * `undefined` (the supervisor logs it at debug and goes on). Formats are from dnsmasq 2.90's
 * rfc2131.c `log_packet` ("%u %s(%s) %s%s%s %s%s": xid with log-dhcp, type, interface, address,
 * MAC, name or error) and tftp.c ("sent %s to %s", "file %s not found", …). Prefixes differ by
 * where the log went: `dnsmasq-dhcp[12]: ` on stderr under keep-in-foreground, a syslog or
 * journal timestamp and host before it elsewhere; only the part after `]: ` is read.
 */
import { archFromClientArch, type MachineArch } from "../../boot/plan-boot.js";

export const DHCP_MESSAGES = ["DISCOVER", "OFFER", "REQUEST", "ACK", "NAK", "DECLINE", "RELEASE", "INFORM"] as const;
export type DhcpMessage = (typeof DHCP_MESSAGES)[number];

export type DnsmasqLogEvent =
  | {
      kind: "dhcp";
      message: DhcpMessage;
      interface: string;
      mac: string;
      ip?: string;
      /** The name dnsmasq gave the lease (ACK/OFFER). */
      hostname?: string;
      /** Anything else after the MAC, e.g. `no address available`, `address in use`. */
      detail?: string;
      /** Transaction id; present with log-dhcp, ties the info lines below to this exchange. */
      xid?: number;
    }
  | { kind: "pxe"; interface: string; mac: string; ip?: string; detail?: string; xid?: number }
  | { kind: "vendor-class"; xid?: number; vendorClass: string; arch?: MachineArch }
  | { kind: "user-class"; xid?: number; userClass: string }
  | { kind: "client-name"; xid?: number; hostname: string }
  | { kind: "tftp-sent"; path: string; file: string; ip: string }
  | { kind: "tftp-failed"; path: string; file: string; ip: string }
  | { kind: "tftp-not-found"; path: string; file: string }
  | { kind: "tftp-error"; code: number; message: string; ip: string };

const PREFIX = /dnsmasq-(dhcp|tftp)\[\d+\]: (.*)$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5,19}$/i;

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function parseDhcp(body: string): DnsmasqLogEvent | undefined {
  let rest = body;
  let xid: number | undefined;
  const xidMatch = /^(\d+) (.*)$/.exec(rest);
  if (xidMatch) {
    xid = Number(xidMatch[1]);
    rest = xidMatch[2]!;
  }
  const withXid = <T extends object>(event: T): T & { xid?: number } => (xid === undefined ? event : { ...event, xid });

  const packet = /^(DHCP([A-Z]+)|PXE)\(([^)]+)\) ?(.*)$/.exec(rest);
  if (packet) {
    const words = packet[4]!.trim().split(/\s+/).filter(Boolean);
    const ip = words[0] !== undefined && IPV4.test(words[0]) ? words.shift() : undefined;
    const mac = words[0] !== undefined && MAC.test(words[0]) ? words.shift()!.toLowerCase() : undefined;
    if (mac === undefined) return undefined;
    const tail = words.join(" ");
    const iface = packet[3]!;
    if (packet[1] === "PXE") {
      return withXid({ kind: "pxe" as const, interface: iface, mac, ...(ip && { ip }), ...(tail && { detail: tail }) });
    }
    const message = packet[2] as DhcpMessage;
    if (!DHCP_MESSAGES.includes(message)) return undefined;
    // After an ACK or OFFER a single word is the lease's name; anything else is an error text.
    const named = (message === "ACK" || message === "OFFER") && words.length === 1;
    return withXid({
      kind: "dhcp" as const,
      message,
      interface: iface,
      mac,
      ...(ip && { ip }),
      ...(named ? { hostname: tail } : tail ? { detail: tail } : {}),
    });
  }

  const info = /^(vendor class|user class|client provides name): (.*)$/.exec(rest);
  if (info) {
    const value = info[2]!.trim();
    if (info[1] === "vendor class") {
      // PXE firmware sends `PXEClient:Arch:00007:UNDI:003016` (RFC 4578 architecture in decimal).
      const arch = /^PXEClient:Arch:(\d{5})/.exec(value);
      return withXid({
        kind: "vendor-class" as const,
        vendorClass: value,
        ...(arch && { arch: archFromClientArch(Number(arch[1])) }),
      });
    }
    if (info[1] === "user class") return withXid({ kind: "user-class" as const, userClass: value });
    return withXid({ kind: "client-name" as const, hostname: value });
  }
  return undefined;
}

function parseTftp(body: string): DnsmasqLogEvent | undefined {
  // Older releases put "TFTP " before the message.
  const rest = body.replace(/^TFTP /, "");
  let match = /^sent (.+) to (\S+)$/.exec(rest);
  if (match) return { kind: "tftp-sent", path: match[1]!, file: basename(match[1]!), ip: match[2]! };
  match = /^failed sending (.+) to (\S+)$/.exec(rest);
  if (match) return { kind: "tftp-failed", path: match[1]!, file: basename(match[1]!), ip: match[2]! };
  match = /^file (.+) not found$/.exec(rest);
  if (match) return { kind: "tftp-not-found", path: match[1]!, file: basename(match[1]!) };
  match = /^error (\d+) (.*) received from (\S+)$/.exec(rest);
  if (match) return { kind: "tftp-error", code: Number(match[1]), message: match[2]!, ip: match[3]! };
  return undefined;
}

export function parseDnsmasqLogLine(line: string): DnsmasqLogEvent | undefined {
  const match = PREFIX.exec(line.replace(/\s+$/, ""));
  if (!match) return undefined;
  return match[1] === "dhcp" ? parseDhcp(match[2]!) : parseTftp(match[2]!);
}
