/**
 * An RPM recipe whose repositories cannot be reached (issue #9 item 11): `./make-recipe-target
 * suse-leap-15.1 target` stops in stage prepare within seconds, names every repository URL and the
 * RECON_ZYPPER_MIRROR override, exit 1 — before kiwi runs (curl probe), and, when the probe passes
 * but zypper still finds no metadata, from kiwi's own log. No external host: the mirror is a
 * closed port on loopback, or a loopback HTTP server made by the test. And the issue's first
 * symptom: kiwi without rpmdb on the host is told where the host tools come from.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/repo.js";

const dirs: string[] = [];
const servers: Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
  for (const dir of dirs.splice(0)) {
    // kiwi bind-mounts /dev, /proc and /sys into its root tree and unmounts them on failure; never
    // remove a tree that still has a mount below it (rm would walk into the host's /dev).
    const mounts = (await readFile("/proc/self/mounts", "utf8")).split("\n").filter((l) => l.split(" ")[1]?.startsWith(dir));
    expect(mounts, "kiwi left mounts below the build dir").toEqual([]);
    await rm(dir, { recursive: true, force: true });
  }
});

async function buildDirs(): Promise<{ dir: string; build: string; cache: string }> {
  const dir = await mkdtemp(join(tmpdir(), `recon-rpm-${process.pid}-`));
  dirs.push(dir);
  return { dir, build: join(dir, "build"), cache: join(dir, "kiwi-cache") };
}

/** A loopback "mirror" on an ephemeral port; `answer` gives the status for a request. */
async function loopbackMirror(answer: (userAgent: string, url: string) => number): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const userAgent = req.headers["user-agent"] ?? "";
    requests.push(`${userAgent} ${req.url ?? ""}`);
    res.writeHead(answer(userAgent, req.url ?? ""), { "content-type": "text/plain" });
    res.end("recon test mirror");
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, requests };
}

function makeTarget(recipe: string, env: Record<string, string>) {
  return execa(join(repoRoot, "make-recipe-target"), [recipe, "target"], {
    cwd: repoRoot,
    reject: false,
    all: true,
    timeout: 120_000,
    env: { RECON_IMAGE_CACHE: "", FORCE: "1", ...env },
  });
}

describe("an RPM recipe with its repositories out of reach", () => {
  it("fails in stage prepare before kiwi runs, naming each URL and RECON_ZYPPER_MIRROR, exit 1", async () => {
    const { build, cache } = await buildDirs();
    const started = Date.now();
    // Port 9 (discard) on loopback: nothing listens, so the connection is refused at once.
    const result = await makeTarget("suse-leap-15.1", { BUILD_DIR: build, KIWI_SHARED_CACHE_DIR: cache, RECON_ZYPPER_MIRROR: "http://127.0.0.1:9/" });
    const elapsedMs = Date.now() - started;
    const output = result.all ?? "";
    expect(result.exitCode, output).toBe(1);
    expect(output).toContain(
      "recon: error: build suse-leap-15.1/DracutLive stopped in stage 'prepare': 2 package repositories of recipe suse-leap-15.1 cannot be reached:",
    );
    expect(output).toMatch(
      /^ {2}leap-15\.1-oss: http:\/\/127\.0\.0\.1:9\/distribution\/leap\/15\.1\/repo\/oss\/ \(Failed to connect to 127\.0\.0\.1 port 9\b.*\)$/m,
    );
    expect(output).toMatch(/^ {2}leap-15\.1-update-oss: http:\/\/127\.0\.0\.1:9\/update\/leap\/15\.1\/oss\/ \(Failed to connect/m);
    expect(output).toContain(
      "recon: hint: check this host's network/proxy (http_proxy), or set RECON_ZYPPER_MIRROR=http://<mirror>/<path> to a mirror of http://download.opensuse.org/",
    );
    expect(output).not.toContain("kiwi-ng build started");
    // Bundling and make take a few seconds; the probe itself is refused at once.
    expect(elapsedMs).toBeLessThan(30_000);
  });

  it("when the probe passes and zypper finds no metadata, kiwi's failure carries the same URLs and hint", async () => {
    const { build, cache } = await buildDirs();
    // Answers the probe (curl) with 200 and zypper (libzypp's own user agent) with 404, as a
    // mirror that lost its tree between the probe and the build would.
    const { url: mirror, requests } = await loopbackMirror((userAgent, url) => (/^curl\//.test(userAgent) && url.endsWith("/repodata/repomd.xml") ? 200 : 404));
    const result = await makeTarget("suse-leap-15.1", { BUILD_DIR: build, KIWI_SHARED_CACHE_DIR: cache, RECON_ZYPPER_MIRROR: mirror });
    const output = result.all ?? "";
    expect(result.exitCode, output).toBe(1);
    expect(requests.filter((r) => r.startsWith("curl/")).length, requests.join("\n")).toBe(2);
    expect(
      requests.some((r) => !r.startsWith("curl/")),
      "zypper never asked the mirror",
    ).toBe(true);
    expect(output).toContain("kiwi-ng build started");
    expect(output).toMatch(
      /recon: error: kiwi-ng stopped suse-leap-15\.1\/DracutLive after \d+s \(exit 1\) in stage 'prepare': 2 package repositories of recipe suse-leap-15\.1 cannot be reached:/,
    );
    expect(output).toContain(`  leap-15.1-oss: ${mirror}distribution/leap/15.1/repo/oss/ (zypper: valid metadata not found)`);
    expect(output).toContain(`  leap-15.1-update-oss: ${mirror}update/leap/15.1/oss/ (zypper: valid metadata not found)`);
    expect(output).toMatch(
      /recon: hint: check this host's network\/proxy \(http_proxy\), or set RECON_ZYPPER_MIRROR=.*; the full kiwi log is .*kiwi-DracutLive\.log/,
    );
  });

  it("on a host without rpm, kiwi's KiwiCommandNotFound for rpmdb points at the host-tools script", async () => {
    const { dir, build, cache } = await buildDirs();
    const { url: mirror } = await loopbackMirror(() => 200);
    // This host's /usr/bin without rpmdb, the tool kiwi asked for on the issue's fresh machine.
    const bin = join(dir, "bin");
    await mkdir(bin);
    for (const name of await readdir("/usr/bin")) if (name !== "rpmdb") await symlink(join("/usr/bin", name), join(bin, name));
    const result = await makeTarget("suse-leap-15.1", {
      BUILD_DIR: build,
      KIWI_SHARED_CACHE_DIR: cache,
      RECON_ZYPPER_MIRROR: mirror,
      PATH: `${bin}:/usr/sbin`,
    });
    const output = result.all ?? "";
    expect(result.exitCode, output).toBe(1);
    expect(output).toContain(`recon: error: kiwi-ng failed for suse-leap-15.1/DracutLive`);
    expect(output).toContain(`in stage 'prepare': KiwiCommandNotFound: Command "rpmdb" not found`);
    expect(output).toContain("recon: hint: the build host lacks 'rpmdb': run scripts/install-host-tools.sh build as root");
  });
});
