import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../lib/log.js";
import { neighbourSysctls, planScale } from "../scale.js";
import { raiseSysctls } from "./sysctl.js";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "recon-sysctl-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("raiseSysctls", () => {
  it("raises the neighbour table for a large fleet, keeps a value already higher, and logs each", async () => {
    const lines: string[] = [];
    const log = createLogger({}, { write: (line: string) => void lines.push(line) });
    // Linux's defaults, and one an admin already raised past what recon wants.
    for (const [name, value] of [
      ["gc_thresh1", "128"],
      ["gc_thresh2", "512"],
      ["gc_thresh3", "16384"],
    ] as const) {
      const file = join(root, "net/ipv4/neigh/default", name);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, `${value}\n`);
    }
    await raiseSysctls(neighbourSysctls(planScale(900)), log, root);
    const read = (name: string) => readFile(join(root, "net/ipv4/neigh/default", name), "utf8");
    expect([await read("gc_thresh1"), await read("gc_thresh2"), await read("gc_thresh3")]).toEqual(["1800\n", "3600\n", "16384\n"]);
    expect(lines.filter((line) => line.includes("sysctl raised"))).toHaveLength(2);
  });

  it("warns and goes on when a value cannot be written", async () => {
    const lines: string[] = [];
    const log = createLogger({}, { write: (line: string) => void lines.push(line) });
    await raiseSysctls([{ path: "no/such/dir/gc_thresh3", value: "7200" }], log, root);
    expect(lines.join("\n")).toMatch(/sysctl not raised/);
  });
});
