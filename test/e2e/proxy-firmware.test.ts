/**
 * proxyDHCP with real firmware: on a segment whose addresses come from the site's own DHCP
 * server, `recon master` (proxy mode, decided by its probe) must still get real firmware to its
 * second stage and its per-MAC decision, with a default site config (no per-node setting):
 * - a Secure Boot enforcing UEFI VM (OVMF, Microsoft keys, no iPXE ROM) asks the proxy on port
 *   4011 and is handed the proxy default, Debian's unsigned ipxe.efi, and refuses it (`Access
 *   Denied`): the negative control, enforcement is really on;
 * - the same firmware, its host entry picking shim: shim is started and starts Debian's signed GRUB
 *   (both by TFTP from recon), but that GRUB takes its TFTP server from the site server's answer and
 *   never asks recon for its configuration (why shim is not the proxy default; docs/lab-facts.md);
 * - a UEFI HTTP-boot VM (PXE off, HTTP boot first) gets its URL from recon's own responder (dnsmasq's
 *   proxy mode ignores HTTPClient): Microsoft-signed shim, which loads the HTTP-capable Debian-signed GRUB
 *   beside it, which reads its per-MAC file from recon by HTTP, with no TFTP at all;
 * - the same HTTP boot with Secure Boot enforcing does the same (the chain is signed end to end);
 * - a BIOS VM (qemu's iPXE ROM, user-class iPXE) gets the script URL directly.
 * All must get their address from the site server, none from recon. Everything runs in namespaces
 * made here; VMs and namespaces are removed even when a step fails. The kernel served is a
 * placeholder: this test ends at "second stage read this machine's decision and fetched the kernel"
 * (GRUB then refuses the placeholder and returns to the firmware).
 */
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLab, netnsWrapper, type Lab } from "../../src/lab/netns.js";
import { startVm, type RunningVm } from "../../src/lab/vm.js";
import { ovmfFiles, type Firmware } from "../../src/lab/qemu.js";
import { execaRunner } from "../../src/lib/run.js";
import { startMasterInNetns, testMasterArgs, waitForMaster, type MasterProcess } from "../helpers/master-process.js";
import { repoRoot } from "../helpers/repo.js";
import { stopChild } from "../helpers/stop-child.js";
import { budgetMs } from "../helpers/tier-budget.js";
import { vmSubject } from "../helpers/wait.js";

const PREFIX = `rcn-x${process.pid % 100000}`;
const SITE_SERVER = "10.81.0.2";
const UEFI_MAC = "52:54:00:81:00:07";
/** Secure Boot firmware whose host entry picks shim (the default in proxy mode is ipxe.efi). */
const SHIM_MAC = "52:54:00:81:00:09";
const HTTP_MAC = "52:54:00:81:00:16";
const HTTP_SB_MAC = "52:54:00:81:00:17";
const BIOS_MAC = "52:54:00:81:00:01";
// docs/lab-facts.md, "Secure Boot and HTTP boot firmware": OVMF's line for a boot option it refused / started.
const REFUSED = /BdsDxe: failed to load Boot[0-9A-F]{4} "UEFI (PXEv4|HTTPv4) \(MAC:[0-9A-F]{12}\)"[^\n]*: Access Denied/;
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
  for (const tap of ["rcntapu", "rcntapn", "rcntaph", "rcntaps", "rcntapb"]) await lab.addTap(tap);
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
  await writeFile(
    join(work, "site.yaml"),
    [
      "interface: rcnbr5",
      "address: 10.81.0.1/24",
      "dhcp:",
      "  mode: auto",
      "http:",
      "  port: 8080",
      "hosts:",
      `  ${SHIM_MAC}: { firmwareFile: shimx64.efi }`,
      "",
    ].join("\n"),
  );
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

  /** A diskless UEFI VM of `firmware` on `tap` (no option ROM: OVMF's own network stack). */
  async function uefiVm(name: string, firmware: Firmware, tap: string, mac: string): Promise<RunningVm> {
    const files = ovmfFiles(firmware)!;
    const vars = join(work, `${name}.vars.fd`);
    await copyFile(files.varsTemplate, vars);
    const vm = startVm(
      {
        name: `recon-proxy-${name}`,
        memoryMiB: 512,
        cpus: 1,
        firmware,
        ovmfCode: files.code,
        ovmfVars: vars,
        disks: [],
        nics: [{ tap, mac, bootIndex: 0, romfile: "" }],
        serialLog: join(artefacts, `${name}.serial.log`),
      },
      { wrapper: netnsWrapper(lab!.ns) },
    );
    vms.push(vm);
    return vm;
  }

  /** The address the site server leased to `mac` (the peers never get one from recon). */
  async function siteAddress(mac: string): Promise<string> {
    const line = (await readFile(join(work, "site.leases"), "utf8")).split("\n").find((l) => l.includes(mac));
    const ip = line?.split(" ")[2];
    expect(ip, `no site lease for ${mac}`).toMatch(/^10\.81\.0\.\d+$/);
    return ip!;
  }

  it(
    "Secure Boot enforcing UEFI in proxy mode: the default ipxe.efi is refused (the negative control); shim is started but Debian's GRUB never asks recon",
    async () => {
      const started = Date.now();
      const unsigned = await uefiVm("uefi-sb", "uefi-sb", "rcntapu", UEFI_MAC);
      const shim = await uefiVm("uefi-sb-shim", "uefi-sb", "rcntapn", SHIM_MAC);
      // The proxy default for UEFI is ipxe.efi (plan-boot.ts defaultUefiFirstStage): Secure Boot firmware refuses it.
      const refused = await unsigned.waitForSerial(REFUSED, budgetMs(FIRMWARE_TIMEOUT_MS));
      expect(refused).toMatch(/NBP filename is ipxe\.efi/);
      expect(refused).toMatch(/PXEv4/);
      expect(proc!.log()).not.toMatch(new RegExp(`msg="boot script served" mac=${UEFI_MAC}`));
      // The host entry picks shim: the same firmware starts it and shim starts Debian's signed GRUB, from recon by TFTP.
      await waitForMaster(proc!, new RegExp(`component=grub msg="grub config written" mac=${SHIM_MAC} plan=boot`), budgetMs(FIRMWARE_TIMEOUT_MS), [
        vmSubject(shim),
      ]);
      const grub = await shim.waitForSerial(/Welcome to GRUB!/, budgetMs(FIRMWARE_TIMEOUT_MS));
      expect(grub).toMatch(/BdsDxe: starting Boot[0-9A-F]{4} "UEFI PXEv4/);
      expect(proc!.log()).toMatch(/msg=tftp-sent .*file=grubx64\.efi/);
      // Measured (docs/lab-facts.md): that GRUB takes its TFTP server from the site server's answer, so it never
      // asks recon for grub/grub.cfg (it ends at its prompt minutes later); hence ipxe.efi as the proxy default.
      // Authoritative, the same GRUB asks within seconds (lab.test.ts): 30 s of silence is the evidence here.
      await new Promise((resolve) => setTimeout(resolve, 30_000));
      expect(shim.exited(), "the shim VM exited").toBe(false);
      expect(proc!.log()).not.toMatch(/msg=tftp-sent .*file=grub\.cfg/);
      expect(proc!.log()).not.toMatch(/msg=tftp-not-found .*file=grub\.cfg/);
      await unsigned.stop();
      await shim.stop();
      process.stdout.write(`${JSON.stringify({ figure: "proxy-uefi-sb-firmware", ms: Date.now() - started })}\n`);
    },
    2 * FIRMWARE_TIMEOUT_MS + 90_000,
  );

  it(
    "UEFI HTTP boot, plain and Secure Boot enforcing: recon's responder gives shim's URL, shim the HTTP GRUB, GRUB its per-MAC file and kernel by HTTP, no TFTP",
    async () => {
      const started = Date.now();
      const http = await uefiVm("uefi-http", "uefi-http", "rcntaph", HTTP_MAC);
      const httpSb = await uefiVm("uefi-http-sb", "uefi-http-sb", "rcntaps", HTTP_SB_MAC);
      for (const [mac, vm] of [
        [HTTP_MAC, http],
        [HTTP_SB_MAC, httpSb],
      ] as const) {
        // Debian 13's GRUB keeps the boot URL's server and port as its $root (docs/lab-facts.md), whatever the site's DHCP said.
        await waitForMaster(proc!, new RegExp(`msg="grub config served" mac=${mac} .*via=http plan=boot`), budgetMs(FIRMWARE_TIMEOUT_MS), [vmSubject(vm)]);
        const log = proc!.log();
        expect(log).toMatch(new RegExp(`msg="http boot proxy offer sent" mac=${mac} arch=16 .*url=http://10\\.81\\.0\\.1:8080/tftp/uefi-http/shimx64\\.efi`));
        const ip = await siteAddress(mac);
        expect(log, "a TFTP transfer to the HTTP-boot machine").not.toMatch(new RegExp(`msg=tftp-(sent|failed|error) .*ip=${ip.replace(/\./g, "\\.")}\\b`));
        // GRUB ran the machine's own file: its echo, then the (placeholder) kernel fails and GRUB returns to the firmware.
        const serial = await vm.waitForSerial(new RegExp(`recon: booting ${mac} from http://10\\.81\\.0\\.1:8080/isos/test\\.iso`), budgetMs(60_000));
        expect(serial).toMatch(/BdsDxe: starting Boot[0-9A-F]{4} "UEFI HTTPv4/);
        expect(serial).not.toMatch(/UEFI PXEv4/);
        expect(serial).not.toMatch(REFUSED);
      }
      expect(proc!.log()).toMatch(/msg="http boot responder listening"/);
      await http.stop();
      await httpSb.stop();
      process.stdout.write(`${JSON.stringify({ figure: "proxy-uefi-http-firmware-to-grub-file", ms: Date.now() - started })}\n`);
    },
    2 * FIRMWARE_TIMEOUT_MS + 60_000,
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

  it("every VM got its address from the site server, none from recon", async () => {
    const siteLeases = await readFile(join(work, "site.leases"), "utf8");
    for (const mac of [UEFI_MAC, SHIM_MAC, HTTP_MAC, HTTP_SB_MAC, BIOS_MAC]) expect(siteLeases, mac).toContain(mac);
    // Must exist (dnsmasq creates it at start, also in proxy mode) and be empty.
    const reconLeases = await readFile(join(work, "run", "dnsmasq.leases"), "utf8");
    expect(reconLeases.trim()).toBe("");
    // And the master followed them through its API (script served → ipxe phase at least).
    const api = await execa("ip", ["netns", "exec", lab!.ns, "curl", "--silent", "--max-time", "10", "http://10.81.0.1:8080/api/v1/nodes"]);
    const macs = (JSON.parse(api.stdout) as { nodes: { mac: string; phases: Record<string, string> }[] }).nodes;
    for (const mac of [HTTP_MAC, HTTP_SB_MAC, BIOS_MAC]) expect(macs.find((node) => node.mac === mac)?.phases).toHaveProperty("ipxe");
  });
});
