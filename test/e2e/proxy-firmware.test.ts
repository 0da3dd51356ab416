/**
 * proxyDHCP with real firmware: on a segment whose addresses come from the site's own DHCP
 * server, `recon master` (proxy mode, decided by its probe) must still get real PXE clients to
 * iPXE and their per-MAC script. A UEFI VM (OVMF's own network stack, no iPXE ROM) asks the
 * proxy on port 4011 and fetches ipxe.efi by TFTP; a BIOS VM (qemu's iPXE ROM, user-class
 * iPXE) gets the script URL directly. Both must get their address from the site server, none
 * from recon. Everything runs in namespaces made here; VMs and namespaces are removed even when a
 * step fails. The kernel served is a placeholder: this test ends at "script and kernel fetched".
 */
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLab, netnsWrapper, type Lab } from "../../src/lab/netns.js";
import { startVm, type RunningVm } from "../../src/lab/vm.js";
import { execaRunner } from "../../src/lib/run.js";
import { startMasterInNetns, testMasterArgs, waitForMaster, type MasterProcess } from "../helpers/master-process.js";
import { repoRoot } from "../helpers/repo.js";
import { stopChild } from "../helpers/stop-child.js";
import { budgetMs } from "../helpers/tier-budget.js";
import { vmSubject } from "../helpers/wait.js";

const PREFIX = `rcn-x${process.pid % 100000}`;
const SITE_SERVER = "10.81.0.2";
const UEFI_MAC = "52:54:00:81:00:07";
const BIOS_MAC = "52:54:00:81:00:01";
const artefacts = join(repoRoot, "test-results", "e2e-proxy-firmware");
// docs/lab-facts.md: under TCG a UEFI PXE boot reaches iPXE in ~22 s, BIOS ~10 s, with a core free;
// 3 min is ~8x that, for busy cores. Each wait also fails at once when the master or the VM exits.
const FIRMWARE_TIMEOUT_MS = Number(process.env.RECON_FIRMWARE_TIMEOUT_MS ?? 3 * 60_000);

let work: string;
let lab: Lab | undefined;
const children: ResultPromise[] = [];
const vms: RunningVm[] = [];
let proc: MasterProcess | undefined;

beforeAll(async () => {
  await mkdir(artefacts, { recursive: true });
  work = await mkdtemp(join("/var/tmp", "recon-e2e-proxy-"));
  await chmod(work, 0o755);
  const httpRoot = join(work, "http");
  await mkdir(join(httpRoot, "isos"), { recursive: true });
  await mkdir(join(httpRoot, "install", "test"), { recursive: true });
  await writeFile(join(httpRoot, "isos", "test.iso"), Buffer.alloc(4096, 3));
  await writeFile(join(httpRoot, "install", "test", "linux"), Buffer.alloc(4096, 1));
  await writeFile(join(httpRoot, "install", "test", "initrd"), Buffer.alloc(4096, 2));
  await writeFile(join(httpRoot, "install", "test", "boot.json"), JSON.stringify({ imageKernelArgs: [] }));

  lab = await createLab(execaRunner, { prefix: PREFIX, bridge: "rcnbr5" });
  const site = await lab.addHost({ name: "site", mac: "52:54:00:81:00:fe", address: `${SITE_SERVER}/24` });
  await lab.addTap("rcntapu");
  await lab.addTap("rcntapb");
  // The site's own DHCP server: addresses only, no PXE options at all.
  await writeFile(
    join(work, "site-dnsmasq.conf"),
    [
      "port=0",
      "interface=eth0",
      "bind-interfaces",
      "no-ping",
      "dhcp-range=10.81.0.100,10.81.0.150,255.255.255.0,1h",
      `dhcp-leasefile=${join(work, "site.leases")}`,
      `pid-file=${join(work, "site.pid")}`,
      "dhcp-authoritative",
      "",
    ].join("\n"),
  );
  children.push(
    execa("ip", ["netns", "exec", site.ns, "dnsmasq", "--keep-in-foreground", "--log-facility=-", `--conf-file=${join(work, "site-dnsmasq.conf")}`], {
      reject: false,
    }),
  );
  await writeFile(join(work, "site.yaml"), ["interface: rcnbr5", "address: 10.81.0.1/24", "dhcp:", "  mode: auto", "http:", "  port: 8080", ""].join("\n"));
  await new Promise((r) => setTimeout(r, 500));
  proc = startMasterInNetns(lab.ns, testMasterArgs(work, { httpRoot: httpRoot, probeTimeoutMs: 2000 }));
  children.push(proc.child);
  await waitForMaster(proc, /msg="master ready"/, 60_000);
}, 120_000);

afterAll(async () => {
  try {
    await proc?.stop();
    for (const vm of vms) await vm.stop();
    for (const child of children.reverse()) await stopChild(child);
  } finally {
    if (proc) await writeFile(join(artefacts, "master.log"), proc.log()).catch(() => undefined);
    await lab?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  }
});

describe("proxyDHCP with real PXE firmware", () => {
  it("recon heard the site's server and serves proxyDHCP only", () => {
    expect(proc!.log()).toMatch(/msg="dhcp mode decided" mode=proxy/);
  });

  it(
    "a UEFI VM (OVMF, no iPXE ROM) gets ipxe.efi through the proxy and then its per-MAC script",
    async () => {
      const vars = join(work, "uefi.vars.fd");
      await copyFile("/usr/share/OVMF/OVMF_VARS_4M.fd", vars);
      const vm = startVm(
        {
          name: "recon-proxy-uefi",
          memoryMiB: 512,
          cpus: 1,
          firmware: "uefi",
          ovmfCode: "/usr/share/OVMF/OVMF_CODE_4M.fd",
          ovmfVars: vars,
          disks: [],
          nics: [{ tap: "rcntapu", mac: UEFI_MAC, bootIndex: 0, romfile: "" }],
          serialLog: join(artefacts, "uefi.serial.log"),
        },
        { wrapper: netnsWrapper(lab!.ns) },
      );
      vms.push(vm);
      const started = Date.now();
      await waitForMaster(proc!, new RegExp(`msg="boot script served" mac=${UEFI_MAC}`), budgetMs(FIRMWARE_TIMEOUT_MS), [vmSubject(vm)]);
      const log = proc!.log();
      // The firmware's TFTP fetch of ipxe.efi, as recon's dnsmasq logged it.
      expect(log).toMatch(/ipxe\.efi/);
      await vm.stop();
      process.stdout.write(`${JSON.stringify({ figure: "proxy-uefi-firmware-to-script", ms: Date.now() - started })}\n`);
    },
    FIRMWARE_TIMEOUT_MS + 30_000,
  );

  it(
    "a BIOS VM (qemu's iPXE ROM) gets the script URL through the proxy",
    async () => {
      const vm = startVm(
        {
          name: "recon-proxy-bios",
          memoryMiB: 512,
          cpus: 1,
          firmware: "bios",
          disks: [],
          nics: [{ tap: "rcntapb", mac: BIOS_MAC, bootIndex: 0 }],
          serialLog: join(artefacts, "bios.serial.log"),
          // SeaBIOS copies the text screen (and so iPXE's messages) to the serial port.
          extra: ["-fw_cfg", "name=etc/sercon-port,string=0x3f8"],
        },
        { wrapper: netnsWrapper(lab!.ns) },
      );
      vms.push(vm);
      const started = Date.now();
      await waitForMaster(proc!, new RegExp(`msg="boot script served" mac=${BIOS_MAC}`), budgetMs(FIRMWARE_TIMEOUT_MS), [vmSubject(vm)]);
      await vm.stop();
      process.stdout.write(`${JSON.stringify({ figure: "proxy-bios-firmware-to-script", ms: Date.now() - started })}\n`);
    },
    FIRMWARE_TIMEOUT_MS + 30_000,
  );

  it("both VMs got their addresses from the site server, none from recon", async () => {
    const siteLeases = await readFile(join(work, "site.leases"), "utf8");
    expect(siteLeases).toContain(UEFI_MAC);
    expect(siteLeases).toContain(BIOS_MAC);
    // Must exist (dnsmasq creates it at start, also in proxy mode) and be empty.
    const reconLeases = await readFile(join(work, "run", "dnsmasq.leases"), "utf8");
    expect(reconLeases.trim()).toBe("");
    // And the master followed them through its API (script served → ipxe phase at least).
    const api = await execa("ip", ["netns", "exec", lab!.ns, "curl", "--silent", "--max-time", "10", "http://10.81.0.1:8080/api/v1/nodes"]);
    const macs = (JSON.parse(api.stdout) as { nodes: { mac: string; phases: Record<string, string> }[] }).nodes;
    for (const mac of [UEFI_MAC, BIOS_MAC]) expect(macs.find((node) => node.mac === mac)?.phases).toHaveProperty("ipxe");
  });
});
