/**
 * A simulated peer without a VM (docs/lab-facts.md, "Network lab"): busybox udhcpc in the peer's netns
 * asks for a lease the way a PXE ROM or iPXE would, then curl fetches over TFTP/HTTP. One full
 * cycle takes ≈0.2 s. Pure argument builders and a parser of the report script's line, plus a
 * thin runner with bounded retries (docs/lab-facts.md: 20 clients at once meet `DHCPNAK address in use`
 * and recover by retrying).
 */
import type { CommandRunner } from "../lib/run.js";
import { runInNetns } from "./netns.js";

/**
 * What asks: a BIOS PXE ROM, UEFI PXE, iPXE (user class `iPXE`), or `os`: a plain DHCP client
 * such as the booted live system's (no PXE vendor class, so proxyDHCP servers stay silent).
 */
export type PeerFirmware = "bios" | "uefi" | "ipxe" | "os";

export interface UdhcpcSpec {
  dev: string;
  firmware: PeerFirmware;
  /** The `-s` script; it must print one `recon-udhcpc event=bound …` line (test/integration/helpers/udhcpc-report.sh). */
  script: string;
  /** DISCOVERs per attempt (`-t`), one second apart (`-T 1`). */
  discovers?: number | undefined;
}

/** udhcpc argv: quit after a lease (-q), fail when none (-n), ask for options 66/67 like PXE. */
export function udhcpcArgv(spec: UdhcpcSpec): string[] {
  // RFC 4578 option 93 (client architecture) as hex: 0 BIOS, 7 x86-64 UEFI.
  const arch = spec.firmware === "uefi" ? "0007" : "0000";
  const vendorClass = spec.firmware === "uefi" ? "PXEClient:Arch:00007:UNDI:003016" : "PXEClient:Arch:00000:UNDI:002001";
  const argv = ["busybox", "udhcpc", "-f", "-q", "-n", "-t", String(spec.discovers ?? 3), "-T", "1", "-i", spec.dev];
  if (spec.firmware === "os") {
    argv.push("-V", "recon-live");
  } else {
    argv.push("-V", vendorClass, "-x", `0x5d:${arch}`);
  }
  argv.push("-O", "66", "-O", "67", "-s", spec.script);
  // Option 77 user class "iPXE" (hex 69505845): what iPXE sends, so dnsmasq hands out the script URL.
  if (spec.firmware === "ipxe") argv.push("-x", "0x4d:69505845");
  return argv;
}

export interface UdhcpcLease {
  ip: string;
  mask: string;
  /** Option 54: who gave the lease. */
  serverId: string;
  /** BOOTP siaddr: the next server (TFTP). */
  nextServer: string;
  /** Option 67, else the BOOTP file field. */
  bootFile: string;
}

/** Reads the last `recon-udhcpc event=bound` line (pure); undefined when there is none. */
export function parseUdhcpcReport(stdout: string): UdhcpcLease | undefined {
  const line = stdout
    .split("\n")
    .filter((l) => l.startsWith("recon-udhcpc event=bound"))
    .at(-1);
  if (!line) return undefined;
  const fields = new Map<string, string>();
  for (const token of line.split(/\s+/).slice(1)) {
    const at = token.indexOf("=");
    if (at > 0) fields.set(token.slice(0, at), token.slice(at + 1));
  }
  const ip = fields.get("ip");
  if (!ip) return undefined;
  return {
    ip,
    mask: fields.get("mask") ?? "",
    serverId: fields.get("serverid") ?? "",
    nextServer: fields.get("siaddr") ?? "",
    bootFile: fields.get("bootfile") || fields.get("boot_file") || "",
  };
}

/** curl argv for a TFTP or HTTP download (curl speaks both; docs/lab-facts.md). */
export function curlGetArgv(url: string, outFile: string, maxTimeS: number): string[] {
  return ["curl", "--silent", "--show-error", "--fail", "--max-time", String(maxTimeS), "--output", outFile, url];
}

export interface LeaseOutcome {
  lease: UdhcpcLease | undefined;
  attempts: number;
  durationMs: number;
  /** udhcpc's output of the last attempt (its own log goes to stderr). */
  output: string;
}

/** Runs udhcpc in `ns` up to `attempts` times (bounded), each bounded by `attemptTimeoutMs`. */
export async function leaseWithUdhcpc(
  runner: CommandRunner,
  ns: string,
  spec: UdhcpcSpec,
  options: { attempts: number; attemptTimeoutMs: number; signal?: AbortSignal | undefined },
): Promise<LeaseOutcome> {
  const started = Date.now();
  let output = "";
  for (let attempt = 1; attempt <= options.attempts; attempt += 1) {
    if (options.signal?.aborted) break;
    const result = await runInNetns(runner, ns, udhcpcArgv(spec), {
      timeoutMs: options.attemptTimeoutMs,
      ...(options.signal && { signal: options.signal }),
    });
    output = `${result.stdout}\n${result.stderr}`;
    const lease = result.exitCode === 0 ? parseUdhcpcReport(result.stdout) : undefined;
    if (lease) return { lease, attempts: attempt, durationMs: Date.now() - started, output };
  }
  return { lease: undefined, attempts: options.attempts, durationMs: Date.now() - started, output };
}
