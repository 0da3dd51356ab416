/**
 * The virtual data centre's cost: per-peer time from power-on (through its BMC) to inventory
 * stored on the master, the bytes the master sent for its root, and the whole run's wall time, for
 * `recon lab` with three BIOS peers, one per root transport (http, nbd, nfs; issue #13), and each
 * peer's seconds per boot phase (its node timeline, #14). Baseline, measured in the same run on the
 * same machine: a bare busybox PXE boot — a BIOS VM that DHCPs from `recon master` (in a netns), runs iPXE, loads the
 * image's own kernel with a 1.3 MB busybox initrd and prints a marker from /init. The ratio says
 * how much of a peer's time is the real image (ISO download, live boot, agent) rather than PXE.
 * Needs a built ISO (./make-recipe-target debian-12 target). Prints one JSON object.
 *   node --import tsx bench/lab.ts [--iso FILE] [--roots http,nbd,nfs] [recipe]      (about 10–25 min on 2 cores under TCG)
 */
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { execa } from "execa";
import { labUp, type RunningLab } from "../src/lab/lab.js";
import { renderPeerPhaseTables } from "../src/lab/phase-tables.js";
import { timelineSegments, type TimelineEntry } from "../src/model/node-timeline.js";
import { ROOT_TRANSPORTS, type RootTransport } from "../src/model/root-transport.js";
import { createLab, netnsWrapper } from "../src/lab/netns.js";
import { startVm } from "../src/lab/vm.js";
import { createLogger } from "../src/lib/log.js";
import { execaRunner } from "../src/lib/run.js";
import { extract } from "../test/helpers/image-inspect.js";
import { startMasterInNetns, testMasterArgs, waitForMaster } from "../test/helpers/master-process.js";

// --iso FILE: another ISO than the build stamp's (the image diet's before/after, #14); --roots: one
// transport per peer (default http,nbd,nfs; an ISO from before #13 serves http only).
const { values, positionals } = parseArgs({ options: { iso: { type: "string" }, roots: { type: "string" } }, allowPositionals: true });
const recipe = positionals[0] ?? "debian-12";
const root = join(import.meta.dirname, "..");
const log = createLogger({ component: "bench-lab" }, { level: "warn" });
const iso = values.iso ?? join(root, (JSON.parse(await readFile(join(root, "build", recipe, "image-DracutLive.json"), "utf8")) as { image: string }).image);
const roots = (values.roots ?? "http,nbd,nfs").split(",") as RootTransport[];
for (const name of roots) if (!ROOT_TRANSPORTS.includes(name)) throw new Error(`--roots: '${name}' is not one of ${ROOT_TRANSPORTS.join(", ")}`);
const work = await mkdtemp(join("/var/tmp", "recon-bench-lab-"));
// dnsmasq and nginx read the baseline's TFTP and http trees as nobody: mkdtemp's 0700 would shut them out.
await chmod(work, 0o755);

async function poll<T>(timeoutMs: number, everyMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A bare busybox PXE boot: seconds from qemu start to the marker /init prints. */
async function busyboxPxeBoot(): Promise<number> {
  const dir = join(work, "busybox");
  const http = join(dir, "http");
  const label = "bench";
  const install = join(http, "install", label);
  await mkdir(join(http, "isos"), { recursive: true });
  await mkdir(install, { recursive: true });
  await writeFile(join(http, "isos", `${label}.iso`), Buffer.alloc(4096));
  await extract(iso, "/boot/x86_64/loader/linux", join(install, "linux"));
  const initrdRoot = join(dir, "initrd");
  await mkdir(join(initrdRoot, "bin"), { recursive: true });
  await execa("cp", ["/bin/busybox", join(initrdRoot, "bin", "busybox")]);
  await symlink("busybox", join(initrdRoot, "bin", "sh"));
  await writeFile(join(initrdRoot, "init"), "#!/bin/sh\n/bin/busybox mount -t devtmpfs dev /dev\necho BUSYBOX-PXE-UP > /dev/ttyS0\n/bin/busybox poweroff -f\n");
  await chmod(join(initrdRoot, "init"), 0o755);
  await execa("sh", ["-c", `cd ${initrdRoot} && find . | cpio -o -H newc --quiet | gzip -1 > ${join(install, "initrd")}`]);
  await writeFile(join(install, "boot.json"), JSON.stringify({ imageKernelArgs: ["console=ttyS0,115200n8", "rdinit=/init"] }));
  await chmod(dir, 0o755);
  await writeFile(
    join(dir, "site.yaml"),
    "interface: benchbr0\naddress: 10.76.0.1/24\ndhcp: { mode: authoritative, pool: { start: 10.76.0.100, end: 10.76.0.150 } }\nhttp: { port: 8080 }\n",
  );
  const lab = await createLab(execaRunner, { prefix: `rcn-b${process.pid % 100000}`, bridge: "benchbr0" });
  const master = startMasterInNetns(lab.ns, testMasterArgs(dir, { httpRoot: http, imageLabel: label, probeTimeoutMs: 1000 }));
  try {
    await waitForMaster(master, /msg="master ready"/, 60_000);
    await lab.addTap("benchtap0");
    const begin = Date.now();
    const vm = startVm(
      {
        name: "bench-busybox-pxe",
        memoryMiB: 256,
        cpus: 1,
        firmware: "bios",
        disks: [],
        nics: [{ tap: "benchtap0", mac: "52:54:00:76:00:02", bootIndex: 0 }],
        serialLog: join(dir, "busybox.serial.log"),
        noReboot: true,
      },
      { wrapper: netnsWrapper(lab.ns) },
    );
    try {
      await vm.waitForSerial(/BUSYBOX-PXE-UP/, 5 * 60_000);
      return (Date.now() - begin) / 1000;
    } finally {
      await vm.stop();
    }
  } catch (error) {
    // What the master said is the first thing to read when the baseline cannot boot.
    process.stderr.write(`bench-lab: baseline master's output:\n${master.log().slice(-4000)}\n`);
    throw error;
  } finally {
    // The namespace goes even when stopping the master throws (the first run leaked it that way).
    try {
      await master.stop();
    } finally {
      await lab.destroy();
    }
  }
}

/** Per-transport bytes from the master, read from its own log lines (nbd-server's and nfsd's counters). */
function masterBytes(serial: string, peer: RunningLab["plan"]["peers"][number]): number | undefined {
  const last = (pattern: RegExp) => {
    const all = [...serial.matchAll(pattern)].map((match) => Number(match[1]));
    return all.length === 0 ? undefined : Math.max(...all);
  };
  if (peer.root === "nbd") return last(/component=nbd msg="nbd export read" export=\S+ read_bytes=(\d+)/g);
  if (peer.root === "nfs") return last(/component=nfs msg="nfs server read" read_bytes=(\d+)/g);
  return undefined;
}

interface PeerFigures {
  firmware: string;
  root: string;
  powerOnToInventoryS: number;
  /** Bytes the master sent for this peer's root: the ISO by HTTP (node timeline), nbd-server's or nfsd's own count. */
  rootBytesFromMaster: number | undefined;
  /** Seconds per phase of its boot (the wait ending in that phase; model/node-timeline.ts timelineSegments). */
  phaseS: Record<string, number>;
}

/**
 * The lab: master from the stick, three BIOS peers woken through their BMCs, one per root transport
 * (#13: http, nbd, nfs side by side in one run, same firmware so only the transport differs).
 */
async function labRun(): Promise<Record<string, unknown>> {
  const begin = Date.now();
  let lab: RunningLab | undefined;
  try {
    lab = await labUp(
      { peers: roots.length, firmware: roots.map(() => "bios" as const), roots, iso, dir: join(work, "lab"), debug: false, confirmOffAfterS: 600 },
      { runner: execaRunner, log },
    );
    const running = lab;
    const serial = await running.master!.waitForSerial(/msg="master ready"/, 15 * 60_000);
    const masterReadyS = (Date.now() - begin) / 1000;
    const token = /admin token \(needed from the network and for power\):\s+(\S+)/.exec(serial)?.[1] ?? "";
    const get = async (path: string) =>
      JSON.parse(
        (
          await execa("ip", [
            "netns",
            "exec",
            running.plan.wireNs,
            "curl",
            "-sf",
            "--max-time",
            "10",
            "-H",
            `Authorization: Bearer ${token}`,
            `http://${running.plan.masterAddress}${path}`,
          ])
        ).stdout,
      ) as { uploads: unknown[]; timeline?: TimelineEntry[] };
    const peers: Record<string, PeerFigures> = {};
    const timelines: Parameters<typeof renderPeerPhaseTables>[0][number][] = [];
    await Promise.all(
      running.plan.peers.map(async (peer) => {
        const pidFile = join(peer.bmc.dir, "vm.pid");
        const poweredOn = await poll(5 * 60_000, 1000, async () => (await stat(pidFile)).mtimeMs);
        const detail = await poll(30 * 60_000, 5000, async () => {
          const body = await get(`/api/v1/nodes/${peer.mac}`);
          return body.uploads.length > 0 ? body : undefined;
        });
        const powerOnToInventoryS = Math.round((Date.now() - poweredOn) / 100) / 10;
        const masterLog = await readFile(running.plan.master.vm.serialLog, "utf8");
        const httpBytes = detail.timeline?.find((entry) => entry.phase === "image-end")?.bytes;
        peers[peer.name] = {
          firmware: peer.firmware,
          root: peer.root,
          powerOnToInventoryS,
          rootBytesFromMaster: peer.root === "http" ? httpBytes : masterBytes(masterLog, peer),
          phaseS: Object.fromEntries(timelineSegments(detail.timeline ?? []).map((segment) => [segment.phase, Math.round(segment.seconds * 10) / 10])),
        };
        timelines.push({ name: peer.name, mac: peer.mac, firmware: `${peer.firmware}, root ${peer.root}`, timeline: detail.timeline });
      }),
    );
    // Where each peer's minutes went, as the lab e2e prints it (stderr: stdout is the JSON).
    process.stderr.write(renderPeerPhaseTables(timelines.sort((a, b) => a.name.localeCompare(b.name))));
    return { masterReadyS: Math.round(masterReadyS * 10) / 10, isoBytes: (await stat(iso)).size, peers, wallS: Math.round((Date.now() - begin) / 100) / 10 };
  } finally {
    await lab?.down();
  }
}

try {
  const baseline = await busyboxPxeBoot();
  // BENCH_LAB_BASELINE_ONLY=1: the baseline alone (a minute), to check the set-up.
  const lab = process.env.BENCH_LAB_BASELINE_ONLY === "1" ? { peers: {} } : await labRun();
  const peers = lab.peers as Record<string, PeerFigures>;
  console.log(
    JSON.stringify(
      {
        bench: "lab",
        recipe,
        iso,
        lab,
        baseline: { name: "bare busybox PXE boot (BIOS, recon master, image kernel + busybox initrd)", seconds: Math.round(baseline * 10) / 10 },
        ratio: Object.fromEntries(Object.entries(peers).map(([name, p]) => [name, Math.round((p.powerOnToInventoryS / baseline) * 10) / 10])),
      },
      null,
      2,
    ),
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
