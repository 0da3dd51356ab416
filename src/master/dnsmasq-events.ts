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
  if (event.kind === "tftp-sent") return { type: "tftp-sent", at: time, ip: event.ip, file: event.file };
  return undefined;
}
