/**
 * `recon master` on a segment that already has a DHCP server (the usual data centre): with no
 * address configured it leases one from that server (dhclient, recon's own script), its probe
 * hears the server, it serves proxyDHCP only, and no peer ever gets an address from recon.
 * Everything runs in namespaces made here; the "site" server is a plain dnsmasq in its own.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLab, type Lab, type SimulatedHost } from "../../src/lab/netns.js";
import { leaseWithUdhcpc } from "../../src/lab/simulated-peer.js";
import { execaRunner } from "../../src/lib/run.js";
import { startMasterInNetns, testMasterArgs, waitForMaster, type MasterProcess } from "../helpers/master-process.js";
import { repoRoot } from "../helpers/repo.js";
import { stopChild } from "../helpers/stop-child.js";

const PREFIX = `rcn-p${process.pid % 100000}`;
const SITE_SERVER = "10.79.0.2";
const UDHCPC_SCRIPT = join(repoRoot, "test/integration/helpers/udhcpc-report.sh");
const mac = (n: number) => `52:54:00:79:00:${n.toString(16).padStart(2, "0")}`;

let work: string;
let lab: Lab | undefined;
let site: SimulatedHost;
const peers: SimulatedHost[] = [];
const children: ResultPromise[] = [];
let proc: MasterProcess | undefined;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-master-proxy-"));
  await chmod(work, 0o755);
  lab = await createLab(execaRunner, { prefix: PREFIX, bridge: "rcnbr3" });
  site = await lab.addHost({ name: "site", mac: mac(0xfe), address: `${SITE_SERVER}/24` });
  for (let n = 1; n <= 3; n++) peers.push(await lab.addHost({ name: `p${n}`, mac: mac(n) }));
  // The site's own DHCP server: addresses only, no PXE.
  await writeFile(
    join(work, "site-dnsmasq.conf"),
    [
      "port=0",
      "interface=eth0",
      "bind-interfaces",
      "no-ping",
      "dhcp-range=10.79.0.100,10.79.0.150,255.255.255.0,1h",
      `dhcp-leasefile=${join(work, "site.leases")}`,
      `pid-file=${join(work, "site.pid")}`,
      "dhcp-authoritative",
      "",
    ].join("\n"),
  );
  const siteServer = execa(
    "ip",
    ["netns", "exec", site.ns, "dnsmasq", "--keep-in-foreground", "--log-facility=-", `--conf-file=${join(work, "site-dnsmasq.conf")}`],
    { reject: false },
  );
  children.push(siteServer);
  await writeFile(join(work, "site.yaml"), ["interface: rcnbr3", "dhcp:", "  mode: auto", "http:", "  port: 8080", ""].join("\n"));
  await new Promise((r) => setTimeout(r, 500));
  proc = startMasterInNetns(lab.ns, testMasterArgs(work, { probeTimeoutMs: 2000 }));
  children.push(proc.child);
  await waitForMaster(proc, /msg="master ready"/, 60_000);
}, 90_000);

afterAll(async () => {
  try {
    await proc?.stop();
    for (const child of children.reverse()) await stopChild(child);
  } finally {
    await lab?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  }
});

describe("recon master beside a site DHCP server", () => {
  it("leases its own address from the site server", () => {
    expect(proc!.log()).toMatch(/msg="address leased from the site's DHCP server" interface=rcnbr3 address=10\.79\.0\.1[0-5]\d\/24/);
  });

  it("hears the site server and serves proxyDHCP only", () => {
    expect(proc!.log()).toMatch(/msg="dhcp mode decided" mode=proxy .*10\.79\.0\.2/);
    expect(proc!.log()).toMatch(/msg="master ready" mode=proxy/);
  });

  it("leaves every peer's address to the site server", async () => {
    for (const peer of peers) {
      const outcome = await leaseWithUdhcpc(
        execaRunner,
        peer.ns,
        { dev: peer.dev, firmware: "os", script: UDHCPC_SCRIPT },
        { attempts: 3, attemptTimeoutMs: 10_000 },
      );
      expect(outcome.lease, outcome.output).toBeDefined();
      expect(outcome.lease!.serverId).toBe(SITE_SERVER);
    }
    // The lease file must exist (dnsmasq creates it at start) and be empty: a missing file fails.
    const recons = await readFile(join(work, "run", "dnsmasq.leases"), "utf8");
    expect(recons.trim()).toBe("");
    expect(proc!.log()).not.toMatch(/component=dnsmasq .*DHCPACK/);
  });

  it("stops its dhclient and dnsmasq on SIGTERM", async () => {
    const master = proc!.child;
    const dhclientPid = Number((await readFile(join(work, "run", "dhclient.pid"), "utf8")).trim());
    expect(dhclientPid).toBeGreaterThan(1);
    process.kill(master.pid!, "SIGTERM");
    const result = await master;
    expect(result.exitCode).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    // Gone, or a zombie waiting for init to reap it (the daemonized dhclient's parent is init).
    const state = await readFile(`/proc/${dhclientPid}/stat`, "utf8").then(
      (t) => t.split(") ")[1]?.[0],
      () => "gone",
    );
    expect(["gone", "Z"]).toContain(state);
  });
});
