/**
 * Runs probeForDhcpServers in its own process, so a test can start it inside a network
 * namespace (`ip netns exec <ns> node --import tsx probe-child.ts '<json options>'`): a node
 * process cannot change its own namespace. Prints one JSON line: the result, or {error}.
 * With `raw: true` the reply bytes come back as hex too (how the fixtures were captured).
 */
import { probeForDhcpServers, type ProbeOptions } from "../../../src/master/dhcp/probe.js";

const options = JSON.parse(process.argv[2] ?? "{}") as ProbeOptions & { raw?: boolean };
const raw: { from: string; hex: string }[] = [];
try {
  const result = await probeForDhcpServers({
    ...options,
    ...(options.raw && { onRawReply: (bytes: Buffer, from: string) => raw.push({ from, hex: bytes.toString("hex") }) }),
  });
  process.stdout.write(`${JSON.stringify({ ...result, ...(options.raw && { raw }) })}\n`);
} catch (error) {
  const e = error as Error & { code?: string; hint?: string };
  process.stdout.write(`${JSON.stringify({ error: e.message, code: e.code, hint: e.hint })}\n`);
  process.exitCode = 1;
}
