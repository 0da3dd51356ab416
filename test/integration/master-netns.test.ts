/**
 * `recon master` as a real process inside a network namespace made for this run (the safety
 * rule: its dnsmasq binds only the lab bridge), with simulated peers in their own namespaces:
 * BIOS, UEFI and iPXE clients get the right file or URL from the master's real dnsmasq, the
 * iPXE script carries a per-boot token, an upload with that token is stored and the node's
 * state moves to `uploaded`. SIGTERM (by PID) stops the master and its dnsmasq.
 */
import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLab, runInNetns, type Lab, type SimulatedHost } from "../../src/lab/netns.js";
import { leaseWithUdhcpc } from "../../src/lab/simulated-peer.js";
import { execaRunner } from "../../src/lib/run.js";
import { startMasterInNetns, testMasterArgs, waitForMaster, type MasterProcess } from "../helpers/master-process.js";
import { repoRoot } from "../helpers/repo.js";
import { packFiles } from "../helpers/tarballs.js";
import { SCHEMA_VERSION } from "../../src/inventory/schema.js";
import { renderGrubHttpChainConfig } from "../../src/boot/render-grub.js";
import { DEBIAN_SHIM, RECON_GRUB_HTTP } from "../../src/master/boot-files/tftp-root.js";

const PREFIX = `rcn-m${process.pid % 100000}`;
const MASTER = "10.78.0.1";
const URL = `http://${MASTER}:8080`;
const UDHCPC_SCRIPT = join(repoRoot, "test/integration/helpers/udhcpc-report.sh");
const mac = (n: number) => `52:54:00:78:00:${n.toString(16).padStart(2, "0")}`;

let work: string;
let lab: Lab | undefined;
let proc: MasterProcess | undefined;
const peers: Record<string, SimulatedHost> = {};
const FLEET = 20;
const fleet: SimulatedHost[] = [];

/** curl inside a peer's namespace: the request crosses the lab bridge like a real peer's. */
async function peerCurl(peer: SimulatedHost, args: string[]) {
  return runInNetns(execaRunner, peer.ns, ["curl", "--silent", "--show-error", "--max-time", "10", ...args]);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-master-netns-"));
  // dnsmasq runs as nobody after start and must still read the run dir below this one.
  await chmod(work, 0o755);
  const httpRoot = join(work, "http");
  await mkdir(join(httpRoot, "isos"), { recursive: true });
  await mkdir(join(httpRoot, "install", "test"), { recursive: true });
  await writeFile(join(httpRoot, "isos", "test.iso"), Buffer.alloc(1024 * 1024, 7));
  await writeFile(join(httpRoot, "install", "test", "linux"), Buffer.alloc(4096, 1));
  await writeFile(join(httpRoot, "install", "test", "initrd"), Buffer.alloc(8192, 2));
  await writeFile(join(httpRoot, "install", "test", "boot.json"), JSON.stringify({ imageKernelArgs: ["console=ttyS0,115200n8"] }));
  await writeFile(join(work, "site.yaml"), ["interface: rcnbr1", `address: ${MASTER}/24`, "dhcp:", "  mode: auto", "http:", "  port: 8080", ""].join("\n"));
  lab = await createLab(execaRunner, { prefix: PREFIX, bridge: "rcnbr1" });
  for (const [name, n] of [
    ["bios", 1],
    ["uefi", 2],
    ["ipxe", 3],
  ] as const) {
    peers[name] = await lab.addHost({ name, mac: mac(n) });
  }
  for (let n = 0; n < FLEET; n++) fleet.push(await lab.addHost({ name: `f${n}`, mac: mac(0x40 + n) }));
  proc = startMasterInNetns(lab.ns, testMasterArgs(work, { httpRoot: httpRoot, probeTimeoutMs: 1500 }));
  await waitForMaster(proc, /msg="master ready"/, 30_000);
  expect(proc.log()).toMatch(/msg="master ready" mode=authoritative/);
}, 60_000);

afterAll(async () => {
  try {
    await proc?.stop();
  } finally {
    await lab?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  }
});

describe("recon master in a network namespace", () => {
  it("probed, found no other DHCP server and serves addresses (authoritative)", () => {
    expect(proc!.log()).toMatch(/msg="dhcp mode decided" mode=authoritative/);
    expect(proc!.log()).not.toMatch(/bad dynamic directory/);
    expect(proc!.log()).toMatch(/msg="http service listening"/);
  });

  it.each([
    ["bios", "undionly.kpxe"],
    // #11: authoritative, a UEFI client's default is Microsoft-signed shim (then Debian's signed GRUB).
    ["uefi", "shimx64.efi"],
    ["ipxe", `${URL}/boot.ipxe`],
  ] as const)("a %s client gets %s from the master", async (name, bootFile) => {
    const outcome = await leaseWithUdhcpc(
      execaRunner,
      peers[name]!.ns,
      { dev: peers[name]!.dev, firmware: name, script: UDHCPC_SCRIPT },
      { attempts: 3, attemptTimeoutMs: 10_000 },
    );
    expect(outcome.lease, outcome.output).toBeDefined();
    expect(outcome.lease!.serverId).toBe(MASTER);
    expect(outcome.lease!.bootFile).toBe(bootFile);
  });

  it.each([
    ["undionly.kpxe", "/usr/lib/ipxe/undionly.kpxe"],
    ["ipxe.efi", "/usr/lib/ipxe/ipxe.efi"],
    ["snponly.efi", "/usr/lib/ipxe/snponly.efi"],
    ["shimx64.efi", "/usr/lib/shim/shimx64.efi.signed"],
    ["grubx64.efi", "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed"],
  ])("serves %s by TFTP byte-identical to %s (the TFTP root is symlinks into the medium)", async (file, source) => {
    const out = join(work, file);
    const result = await runInNetns(execaRunner, peers.bios!.ns, ["curl", "--silent", "--max-time", "10", "--output", out, `tftp://${MASTER}/${file}`]);
    expect(result.exitCode, result.stderr).toBe(0);
    const hash = async (f: string) =>
      createHash("sha256")
        .update(await readFile(f))
        .digest("hex");
    expect(await hash(out)).toBe(await hash(source));
  });

  it("gives the iPXE peer a per-MAC script with a token, and stores its upload made with that token", async () => {
    const peer = peers.ipxe!;
    const chain = await peerCurl(peer, [`${URL}/boot.ipxe`]);
    expect(chain.stdout).toMatch(/^#!ipxe/);
    const hexhyp = peer.mac.replace(/:/g, "-");
    const script = await peerCurl(peer, [`${URL}/boot/${hexhyp}.ipxe`]);
    expect(script.stdout).toContain(`kernel --name linux ${URL}/install/test/linux`);
    expect(script.stdout).toContain(`root=live:${URL}/isos/test.iso`);
    const token = /recon\.token=(\S+)/.exec(script.stdout)?.[1];
    expect(token).toBeDefined();
    expect(proc!.log()).not.toContain(token!);

    const tarball = join(work, "upload.tar.gz");
    // A real agent upload (captured from a VM dressed as a Dell R640; test/fixtures/inventory).
    const fixture = join(repoRoot, "test/fixtures/inventory/vm-bios-dell");
    const files: Record<string, Buffer> = {};
    for (const path of await readdir(fixture, { recursive: true })) {
      if (path === "qemu-argv.txt") continue;
      const content = await readFile(join(fixture, path)).catch(() => undefined);
      if (content !== undefined) files[path] = content;
    }
    await writeFile(tarball, await packFiles(join(work, "pack"), files));
    const denied = await peerCurl(peer, [
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "-X",
      "POST",
      "-H",
      "Content-Type: application/gzip",
      "--data-binary",
      `@${tarball}`,
      `${URL}/api/v1/nodes/${peer.mac}/inventory`,
    ]);
    expect(denied.stdout).toBe("401");
    const upload = await peerCurl(peer, [
      "-w",
      "\n%{http_code}",
      "-X",
      "POST",
      "-H",
      `Authorization: Bearer ${token}`,
      "-H",
      "Content-Type: application/gzip",
      "--data-binary",
      `@${tarball}`,
      `${URL}/api/v1/nodes/${peer.mac}/inventory`,
    ]);
    expect(upload.stdout.trim().split("\n").at(-1)).toBe("201");
    const node = JSON.parse((await peerCurl(peer, [`${URL}/api/v1/nodes/${peer.mac}`])).stdout);
    expect(JSON.stringify(node)).toContain('"phase":"uploaded"');
    const stored = await readdir(join(work, "data", "nodes", hexhyp, "uploads"));
    expect(stored).toHaveLength(1);
    // Normalized after the acknowledgement (derived data), from the stored raw upload.
    const inventoryPath = join(work, "data", "nodes", hexhyp, "inventory.json");
    const deadline = Date.now() + 10_000;
    let inventory: { schema_version: number; system_vendor: Record<string, unknown> } | undefined;
    while (inventory === undefined && Date.now() < deadline) {
      inventory = await readFile(inventoryPath, "utf8").then(
        (text) => JSON.parse(text),
        () => undefined,
      );
      if (inventory === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    expect(inventory?.schema_version).toBe(SCHEMA_VERSION);
    expect(inventory?.system_vendor).toMatchObject({ manufacturer: "Dell Inc.", product_name: "PowerEdge R640", serial_number: "CZ7R3X2" });
    // The log line follows the write.
    await waitForMaster(proc!, /msg="inventory normalized" mac=52:54:00:78:00:03/, 5_000);
  });

  it(`${FLEET} BIOS peers at once all get a lease and a byte-identical undionly.kpxe from recon master`, async () => {
    const expected = createHash("sha256")
      .update(await readFile("/usr/lib/ipxe/undionly.kpxe"))
      .digest("hex");
    const started = Date.now();
    const results = await Promise.all(
      fleet.map(async (peer, index) => {
        // docs/lab-facts.md: with no-ping, a few of 20 simultaneous clients may get DHCPNAK and retry.
        const outcome = await leaseWithUdhcpc(
          execaRunner,
          peer.ns,
          { dev: peer.dev, firmware: "bios", script: UDHCPC_SCRIPT },
          { attempts: 4, attemptTimeoutMs: 10_000 },
        );
        if (!outcome.lease) return { ok: false, why: outcome.output };
        const out = join(work, `fleet-${index}.kpxe`);
        const tftp = await runInNetns(execaRunner, peer.ns, [
          "curl",
          "--silent",
          "--max-time",
          "20",
          "--output",
          out,
          `tftp://${MASTER}/${outcome.lease.bootFile}`,
        ]);
        if (tftp.exitCode !== 0) return { ok: false, why: tftp.stderr };
        const hash = createHash("sha256")
          .update(await readFile(out))
          .digest("hex");
        return { ok: hash === expected, why: `sha256 ${hash}` };
      }),
    );
    const failed = results.filter((r) => !r.ok);
    expect(failed, JSON.stringify(failed).slice(0, 2000)).toEqual([]);
    process.stdout.write(`${JSON.stringify({ figure: "recon-master-fleet", peers: FLEET, wallMs: Date.now() - started })}\n`);
  });

  it("serves UEFI HTTP boot's chain through nginx: shim and the HTTP GRUB from /tftp/uefi-http/ (shim's double slash too), GRUB's chain file and a per-MAC file with a token, kernel and initrd by HTTP", async () => {
    const peer = peers.uefi!;
    const fetched = async (url: string) => {
      const out = join(work, `got-${createHash("sha256").update(url).digest("hex").slice(0, 8)}`);
      const got = await runInNetns(execaRunner, peer.ns, ["curl", "--silent", "--fail", "--max-time", "10", "--output", out, url]);
      expect(got.exitCode, `${url}: ${got.stderr}`).toBe(0);
      return readFile(out);
    };
    expect((await fetched(`${URL}/tftp/uefi-http/shimx64.efi`)).equals(await readFile(DEBIAN_SHIM))).toBe(true);
    expect((await fetched(`${URL}/tftp/uefi-http//grubx64.efi`)).equals(await readFile(RECON_GRUB_HTTP))).toBe(true);
    const chain = (await fetched(`${URL}/grub/grub.cfg`)).toString("utf8");
    expect(chain).toBe(renderGrubHttpChainConfig());
    // GRUB sends HEAD before each GET: the HEAD is answered but is not a served decision.
    const head = await peerCurl(peer, ["--head", "-w", "%{http_code}", "-o", "/dev/null", `${URL}/grub/nodes/${peer.mac}.cfg`]);
    expect(head.stdout).toBe("200");
    const own = (await fetched(`${URL}/grub/nodes/${peer.mac}.cfg`)).toString("utf8");
    const token = /'recon\.token=([^']+)'/.exec(own)?.[1];
    expect(token, own).toBeDefined();
    expect(proc!.log()).not.toContain(token!);
    expect(own).toContain("\nif ! linux /install/test/linux 'root=live:");
    expect(own).toContain(`'BOOTIF=01-${peer.mac.replaceAll(":", "-")}'`);
    expect(own).toContain("\nif ! initrd /install/test/initrd; then\n");
    expect(own).not.toContain("tftp");
    expect(proc!.log().match(new RegExp(`msg="grub config served" mac=${peer.mac} .*via=http plan=boot`, "g"))).toHaveLength(1);
    const bad = await peerCurl(peer, ["-w", "\n%{http_code}", `${URL}/grub/nodes/not-a-mac.cfg`]);
    expect(bad.stdout.trim().split("\n").at(-1)).toBe("400");
  });

  it("sends kernel, initrd and ISO through nginx (ranges, byte-identical) and turns its access log into node state", async () => {
    expect(proc!.log()).toMatch(/msg="http service listening".* server=nginx/);
    const peer = peers.bios!; // leased above: the master knows its IP
    const iso = await readFile(join(work, "http", "isos", "test.iso"));
    // In boot order: kernel and initrd (iPXE), then the ISO (dracut's livenet).
    for (const file of ["linux", "initrd"]) {
      const got = await runInNetns(execaRunner, peer.ns, [
        "curl",
        "--silent",
        "--fail",
        "--max-time",
        "10",
        "--output",
        join(work, file),
        `${URL}/install/test/${file}`,
      ]);
      expect(got.exitCode, got.stderr).toBe(0);
      expect((await readFile(join(work, file))).equals(await readFile(join(work, "http", "install", "test", file)))).toBe(true);
    }
    const full = await runInNetns(execaRunner, peer.ns, [
      "curl",
      "--silent",
      "--fail",
      "--max-time",
      "10",
      "--output",
      join(work, "got.iso"),
      `${URL}/isos/test.iso`,
    ]);
    expect(full.exitCode, full.stderr).toBe(0);
    expect((await readFile(join(work, "got.iso"))).equals(iso)).toBe(true);
    const range = await runInNetns(execaRunner, peer.ns, [
      "curl",
      "--silent",
      "--fail",
      "--max-time",
      "10",
      "-D",
      "-",
      "-r",
      "1000-1099",
      "--output",
      join(work, "part.iso"),
      `${URL}/isos/test.iso`,
    ]);
    expect(range.stdout).toMatch(/^HTTP\/1\.1 206/);
    expect(range.stdout).toMatch(/Content-Range: bytes 1000-1099\/1048576/i);
    expect((await readFile(join(work, "part.iso"))).equals(iso.subarray(1000, 1100))).toBe(true);
    // A file nginx's workers may not read (dracut's initrd is 0600) still reaches the peer, via recon.
    const privateFile = join(work, "http", "install", "test", "private.bin");
    await writeFile(privateFile, Buffer.alloc(5000, 9), { mode: 0o600 });
    await chmod(privateFile, 0o600);
    const viaRecon = await runInNetns(execaRunner, peer.ns, [
      "curl",
      "--silent",
      "--fail",
      "--max-time",
      "10",
      "--output",
      join(work, "private.got"),
      `${URL}/install/test/private.bin`,
    ]);
    expect(viaRecon.exitCode, viaRecon.stderr).toBe(0);
    expect((await readFile(join(work, "private.got"))).equals(Buffer.alloc(5000, 9))).toBe(true);
    // A missing static file falls through to recon's JSON 404, not nginx's HTML page.
    const missing = await peerCurl(peer, ["-w", "\n%{http_code}", `${URL}/isos/absent.iso`]);
    expect(missing.stdout.trim().split("\n").at(-1)).toBe("404");
    expect(missing.stdout).toContain('"code":"NOT_FOUND"');
    // nginx's access log reaches recon (syslog on loopback): kernel and initrd sent, image bytes counted.
    const deadline = Date.now() + 10_000;
    let node: { phases: Record<string, string>; imageBytes: number } | undefined;
    while (Date.now() < deadline) {
      node = JSON.parse((await peerCurl(peer, [`${URL}/api/v1/nodes/${peer.mac}`])).stdout).node;
      if (node?.phases.kernel !== undefined && node.imageBytes >= iso.length + 100) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(node?.phases, JSON.stringify(node)).toMatchObject({ kernel: expect.any(String), image: expect.any(String) });
    expect(node?.imageBytes).toBe(iso.length + 100);
  });

  it("tracked the DHCP leases from dnsmasq's log as node state", async () => {
    const nodes = JSON.parse((await peerCurl(peers.bios!, [`${URL}/api/v1/nodes`])).stdout);
    const text = JSON.stringify(nodes);
    for (const n of [1, 2, 3]) expect(text).toContain(mac(n));
    for (const peer of fleet) expect(text).toContain(peer.mac);
  });

  it("stops with its dnsmasq on SIGTERM", async () => {
    const pidFile = join(work, "run", "dnsmasq.pid");
    // Both pid files must be there: a missing one fails here instead of skipping the check below.
    const dnsmasqPid = Number((await readFile(pidFile, "utf8")).trim());
    expect(dnsmasqPid).toBeGreaterThan(1);
    // nginx removes its pid file when it stops: read it first.
    const nginxPid = Number((await readFile(join(work, "run", "nginx.pid"), "utf8")).trim());
    expect(nginxPid).toBeGreaterThan(1);
    process.kill(proc!.child.pid!, "SIGTERM");
    const result = await proc!.child;
    expect(result.signal, proc!.log().slice(-2000)).toBeUndefined();
    expect(result.exitCode).toBe(0);
    expect(proc!.log()).toContain('msg="master stopped"');
    expect(() => process.kill(dnsmasqPid, 0)).toThrow();
    expect(() => process.kill(nginxPid, 0)).toThrow();
  });
});
