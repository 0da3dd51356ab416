/**
 * Sends one datagram to `<to>:67` from a socket bound to `<from>:68`: a DHCPDISCOVER
 * (buildDhcpDiscover) or, with `hex`, exactly those bytes (a malformed packet). For tests that
 * must see which socket on a server's port 67 gets a unicast, or how a server takes garbage.
 * Run inside a network namespace: `ip netns exec <ns> node --import tsx dhcp-send-child.ts '<json>'`.
 * JSON: { from, to, hex } or { from, to, mac, xid, vendorClass, clientArch }.
 */
import { createSocket } from "node:dgram";
import { buildDhcpDiscover, type DiscoverSpec } from "../../../src/master/dhcp/dhcp-packet.js";
import { bindSocket } from "../../../src/master/dhcp/probe.js";

const spec = JSON.parse(process.argv[2] ?? "{}") as { from: string; to: string; hex?: string } & DiscoverSpec;
const socket = createSocket({ type: "udp4" });
await bindSocket(socket, 68, spec.from);
socket.setBroadcast(true);
const bytes = spec.hex === undefined ? buildDhcpDiscover(spec) : Buffer.from(spec.hex, "hex");
await new Promise<void>((resolve, reject) => socket.send(bytes, 67, spec.to, (error) => (error ? reject(error) : resolve())));
socket.close();
