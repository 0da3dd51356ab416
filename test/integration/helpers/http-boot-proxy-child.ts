/**
 * Runs startHttpBootProxy in its own process, so a test can start it inside a network namespace
 * (`ip netns exec <ns> node --import tsx http-boot-proxy-child.ts '<json>'`). Its logfmt lines
 * go to stdout; SIGTERM stops it (through the responder's AbortSignal) and it exits 0.
 * JSON: { address, url }: every x64 HTTP client (arch 16) gets `url`, others none.
 */
import { createLogger } from "../../../src/lib/log.js";
import { startHttpBootProxy } from "../../../src/master/dhcp/http-boot-proxy.js";

const { address, url } = JSON.parse(process.argv[2] ?? "{}") as { address: string; url: string };
const stop = new AbortController();
process.once("SIGTERM", () => stop.abort());
const log = createLogger({ component: "http-boot" }, { write: (line) => process.stdout.write(`${line}\n`) });
try {
  const responder = await startHttpBootProxy({ address, urlFor: (arch) => (arch === 16 ? url : undefined), log, signal: stop.signal });
  await new Promise((resolve) => stop.signal.addEventListener("abort", resolve, { once: true }));
  await responder.stop();
} catch (error) {
  const e = error as Error & { code?: string; hint?: string };
  log.error("http boot responder failed", { error: e.message, code: e.code, hint: e.hint });
  process.exitCode = 1;
}
