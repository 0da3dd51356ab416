/**
 * Starts master-http-child.ts as a separate process and waits (bounded) for its ready line.
 * The caller owns the child: `kill()` sends a signal to that PID only.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { RecoveryReport } from "../../src/master/store/store.js";

const CHILD = fileURLToPath(new URL("./master-http-child.ts", import.meta.url));

export interface SpawnedMaster {
  pid: number;
  port: number;
  url: string;
  recovery: RecoveryReport;
  child: ChildProcess;
  stderr(): string;
  /** Signals the child by PID and waits (bounded) for it to exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

export async function spawnMaster(
  storeDir: string,
  httpRoot: string,
  options: { maxConcurrentUploads?: number; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<SpawnedMaster> {
  const args = ["--import", "tsx", CHILD, storeDir, httpRoot];
  if (options.maxConcurrentUploads !== undefined) args.push(String(options.maxConcurrentUploads));
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...options.env } });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const kill = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, signal);
      } catch {
        // already gone
      }
    }
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  };
  try {
    const ready = await new Promise<{ port: number; pid: number; recovery: RecoveryReport }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`master child not ready in time; stderr:\n${stderr}`)), options.timeoutMs ?? 30_000);
      let stdout = "";
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        const line = stdout.split("\n").find((text) => text.startsWith("{"));
        if (line !== undefined && stdout.includes("\n")) {
          clearTimeout(timer);
          resolve(JSON.parse(line));
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`master child exited (${code}) before it was ready; stderr:\n${stderr}`));
      });
    });
    return {
      pid: ready.pid,
      port: ready.port,
      url: `http://127.0.0.1:${ready.port}`,
      recovery: ready.recovery,
      child,
      stderr: () => stderr,
      kill,
    };
  } catch (error) {
    await kill("SIGKILL");
    throw error;
  }
}
