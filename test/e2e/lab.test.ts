/**
 * The virtual data centre end to end, on the real image (issue #5, "What must be shown"): `recon
 * lab` boots a master VM from a writable copy of the ISO as a USB stick (its RECON_DATA
 * partition carries the site config with two BMCs), and two diskless peers — one BIOS, one
 * UEFI with Secure Boot enforcing (Microsoft keys) — sit behind ipmi_sim BMCs on the lab bridge.
 * The master wakes both through IPMI; the BIOS peer PXE-boots iPXE, the Secure Boot peer shim →
 * Debian's signed GRUB → the signed kernel (all by TFTP, the default UEFI chain with no per-node
 * setting); each runs the agent, uploads and powers itself off. The Secure Boot peer's inventory says
 * `secure_boot: true` and the kernel's lockdown mode (#11). Burn-in is on in the lab's site config
 * (#12, short bounds): each inventory has stress-ng CPU and VM, memtester and fio-read on its disk
 * passed, and each peer's disk file hashes the same before the peer first ran and after it is off
 * (recon never writes a local disk). Asserted: both
 * inventories stored under the right MACs with the SMBIOS strings and disk sizes the lab gave
 * each VM; both peers off according to their BMCs; the master powered off and booted again from
 * the same stick still has them (and does not wake the peers again); `lab down` leaves no
 * namespace, process or file. Timings go to test-results/e2e-lab/timings.json (bench/lab.ts
 * turns the same run into a benchmark with a baseline).
 *
 * Time budget (2 cores, TCG, cached ISO): master boot 2–4 min, peers to upload 4–12 min in
 * parallel, confirm-off 1 min, master reboot 1–4 min: 10–25 min; +6 min when the ISO is built.
 * Measured: 697 s in all (126 s of it waiting for the image). Each wait is bounded from those
 * figures (about 2x the slowest measured) and clamped to the e2e tier's budget; each fails at
 * once when the VM, master or peer it waits on has exited (docs/testing.md).
 */
import { copyFile, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processIs, readPid } from "../../src/lab/bmc.js";
import { labUp, type RunningLab } from "../../src/lab/lab.js";
import { listNetns } from "../../src/lab/netns.js";
import { rwCopyLabel } from "../../src/boot/root-transport.js";
import { loadRecipe } from "../../src/build/sources.js";
import { printPeerPhaseTables } from "../../src/lab/phase-tables.js";
import { createLogger } from "../../src/lib/log.js";
import { execaRunner } from "../../src/lib/run.js";
import type { TimelineEntry } from "../../src/model/node-timeline.js";
import { debugfs } from "../helpers/image-inspect.js";
import { BUILD_TIMEOUT_MS, buildLiveIso } from "../helpers/live-iso.js";
import { repoRoot } from "../helpers/repo.js";
import { budgetMs } from "../helpers/tier-budget.js";
import { vmSubject, waitUntil, type WaitSubject } from "../helpers/wait.js";

const recipe = "debian-12";
/** The second image's label on the stick's data partition. */
const ALT_IMAGE = "debian-12-alt";
const artefacts = join(repoRoot, "test-results", "e2e-lab");
const MASTER_READY = /msg="master ready"/;
// Measured: master ready 64-178 s after lab up, reboot 64 s; peer power-on to inventory 195-312 s.
const MASTER_TIMEOUT_MS = 6 * 60_000;
const WAKE_TIMEOUT_MS = 2 * 60_000;
// Burn-in (src/lab/lab-plan.ts LAB_BURN_IN) adds about a minute per peer, bounded by its tests' limits.
// 2026-12-03, four peers at once on 2 cores: 556, 566 and 687 s (the Secure Boot peer, its initrd by TFTP).
// 2026-12-06 (clean clone, three peers, the xz ISO): nbd-rw 570 s, Secure Boot nfs 729 s, BIOS nbd 1070 s;
// hence 25 min (was 20). The e2e tier's own deadline (71 min after make test started) still caps the whole.
const UPLOAD_TIMEOUT_MS = 25 * 60_000;
const CONFIRM_OFF_S = 60;
/** A peer VM seen gone this long with no upload stored has died (it powers off only after). */
const PEER_GONE_MS = 30_000;

let lab: RunningLab | undefined;
/** sha256 of each peer's disk image file before it was first powered on. */
const diskHashes = new Map<string, string>();
let labDir: string;
let adminToken = "";
const started = Date.now();
const timings: Record<string, unknown> = {};
const log = createLogger({ component: "e2e-lab" }, { write: (line) => process.stderr.write(`${line}\n`) });

interface NodeDetail {
  node: { phase: string; image?: string; power?: { action: string; by: string; result: string } } | null;
  uploads: Array<{ id: string; receivedAt: string }>;
  timeline?: TimelineEntry[];
}

/** Polls `probe` (bounded, clamped to the tier's budget); fails at once when the master VM exited. */
async function poll<T>(what: string, timeoutMs: number, everyMs: number, probe: () => Promise<T | undefined>, subjects: WaitSubject[] = []): Promise<T> {
  return waitUntil({ what, timeoutMs: budgetMs(timeoutMs), everyMs, subjects: [vmSubject(lab!.master!), ...subjects] }, probe);
}

/** A peer's qemu (started by its BMC; PID in vm.pid) as a subject: gone for PEER_GONE_MS = exited. */
function peerSubject(peer: RunningLab["plan"]["peers"][number]): WaitSubject {
  let goneSince: number | undefined;
  let alive = true;
  const vmPidFile = join(peer.bmc.dir, "vm.pid");
  const check = async () => {
    const pid = await readPid(vmPidFile);
    alive = pid !== undefined && (await processIs(pid, /qemu-system/));
    goneSince = alive ? undefined : (goneSince ?? Date.now());
  };
  const timer = setInterval(() => void check().catch(() => undefined), 2000);
  timer.unref();
  void check().catch(() => undefined);
  return {
    name: `peer ${peer.name}'s VM`,
    exited: () => !alive && goneSince !== undefined && Date.now() - goneSince > PEER_GONE_MS,
    tail: async () => (await readFile(peer.serialLog, "utf8").catch((e: Error) => `(no serial log: ${e.message})`)).split("\n").slice(-40).join("\n"),
  };
}

/** The label of a node's writable copy (src/boot/root-transport.ts rwCopyLabel, for the stick's own image). */
function rwLabel(mac: string): string {
  return rwCopyLabel(recipe, mac);
}

/** A regexp literal for `text`. */
function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Matches a serial log that holds every one of `lines` (fixed texts), in any order. */
function everyLine(lines: string[]): RegExp {
  return new RegExp(lines.map((line) => `(?=[\\s\\S]*${escape(line)})`).join(""));
}

let masterReady = false;
/** Later steps need the master the first step saw ready: without it they fail at once. */
function needMaster(): void {
  expect(masterReady, "the master never became ready (see the first test)").toBe(true);
  expect(lab!.master!.exited(), "the master VM exited").toBe(false);
}

/** GET from the master's API over the lab bridge, with the admin token (read from its console). */
async function api(path: string): Promise<unknown> {
  const result = await execa(
    "ip",
    [
      "netns",
      "exec",
      lab!.plan.wireNs,
      "curl",
      "--silent",
      "--show-error",
      "--fail",
      "--max-time",
      "20",
      "-H",
      `Authorization: Bearer ${adminToken}`,
      `http://${lab!.plan.masterAddress}${path}`,
    ],
    { reject: false },
  );
  if (result.exitCode !== 0) throw new Error(`GET ${path}: ${result.stderr}`);
  return JSON.parse(result.stdout) as unknown;
}

async function keepSerialLogs(suffix: string): Promise<void> {
  if (!lab) return;
  await mkdir(artefacts, { recursive: true });
  for (const file of [lab.plan.master.vm.serialLog, ...lab.plan.peers.map((p) => p.serialLog)]) {
    await copyFile(file, join(artefacts, file.split("/").at(-1)!.replace(".serial.log", `${suffix}.serial.log`))).catch(() => undefined);
  }
}

beforeAll(
  async () => {
    await mkdir(artefacts, { recursive: true });
    const built = await buildLiveIso(recipe);
    expect(built.exitCode, built.output.slice(-3000)).toBe(0);
    timings.isoReadyS = Math.round((Date.now() - started) / 1000);
    labDir = join("/var/tmp", `recon-e2e-lab-${process.pid}`);
    // Two images side by side (#13): the stick's own and ALT_IMAGE on its data partition (images/<label>/, as
    // `recon images add` leaves it). ALT_IMAGE is the same build under another label — a second recipe's
    // build would cost another ~8 min of kiwi — so what is shown is the choice per host, not other bytes.
    const recipeKernelArgs = (await loadRecipe(join(repoRoot, "descriptions"), recipe)).kernelArgs;
    lab = await labUp(
      // The BIOS peer's root comes by NBD (#13): one boot shows both the NBD root and the BIOS chain.
      // The Secure Boot peer boots ALT_IMAGE (its host setting `image:`), the BIOS peers the stick's own, and
      // its root is ALT_IMAGE's tree from the master's kernel NFS server with a RAM overlay (root: nfs): one
      // boot shows Secure Boot, the second image and the NFS root. (The whole ISO by HTTP, the default, is
      // what every other e2e boots.)
      // A third peer (BIOS, root: nbd-rw) mounts its own writable copy of the image's root read-write: the one
      // holder; the test's own NBD client is refused while it holds it, and the copy stays on the stick.
      {
        peers: 3,
        firmware: ["bios", "uefi-sb", "bios"],
        roots: ["nbd", "nfs", "nbd-rw"],
        extraImages: [{ label: ALT_IMAGE, iso: built.iso, kernelArgs: recipeKernelArgs }],
        images: [undefined, ALT_IMAGE, undefined],
        iso: built.iso,
        dir: labDir,
        debug: false,
        confirmOffAfterS: CONFIRM_OFF_S,
      },
      { runner: execaRunner, log },
    );
    // recon never writes a local disk: each peer's disk file is hashed before the peer first runs
    // (the master wakes them only once it is up, a minute or more from here) and after it is off.
    await Promise.all(lab.plan.peers.map(async (peer) => diskHashes.set(peer.name, await sha256(peer.diskFile))));
    for (const peer of lab.plan.peers)
      expect(await readPid(join(peer.bmc.dir, "vm.pid")), `${peer.name} was powered on before its disk was hashed`).toBeUndefined();
  },
  BUILD_TIMEOUT_MS + 3 * 60_000,
);

afterAll(async () => {
  await keepSerialLogs("");
  await writeFile(join(artefacts, "timings.json"), `${JSON.stringify({ ...timings, wallS: Math.round((Date.now() - started) / 1000) }, null, 2)}\n`).catch(
    () => undefined,
  );
  await lab?.down();
});

describe("recon lab: a USB master wakes a BIOS and a Secure Boot UEFI peer through IPMI and stores both inventories", () => {
  it(
    "the master boots from the stick, reads the lab's site config and wakes both peers through their BMCs",
    async () => {
      const serial = await lab!.master!.waitForSerial(MASTER_READY, budgetMs(MASTER_TIMEOUT_MS));
      masterReady = true;
      timings.masterReadyS = Math.round((Date.now() - started) / 1000);
      expect(serial).toMatch(/msg="data partition plan" action=mount reason="found RECON_DATA on \/dev\/sd[a-z]3"/);
      expect(serial).toMatch(/msg="master ready" mode=authoritative interface=\S+ address=10\.77\.0\.1/);
      adminToken = /admin token \(needed from the network and for power\):\s+(\S+)/.exec(serial)?.[1] ?? "";
      expect(adminToken).toMatch(/^[A-Za-z0-9_-]{16,}$/);
      // Every BMC is asked at once: wait for every line, in whichever order they come.
      const woken = await lab!.master!.waitForSerial(
        everyLine(lab!.plan.peers.map((peer) => `component=power msg="bmc action" bmc=${peer.name} address=${peer.bmc.address} action=on by=wake result=ok`)),
        budgetMs(WAKE_TIMEOUT_MS),
      );
      // ipmi_sim has no chassis_control here: bootdev pxe is reported unsupported and skipped.
      expect(woken).toMatch(/msg="bmc action" bmc=peer1 address=10\.77\.0\.201 action=bootdev-pxe by=wake result=unsupported/);
      for (const peer of lab!.plan.peers) expect(await lab!.powerStatus(peer.name)).toBe("on");
    },
    MASTER_TIMEOUT_MS + WAKE_TIMEOUT_MS + 60_000,
  );

  it(
    "both peers PXE-boot, run the agent and their inventories are stored under their MACs",
    async () => {
      needMaster();
      const poweredOnAt = new Map<string, number>();
      for (const peer of lab!.plan.peers) {
        // The BMC's start script writes vm.pid at the instant of power on.
        poweredOnAt.set(peer.name, (await stat(join(peer.bmc.dir, "vm.pid"))).mtimeMs);
      }
      // While the nbd-rw peer holds its writable copy (from its agent's hello until it is off), a second
      // client — this test, from the lab bridge — is refused, and the master logs the refusal.
      const secondClient = Promise.all(
        lab!.plan.peers
          .filter((peer) => peer.root === "nbd-rw")
          .map(async (peer) => {
            await poll(
              `${peer.name}'s agent hello`,
              UPLOAD_TIMEOUT_MS,
              3000,
              async () => {
                const phase = ((await api(`/api/v1/nodes/${peer.mac}`)) as NodeDetail).node?.phase;
                return phase === "agent" ? true : undefined;
              },
              [peerSubject(peer)],
            );
            const url = `nbd://${lab!.plan.masterAddress}/${rwLabel(peer.mac)}`;
            const second = await execa("ip", ["netns", "exec", lab!.plan.wireNs, "nbdinfo", "--size", url], { reject: false, all: true, timeout: 30_000 });
            return { peer, exitCode: second.exitCode, said: second.all ?? "" };
          }),
      );
      const stored = await Promise.all(
        lab!.plan.peers.map(async (peer) => {
          const detail = await poll(
            `${peer.name}'s upload`,
            UPLOAD_TIMEOUT_MS,
            10_000,
            async () => {
              const body = (await api(`/api/v1/nodes/${peer.mac}`)) as NodeDetail;
              return body.uploads.length > 0 ? body : undefined;
            },
            [peerSubject(peer)],
          );
          const seconds = Math.round((Date.now() - poweredOnAt.get(peer.name)!) / 1000);
          timings[`${peer.name}PowerOnToInventoryS`] = seconds;
          log.info("inventory stored", { peer: peer.name, firmware: peer.firmware, seconds });
          return { peer, detail };
        }),
      );
      for (const { peer, detail } of stored) {
        const upload = detail.uploads[0]!;
        const dmidecode = await execa("ip", [
          "netns",
          "exec",
          lab!.plan.wireNs,
          "curl",
          "--silent",
          "--fail",
          "--max-time",
          "20",
          "-H",
          `Authorization: Bearer ${adminToken}`,
          `http://${lab!.plan.masterAddress}/nodes/${peer.mac.replace(/:/g, "-")}/${upload.id}/files/raw/dmidecode.txt`,
        ]);
        expect(dmidecode.stdout).toMatch(/System Information\n\s+Manufacturer: Recon Lab\n\s+Product Name: LabServer (BIOS|UEFI-SB)/);
        expect(dmidecode.stdout).toContain(`Serial Number: ${peer.smbios.serial}`);
        const inventory = await poll(`${peer.name}'s normalized inventory`, 2 * 60_000, 5000, async () => {
          const body = (await api(`/api/v1/nodes/${peer.mac}/inventory`)) as { inventory?: InventoryLike } & InventoryLike;
          const inv = body.inventory ?? body;
          return inv.system_vendor ? inv : undefined;
        });
        expect(inventory.boot_mac).toBe(peer.mac);
        expect(inventory.system_vendor).toMatchObject({ manufacturer: "Recon Lab", product_name: peer.smbios.product, serial_number: peer.smbios.serial });
        expect(inventory.disks.find((d) => d.serial === `RCNLABDISK${peer.name.slice(4)}`)?.size_bytes, JSON.stringify(inventory.disks)).toBe(peer.diskBytes);
        expect(inventory.boot.current_boot_mode).toBe(peer.firmware === "bios" ? "bios" : "uefi");
        if (peer.firmware === "uefi-sb") {
          // Secure Boot enforcing: the EFI variable says so and Debian's kernel locked itself down (integrity).
          expect(inventory.boot.secure_boot).toBe(true);
          expect(inventory.boot.lockdown).toBe("integrity");
          const serial = await readFile(peer.serialLog, "utf8");
          expect(serial).toMatch(/secureboot: Secure boot enabled/);
          expect(serial).toMatch(/recon: booting 52:54:00:77:00:\w\w from (http:\/\/10\.77\.0\.1\/isos\/|nfs:\/\/10\.77\.0\.1\/run\/recon-nfs\/)/);
          // The master wrote its GRUB file when dnsmasq answered it, and dnsmasq sent shim, GRUB, kernel and initrd by TFTP.
          const master = await readFile(lab!.plan.master.vm.serialLog, "utf8");
          expect(master).toMatch(new RegExp(`component=grub msg="grub config written" mac=${peer.mac} plan=boot`));
          for (const file of ["shimx64.efi", "grubx64.efi", `grub/nodes/${peer.mac}.cfg`, "linux", "initrd"]) {
            expect(master, file).toMatch(new RegExp(`msg=tftp-sent .*file=${file.split("/").at(-1)!.replace(/\./g, "\\.")}`));
          }
        } else {
          expect(inventory.boot.secure_boot).toBe(false);
        }
        // Each peer booted the image its host setting chose, and the master's node state says which.
        const wanted = peer.image ?? recipe;
        const peerSerial = await readFile(peer.serialLog, "utf8");
        const masterSerial = await readFile(lab!.plan.master.vm.serialLog, "utf8");
        if (peer.image !== undefined) {
          expect(masterSerial).toMatch(new RegExp(`msg="serving image" image=${wanted} arch=x86_64 from=data-partition`));
          // Its kernel and initrd are the other image's (by TFTP for GRUB), and its root the other image's.
          const source = peer.root === "nfs" ? `nfs://10\\.77\\.0\\.1/run/recon-nfs/${wanted} ` : `http://10\\.77\\.0\\.1/isos/${wanted}\\.iso`;
          const rootArg =
            peer.root === "nfs" ? `root=nfs4:10\\.77\\.0\\.1:/run/recon-nfs/${wanted}:ro` : `root=live:http://10\\.77\\.0\\.1/isos/${wanted}\\.iso`;
          expect(peerSerial).toMatch(new RegExp(`recon: booting ${peer.mac} from ${source}`));
          expect(peerSerial).toMatch(new RegExp(`Kernel command line: .*${rootArg}`));
        } else {
          expect(peerSerial).not.toMatch(new RegExp(`isos/${ALT_IMAGE}\\.iso`));
        }
        expect(((await api(`/api/v1/nodes/${peer.mac}`)) as NodeDetail).node?.image).toBe(wanted);
        if (peer.root === "nbd") {
          // Its root came from the master's nbd-server, not the whole ISO by HTTP: only the blocks read travelled.
          const serial = await readFile(peer.serialLog, "utf8");
          expect(serial).toMatch(/Kernel command line: .*root=live:CDLABEL=\S+ .*netroot=nbd:10\.77\.0\.1:debian-12/);
          const master = await readFile(lab!.plan.master.vm.serialLog, "utf8");
          expect(master).toMatch(new RegExp(`component=nbd msg="nbd-server serving" .*exports=\\S*debian-12`));
          const reads = [...master.matchAll(/component=nbd msg="nbd export read" export=debian-12 read_bytes=(\d+) export_bytes=(\d+)/g)];
          expect(reads.length, "the master logged no bytes read from the NBD export").toBeGreaterThan(0);
          const readBytes = Math.max(...reads.map((match) => Number(match[1])));
          const isoBytes = Number(reads.at(-1)![2]);
          expect(readBytes).toBeGreaterThan(1024 * 1024);
          expect(readBytes).toBeLessThan(isoBytes);
          timings.nbdPeerReadBytes = readBytes;
          timings.isoBytes = isoBytes;
          log.info("nbd root", { peer: peer.name, read_bytes: readBytes, iso_bytes: isoBytes, share: (readBytes / isoBytes).toFixed(3) });
        }
        if (peer.root === "nfs") {
          // Its root is the image's tree from the master's kernel NFS server, with its writes in a RAM overlay
          // (dracut's overlay-root, kernel argument rootovl): the agent wrote its work files and uploaded.
          const serial = await readFile(peer.serialLog, "utf8");
          expect(serial).toMatch(new RegExp(`Kernel command line: .*root=nfs4:10\\.77\\.0\\.1:/run/recon-nfs/${wanted}:ro rootovl`));
          expect(serial).not.toMatch(/recon: internal error: EROFS/);
          const master = await readFile(lab!.plan.master.vm.serialLog, "utf8");
          expect(master).toMatch(new RegExp(`component=nfs msg="nfs export ready" label=${wanted} path=/run/recon-nfs/${wanted}`));
          const reads = [...master.matchAll(/component=nfs msg="nfs server read" read_bytes=(\d+)/g)];
          expect(reads.length, "the master logged no bytes read from its NFS server").toBeGreaterThan(0);
          const readBytes = Math.max(...reads.map((match) => Number(match[1])));
          expect(readBytes).toBeGreaterThan(1024 * 1024);
          timings.nfsPeerReadBytes = readBytes;
          log.info("nfs root", { peer: peer.name, read_bytes: readBytes, iso_bytes: Number(timings.isoBytes ?? 0) });
        }
        if (peer.root === "nbd-rw") {
          // Its root is its own writable copy of the image's ext4 root, by NBD, read-write; the image itself is untouched.
          const serial = await readFile(peer.serialLog, "utf8");
          expect(serial).toMatch(new RegExp(`Kernel command line: .*root=nbd:10\\.77\\.0\\.1:${rwLabel(peer.mac)}:ext4:rw`));
          // (No console echo check: the BIOS peers' iPXE prints to VGA, not to the serial log.)
          const master = await readFile(lab!.plan.master.vm.serialLog, "utf8");
          expect(master).toMatch(new RegExp(`component=nbd msg="nbd-rw copy ready" label=${rwLabel(peer.mac)} from=debian-12`));
        }
        // In-band `lan print` found the node's BMC (ipmi_sim reports its lab address).
        expect(inventory.bmc.address).toBe(peer.bmc.address);
        // Burn-in (on in the lab's site config) ran every test, the disk read on the peer's one disk, and each passed.
        const disk = inventory.disks.find((d) => d.serial === `RCNLABDISK${peer.name.slice(4)}`)!.name;
        const burnIn = inventory.burn_in.map(({ test, target, result }) => ({ test, target, result }));
        expect(burnIn, JSON.stringify(inventory.burn_in)).toEqual([
          { test: "stress-ng-cpu", target: null, result: "passed" },
          { test: "stress-ng-vm", target: null, result: "passed" },
          { test: "memtester", target: null, result: "passed" },
          { test: "fio-read", target: disk, result: "passed" },
        ]);
        expect(inventory.findings.filter((finding) => finding.category === "burn_in")).toEqual([]);
        timings[`${peer.name}BurnInS`] = Math.round(inventory.burn_in.reduce((sum, test) => sum + (test.duration_s ?? 0), 0));
      }
      for (const { peer, exitCode, said } of await secondClient) {
        expect(exitCode, `a second NBD client of ${peer.name}'s writable copy was let in: ${said}`).not.toBe(0);
        const master = await readFile(lab!.plan.master.vm.serialLog, "utf8");
        expect(master).toMatch(new RegExp(`component=nbd msg="nbd-rw client refused" export=${rwLabel(peer.mac)} reason="held by another client"`));
      }
      // Where each peer's minutes went (issue #14 item 3): the phase table of its boot, console only.
      printPeerPhaseTables(
        await Promise.all(
          lab!.plan.peers.map(async (peer) => ({
            name: peer.name,
            mac: peer.mac,
            firmware: peer.firmware,
            timeline: ((await api(`/api/v1/nodes/${peer.mac}`)) as NodeDetail).timeline,
          })),
        ),
      );
    },
    UPLOAD_TIMEOUT_MS + 2 * 2 * 60_000 + 60_000,
  );

  it(
    "both peers end up off according to their BMCs, and the master recorded it",
    async () => {
      needMaster();
      // Both at once: the bound is paid once, not once per peer.
      await Promise.all(
        lab!.plan.peers.map((peer) =>
          poll(`${peer.name} off per its BMC`, (CONFIRM_OFF_S + 120) * 1000, 5000, async () =>
            (await lab!.powerStatus(peer.name)) === "off" ? true : undefined,
          ),
        ),
      );
      for (const peer of lab!.plan.peers) {
        const vm = await readPid(join(peer.bmc.dir, "vm.pid"));
        expect(vm === undefined || !(await processIs(vm, /qemu-system/))).toBe(true);
        const detail = await poll(`${peer.name} confirmed off by the master`, (CONFIRM_OFF_S + 60) * 1000, 5000, async () => {
          const body = (await api(`/api/v1/nodes/${peer.mac}`)) as NodeDetail;
          return body.node?.phase === "off" ? body : undefined;
        });
        expect(detail.node!.power).toMatchObject({ by: "confirm-off", result: "ok" });
        timings[`${peer.name}OffBy`] = detail.node!.power!.action === "status-off" ? "itself" : "master";
      }
      // Off, and burn-in ran: every byte of each peer's disk is what it was before the peer first ran.
      for (const peer of lab!.plan.peers) expect(await sha256(peer.diskFile), `${peer.name}'s disk changed`).toBe(diskHashes.get(peer.name));
    },
    (CONFIRM_OFF_S + 120 + 2 * (CONFIRM_OFF_S + 60)) * 1000 + 60_000,
  );

  it(
    "the master, powered off and booted again from the same stick, still has both inventories and leaves the peers off",
    async () => {
      needMaster();
      await keepSerialLogs(".boot1");
      await lab!.stopMaster();
      // Read the stick while the master is off: the data partition holds both inventories.
      const stick = lab!.plan.master.stick;
      const table = JSON.parse((await execa("sfdisk", ["--json", stick])).stdout) as { partitiontable: { partitions: Array<{ start: number; size: number }> } };
      const data = table.partitiontable.partitions.at(-1)!;
      const image = join(labDir, "data-partition.img");
      await execa("dd", [
        `if=${stick}`,
        `of=${image}`,
        "bs=1M",
        `skip=${data.start * 512}`,
        `count=${data.size * 512}`,
        "iflag=skip_bytes,count_bytes",
        "conv=sparse",
        "status=none",
      ]);
      // Switched off, not shut down: replay ext4's journal as the next mount would (debugfs does not).
      const fsck = await execa("e2fsck", ["-f", "-y", image], { reject: false, all: true });
      expect(fsck.exitCode, fsck.all).toBeLessThanOrEqual(1);
      for (const peer of lab!.plan.peers) {
        const inventory = JSON.parse(await debugfs(image, `cat /nodes/${peer.mac.replace(/:/g, "-")}/inventory.json`)) as InventoryLike;
        expect(inventory.system_vendor.serial_number).toBe(peer.smbios.serial);
        if (peer.root === "nbd-rw") {
          // The node's writable copy is kept on the stick under its own label, beside (never instead of) the image.
          const record = JSON.parse(await debugfs(image, `cat /images/${rwLabel(peer.mac)}/copy.json`)) as { label?: string; from?: string };
          expect(record).toMatchObject({ label: rwLabel(peer.mac), from: recipe });
        }
      }
      await rm(image);

      const rebootStarted = Date.now();
      const master = await lab!.startMaster();
      const serial = await master.waitForSerial(MASTER_READY, budgetMs(MASTER_TIMEOUT_MS));
      timings.masterRebootS = Math.round((Date.now() - rebootStarted) / 1000);
      expect(serial).toMatch(/msg="data partition plan" action=mount reason="found RECON_DATA/);
      adminToken = /admin token \(needed from the network and for power\):\s+(\S+)/.exec(serial)?.[1] ?? adminToken;
      for (const peer of lab!.plan.peers) {
        const detail = (await api(`/api/v1/nodes/${peer.mac}`)) as NodeDetail;
        expect(detail.uploads.length).toBeGreaterThanOrEqual(1);
        const inventory = (await api(`/api/v1/nodes/${peer.mac}/inventory`)) as { inventory?: InventoryLike } & InventoryLike;
        expect((inventory.inventory ?? inventory).system_vendor.serial_number).toBe(peer.smbios.serial);
      }
      await master.waitForSerial(
        everyLine(lab!.plan.peers.map((peer) => `msg="not waking a node" bmc=${peer.name} mac=${peer.mac} reason="its inventory is stored`)),
        budgetMs(WAKE_TIMEOUT_MS),
      );
      for (const peer of lab!.plan.peers) expect(await lab!.powerStatus(peer.name)).toBe("off");
    },
    MASTER_TIMEOUT_MS + WAKE_TIMEOUT_MS + 2 * 60_000,
  );

  it("lab down leaves no namespace, process or file", async () => {
    await keepSerialLogs("");
    const pids = [lab!.state.master.pid, ...lab!.state.peers.map((p) => p.bmc.pid)].filter((p): p is number => p !== undefined);
    const ns = lab!.plan.wireNs;
    await lab!.down();
    lab = undefined;
    for (const pid of pids) expect(await processIs(pid, /qemu-system|ipmi_sim/)).toBe(false);
    expect(await listNetns(execaRunner)).not.toContain(ns);
    await expect(stat(labDir)).rejects.toThrow();
    timings.wallS = Math.round((Date.now() - started) / 1000);
  });
});

/** sha256sum of a file (the peers' disks are sparse files of 3–4 GiB). */
async function sha256(file: string): Promise<string> {
  const hash = (await execa("sha256sum", ["--binary", file])).stdout.split(" ")[0]!;
  expect(hash).toMatch(/^[0-9a-f]{64}$/);
  return hash;
}

interface InventoryLike {
  boot_mac: string;
  burn_in: Array<{ test: string; target: string | null; result: string; duration_s: number | null; detail: string }>;
  findings: Array<{ category: string }>;
  system_vendor: { manufacturer: string | null; product_name: string | null; serial_number: string | null };
  disks: Array<{ name: string; serial: string | null; size_bytes: number | null }>;
  boot: { current_boot_mode: string | null; secure_boot: boolean | null; lockdown?: string | null };
  bmc: { address: string | null };
}
