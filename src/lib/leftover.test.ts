import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { stopLeftover } from "./leftover.js";
import { processAlive } from "./lock-file.js";
import { createLogger } from "./log.js";

const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) if (processAlive(pid)) process.kill(pid, "SIGKILL");
});

describe("stopLeftover", () => {
  it("ends the program its pid file names, and only if /proc says it is that program", async () => {
    const dir = await mkdtemp(join(tmpdir(), "recon-leftover-"));
    try {
      const child = spawn("sleep", ["30"], { stdio: "ignore" });
      const exited = new Promise((resolve) => child.once("exit", resolve));
      started.push(child.pid!);
      const pidFile = join(dir, "x.pid");
      await writeFile(pidFile, `${child.pid}\n`);
      const lines: string[] = [];
      const log = createLogger({}, { write: (line) => lines.push(line) });
      expect(await stopLeftover(pidFile, "nginx", log)).toBe(false);
      expect(processAlive(child.pid!)).toBe(true);
      expect(await stopLeftover(pidFile, "sleep", log)).toBe(true);
      await exited;
      expect(lines.join("\n")).toContain("stopping a sleep left over from an earlier run");
      expect(await stopLeftover(join(dir, "absent.pid"), "sleep", log)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
