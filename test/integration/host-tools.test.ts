/**
 * The set-up checks Node.js before anything needs it (issue #9, fresh-machine truth): stock
 * Debian 12's Node 18 builds the image but cannot run the tests (vitest 4's vite 7 needs ^20.19),
 * and the script says exactly that and what to do. A `node` first on PATH that reports Debian 12's
 * version stands in for that machine (the packages themselves are present here, so apt is not run).
 */
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/repo.js";

let bin: string;
const script = join(repoRoot, "scripts/install-host-tools.sh");
const withNode = (version: string) => ({ ...process.env, PATH: `${join(bin, version)}:${process.env.PATH}` });

beforeAll(async () => {
  bin = await mkdtemp(join(tmpdir(), "recon-node-"));
  for (const version of ["v18.20.4", "v20.18.1", "v22.12.0"]) {
    const dir = join(bin, version);
    await execa("mkdir", ["-p", dir]);
    await writeFile(join(dir, "node"), `#!/bin/sh\n[ "$1" = --version ] && echo ${version}\n`);
    await writeFile(join(dir, "npm"), "#!/bin/sh\necho 10.0.0\n");
    await chmod(join(dir, "node"), 0o755);
    await chmod(join(dir, "npm"), 0o755);
  }
});
afterAll(async () => {
  await rm(bin, { recursive: true, force: true });
});

describe("scripts/install-host-tools.sh checks Node.js", () => {
  it("refuses Debian 12's Node 18 for the tests, saying why and what to do", async () => {
    const result = await execa(script, ["test"], { env: withNode("v18.20.4"), reject: false, all: true });
    expect(result.exitCode, result.all).toBe(1);
    expect(result.all).toContain("host tools: Node.js 18.20.4 is too old: test needs Node.js >= 20.19.0.");
    expect(result.all).toContain("vite 7 needs Node.js ^20.19 or >= 22.12; Debian 12 ships 18.");
    expect(result.all).toContain("Building the image alone (./make-recipe-target <recipe> target) works with Debian 12's Node 18.");
  });

  it("refuses 20.18 (below vite's ^20.19) and accepts 22.12 for the tests", async () => {
    expect((await execa(script, ["test"], { env: withNode("v20.18.1"), reject: false })).exitCode).toBe(1);
    const ok = await execa(script, ["test"], { env: withNode("v22.12.0"), reject: false, all: true });
    expect(ok.exitCode, ok.all).toBe(0);
    expect(ok.all).toContain("host tools: Node.js 22.12.0 (>= 20.19.0)");
  });

  it("accepts Debian 12's Node 18 for building the image", async () => {
    const result = await execa(script, ["build"], { env: withNode("v18.20.4"), reject: false, all: true });
    expect(result.exitCode, result.all).toBe(0);
    expect(result.all).toContain("host tools: Node.js 18.20.4 (>= 18.19.0)");
  });
});
