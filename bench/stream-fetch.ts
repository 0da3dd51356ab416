/**
 * A simulated peer's image download, verified as it streams (bench/fleet-sim): curl in the
 * peer's netns writes the body to its stdout, which is an OS pipe straight into `openssl dgst
 * -sha256` (also in that netns). The bench's own process never touches the bytes: no copy on
 * disk, no read-back, no hashing on its event loop, so the figure is the master's, not the
 * harness's. curl reports the byte count and HTTP status on stderr (`--write-out %{stderr}`).
 *
 * One module per tool pair: pure argument builders, pure parsers, a thin runner (execa; the
 * pipe is the hash child's stdin handed to curl as its stdout, never a shell string).
 */
import { execa } from "execa";
import { netnsExecArgv } from "../src/lab/netns.js";

/** curl argv: the body to stdout, `recon-curl bytes=… code=…` to stderr once the transfer ends. */
export function curlStreamArgv(url: string, maxTimeS: number): string[] {
  return [
    "curl",
    "--silent",
    "--show-error",
    "--fail",
    "--max-time",
    String(maxTimeS),
    "--write-out",
    "%{stderr}recon-curl bytes=%{size_download} code=%{http_code}\\n",
    url,
  ];
}

/** openssl uses the CPU's SHA extensions (≈1.3 GB/s here); coreutils' sha256sum does not (≈0.25 GB/s). */
export function sha256Argv(): string[] {
  return ["openssl", "dgst", "-sha256", "-r"];
}

/** The last `recon-curl bytes=… code=…` line of curl's stderr (pure); undefined when none. */
export function parseCurlWriteOut(stderr: string): { bytes: number; httpCode: number } | undefined {
  const match = [...stderr.matchAll(/^recon-curl bytes=(\d+) code=(\d+)$/gm)].at(-1);
  if (!match) return undefined;
  return { bytes: Number(match[1]), httpCode: Number(match[2]) };
}

/** `openssl dgst -sha256 -r` prints `<64 hex> *stdin` (pure); undefined for anything else. */
export function parseSha256Output(stdout: string): string | undefined {
  return /^([0-9a-f]{64}) \*stdin$/m.exec(stdout)?.[1];
}

export interface StreamFetchResult {
  ok: boolean;
  bytes: number;
  httpCode: number;
  sha256: string | undefined;
  /** curl's exit code (0, 22 HTTP error, 28 timeout, …). */
  curlExit: number | undefined;
  error?: string;
}

/**
 * GETs `url` from inside `ns`, hashing on the fly; `expected` is the payload's size and sha256.
 * Bounded: curl by --max-time, both children by execa's timeout, and by `signal`.
 */
export async function fetchAndVerify(
  ns: string,
  url: string,
  expected: { bytes: number; sha256: string },
  options: { maxTimeS: number; signal: AbortSignal },
): Promise<StreamFetchResult> {
  const killAfterMs = (options.maxTimeS + 10) * 1000;
  const [hashCommand, ...hashArgs] = netnsExecArgv(ns, sha256Argv());
  const hash = execa(hashCommand!, hashArgs, { stdin: "pipe", reject: false, timeout: killAfterMs, cancelSignal: options.signal, encoding: "utf8" });
  const [curlCommand, ...curlArgs] = netnsExecArgv(ns, curlStreamArgv(url, options.maxTimeS));
  // hash.stdin is the pipe's write end: spawn duplicates it into curl as fd 1 ...
  const curl = execa(curlCommand!, curlArgs, {
    stdin: "ignore",
    stdout: hash.stdin,
    reject: false,
    timeout: killAfterMs,
    cancelSignal: options.signal,
    encoding: "utf8",
  });
  // ... and ours is closed, so openssl sees end-of-file when curl exits.
  hash.stdin.destroy();
  const [hashed, fetched] = await Promise.all([hash, curl]);
  const report = parseCurlWriteOut(String(fetched.stderr ?? ""));
  const sha256 = parseSha256Output(String(hashed.stdout ?? ""));
  const result: StreamFetchResult = {
    ok: false,
    bytes: report?.bytes ?? 0,
    httpCode: report?.httpCode ?? 0,
    sha256,
    curlExit: fetched.exitCode,
  };
  if (fetched.exitCode !== 0) {
    const stderr = String(fetched.stderr ?? "")
      .replace(/^recon-curl .*$/m, "")
      .trim();
    return { ...result, error: `curl exit ${fetched.exitCode ?? fetched.signal ?? "?"}: ${stderr || fetched.shortMessage}`.slice(0, 300) };
  }
  if (sha256 === undefined) return { ...result, error: `no digest from openssl: ${String(hashed.stderr ?? hashed.shortMessage).slice(0, 200)}` };
  if (result.bytes !== expected.bytes) return { ...result, error: `got ${result.bytes} bytes, expected ${expected.bytes}` };
  if (sha256 !== expected.sha256) return { ...result, error: "checksum mismatch" };
  return { ...result, ok: true };
}
