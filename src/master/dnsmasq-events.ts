/**
 * dnsmasq's log events → node events (pure). Only what moves a node's state is kept.
 */
import type { DnsmasqLogEvent } from "./dhcp/parse-dnsmasq-log.js";
import type { NodeEvent } from "../model/node-state.js";

export function nodeEventFromDnsmasq(event: DnsmasqLogEvent, at: Date): NodeEvent | undefined {
  const time = at.toISOString();
  if (event.kind === "dhcp" && event.ip) {
    if (event.message === "OFFER") return { type: "dhcp-offer", at: time, mac: event.mac, ip: event.ip };
    if (event.message === "ACK") return { type: "dhcp-ack", at: time, mac: event.mac, ip: event.ip, hostname: event.hostname };
  }
  if (event.kind === "tftp-sent") {
    // GRUB read its per-MAC file (boot/render-grub.ts grubNodeFile): that is this chain's "script served".
    const grubFile = /\/grub\/nodes\/([0-9a-f]{2}(?::[0-9a-f]{2}){5})\.cfg$/.exec(event.path);
    if (grubFile) return { type: "script-served", at: time, mac: grubFile[1]!, ip: event.ip };
    // GRUB's kernel and initrd (/install/<label>/linux): the label says which image this node boots.
    const image = /\/install\/([^/]+)\/(?:linux|initrd)$/.exec(event.path)?.[1];
    return { type: "tftp-sent", at: time, ip: event.ip, file: event.file, ...(image !== undefined && { image }) };
  }
  return undefined;
}
