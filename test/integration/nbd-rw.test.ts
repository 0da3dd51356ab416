/**
 * `root: nbd-rw`, master side (issue #13 item 3), for real: a small live image built here with the
 * tools KIWI's layout comes from (mke2fs -d → LiveOS/rootfs.img, mksquashfs → LiveOS/squashfs.img,
 * xorriso -as mkisofs → an ISO with volume id RECON); startMasterNbd makes the node's writable copy
 * from that ISO (rw-copy.ts: xorriso, unsquashfs) and runs nbd-server in a network namespace the
 * test made, exporting the ISO read-only and the copy read-write. libnbd's nbdcopy and nbdinfo (this
 * host has no nbd kernel module) are the clients, from two other namespaces: one holds the copy and
 * writes a block, the other is refused meanwhile. The write lands in the copy's rootfs.img, the ISO
 * stays as it was, and a second master start reuses the copy as it is. Everything is removed even on
 * failure.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, open, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rwCopyLabel } from "../../src/boot/root-transport.js";
import { createLab, killNetnsProcesses, runInNetns, type Lab, type SimulatedHost } from "../../src/lab/netns.js";
import { createLogger } from "../../src/lib/log.js";
import { execaRunner, runChecked, type CommandRunner } from "../../src/lib/run.js";
import { parseSiteConfig } from "../../src/model/site-config.js";
import { tearDownLab } from "./helpers/lab-teardown.js";
import { discoverImages, type ImageTree } from "../../src/master/images.js";
import { startMasterNbd } from "../../src/master/nbd/master-nbd.js";
import type { NbdServerRun } from "../../src/master/nbd/nbd-server.js";

const MASTER = "10.89.0.1";
const PREFIX = `rcn-nbdrw${process.pid % 10000}`;
const LABEL = "rwtest";
const MAC = "52:54:00:89:00:0a";
const RW = rwCopyLabel(LABEL, MAC);
const ROOTFS_BYTES = 16 * 1024 * 1024;
/** Written by the holder at byte 0 of the copy: ext4 leaves its first 1024 bytes unused. */
const MARK = "RECON-NBD-RW-WRITE";

let work = "";
let dataDir = "";
let iso = "";
let isoSum = "";
let lab: Lab | undefined;
let inWire: CommandRunner | undefined;
const hosts: Record<string, SimulatedHost> = {};
const lines: string[] = [];
const running: Array<{ stop: AbortController; run: NbdServerRun | undefined }> = [];

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const until = async (check: () => Promise<boolean>, tries: number, everyMs: number): Promise<boolean> => {
  for (let i = 0; i < tries; i++) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return false;
};
const inA = (argv: string[], timeoutMs = 10_000) => runInNetns(execaRunner, hosts.a!.ns, argv, { timeoutMs });
const inB = (argv: string[], timeoutMs = 10_000) => runInNetns(execaRunner, hosts.b!.ns, argv, { timeoutMs });
const copyPath = () => join(dataDir, "images", RW, "rootfs.img");
const holderLock = () => join(work, "run", "nbd", `${RW}.holder`);
const lockHeld = () =>
  stat(holderLock()).then(
    () => true,
    () => false,
  );

const images = (): ImageTree[] => [{ label: LABEL, arch: "x86_64", kernelArgs: [], volumeId: "RECON", root: join(work, "http"), from: "own" }];

/** One master start's nbd side: startMasterNbd in the wire namespace, with the site config naming one nbd-rw node. */
async function startMaster(appliance?: { liveDir: string; secondMac: string }): Promise<NbdServerRun> {
  const stop = new AbortController();
  const slot: (typeof running)[number] = { stop, run: undefined };
  running.push(slot);
  const log = createLogger({ component: "nbd" }, { write: (line: string) => lines.push(line) });
  slot.run = await startMasterNbd({
    config: parseSiteConfig(`hosts:\n  "${MAC}": { root: nbd-rw }\n${appliance ? `  "${appliance.secondMac}": { root: nbd-rw }\n` : ""}`, "site.yaml"),
    images: images(),
    address: MASTER,
    runDir: join(work, "run"),
    dataDir,
    runner: inWire!,
    log,
    signal: stop.signal,
    ...(appliance ? { ownIsoOnDevice: true, liveDir: appliance.liveDir } : {}),
    server: {
      statsEveryMs: 0,
      watchEveryMs: 200,
      probe: async () => (await runInNetns(execaRunner, hosts.a!.ns, ["nbdinfo", "--size", `nbd://${MASTER}/${LABEL}`], { timeoutMs: 5000 })).exitCode === 0,
    },
  });
  return slot.run!;
}

async function stopMasters(): Promise<void> {
  for (const slot of running.splice(0)) {
    slot.stop.abort();
    await slot.run?.done.catch(() => undefined);
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-nbdrw-"));
  dataDir = join(work, "data");
  // The image: a root tree with some real content, as KIWI nests it (ISO → LiveOS/squashfs.img → LiveOS/rootfs.img).
  const tree = join(work, "tree");
  await mkdir(join(tree, "etc"), { recursive: true });
  await writeFile(join(tree, "etc", "hostname"), "rwtest\n");
  await writeFile(join(tree, "payload.bin"), createHash("sha512").update("recon").digest().toString("hex").repeat(4096));
  await mkdir(join(work, "live", "LiveOS"), { recursive: true });
  await mkdir(join(work, "iso", "LiveOS"), { recursive: true });
  await mkdir(join(work, "http", "isos"), { recursive: true });
  await runChecked(execaRunner, "mke2fs", [
    "-q",
    "-F",
    "-t",
    "ext4",
    "-L",
    "root",
    "-d",
    tree,
    join(work, "live", "LiveOS", "rootfs.img"),
    String(ROOTFS_BYTES / 1024),
  ]);
  await runChecked(execaRunner, "mksquashfs", [join(work, "live"), join(work, "iso", "LiveOS", "squashfs.img"), "-noappend", "-quiet", "-no-progress"]);
  iso = join(work, "http", "isos", `${LABEL}.iso`);
  await runChecked(execaRunner, "xorriso", ["-as", "mkisofs", "-quiet", "-V", "RECON", "-o", iso, join(work, "iso")]);
  isoSum = sha256(iso);

  lab = await createLab(execaRunner, { prefix: PREFIX, bridge: "rcnbr9", bridgeAddress: `${MASTER}/24` });
  hosts.a = await lab.addHost({ name: "a", mac: MAC, address: "10.89.0.10/24" });
  hosts.b = await lab.addHost({ name: "b", mac: "52:54:00:89:00:0b", address: "10.89.0.11/24" });
  const wire = lab.ns;
  // Every command of the master side (xorriso, unsquashfs, nbd-server) runs in the wire namespace.
  inWire = { run: (command, args, options) => runInNetns(execaRunner, wire, [command, ...args], options) };
}, 40_000);

afterAll(async () => {
  try {
    await stopMasters();
  } finally {
    // A client or nbd-server child still running in the lab's namespaces (a failed run's holder) is ended first.
    if (lab) await killNetnsProcesses(execaRunner, [lab.ns, ...Object.values(hosts).map((h) => h.ns)]);
    const left = await tearDownLab({ lab, prefix: PREFIX, work, pidFiles: [join(work, "run", "nbd", "nbd-server.pid")], log: lines });
    expect(left).toEqual([]);
  }
});

describe("root: nbd-rw on the master: one node's writable copy (namespaces only)", () => {
  it("makes the copy from the ISO, exports it read-write to one client at a time, keeps its writes and leaves the ISO alone", async () => {
    await startMaster();
    const log = lines.join("\n");
    expect(log).toMatch(new RegExp(`msg="nbd-rw copy made" label=${RW} from=${LABEL} bytes=${ROOTFS_BYTES} seconds=`));
    expect(log).toContain(`msg="nbd-rw copy ready" label=${RW} from=${LABEL} bytes=${ROOTFS_BYTES} made=true for=hosts.${MAC}`);
    expect(log).not.toContain("not served");
    // The copy is the image's root tree, byte for byte, with its record beside it.
    // (Compared by sum: a deep equality of two 16 MiB buffers takes the test worker's heap.)
    expect(sha256(copyPath())).toBe(sha256(join(work, "live", "LiveOS", "rootfs.img")));
    const record = JSON.parse(await readFile(join(dataDir, "images", RW, "copy.json"), "utf8")) as Record<string, unknown>;
    expect(record).toMatchObject({
      label: RW,
      from: LABEL,
      fromIsoSha256: isoSum,
      mac: MAC,
      bytes: ROOTFS_BYTES,
      note: `writable copy: never replaces ${LABEL}`,
    });

    // The ISO stays read-only (nbdinfo --is: exit 0 = true, 2 = false); the copy is writable.
    expect((await inB(["nbdinfo", "--is", "read-only", `nbd://${MASTER}/${LABEL}`])).exitCode).toBe(0);
    expect((await inB(["nbdinfo", "--is", "read-only", `nbd://${MASTER}/${RW}`])).exitCode).toBe(2);
    expect(await until(async () => !(await lockHeld()), 20, 100)).toBe(true);

    // Node a holds the copy: nbdcopy connects, then waits for its pipe to close before it writes the block.
    const holder = inA(["sh", "-c", `(printf '%s' '${MARK}'; sleep 3) | nbdcopy -C 1 - nbd://${MASTER}/${RW}`], 30_000);
    expect(await until(lockHeld, 50, 100)).toBe(true);
    const second = await inB(["nbdinfo", "--size", `nbd://${MASTER}/${RW}`]);
    expect(second.exitCode).not.toBe(0);
    expect(second.stderr).toContain("server policy prevents NBD_OPT_GO");
    const held = await holder;
    expect(held.exitCode, held.stderr).toBe(0);
    expect(
      await until(async () => lines.some((line) => line.includes(`msg="nbd-rw client refused" export=${RW} reason="held by another client"`)), 25, 200),
    ).toBe(true);
    // postrun releases the lock in nbd-server's child just after the holder's NBD_CMD_DISC: a bounded wait.
    expect(await until(async () => !(await lockHeld()), 25, 200)).toBe(true);

    // The write is in the copy, the file system is still whole, and the ISO is the same bytes.
    const head = Buffer.alloc(MARK.length);
    const file = await open(copyPath(), "r");
    await file.read(head, 0, MARK.length, 0).finally(() => file.close());
    expect(head.toString()).toBe(MARK);
    expect((await execaRunner.run("e2fsck", ["-fn", copyPath()])).exitCode).toBe(0);
    expect(sha256(iso)).toBe(isoSum);
    // The master's image list skips the copy with one info line: it has no ISO and is no bootable image.
    const found: string[] = [];
    const discovered = await discoverImages({
      httpRoot: join(work, "http"),
      ownLabel: LABEL,
      dataDir,
      runDir: join(work, "run-discover"),
      log: createLogger({ component: "images" }, { write: (line: string) => found.push(line) }),
    });
    expect(discovered.others).toEqual([]);
    expect(found.filter((line) => line.includes("level=error") || line.includes("level=warn"))).toEqual([]);
    expect(found.filter((line) => line.includes(`copy=${RW}`))).toHaveLength(1);
  }, 40_000);

  it("reuses the copy at the next master start: same file, the node's write kept", async () => {
    const before = await stat(copyPath());
    await stopMasters();
    lines.length = 0;
    await startMaster();
    const log = lines.join("\n");
    expect(log).toContain(`msg="nbd-rw copy ready" label=${RW} from=${LABEL} bytes=${ROOTFS_BYTES} made=false`);
    expect(log).not.toContain("nbd-rw copy made");
    const after = await stat(copyPath());
    expect({ ino: after.ino, mtimeMs: after.mtimeMs, size: after.size }).toEqual({ ino: before.ino, mtimeMs: before.mtimeMs, size: before.size });
    expect((await readFile(copyPath())).subarray(0, MARK.length).toString()).toBe(MARK);
    // And it serves it again, at its size.
    const size = await inB(["nbdinfo", "--size", `nbd://${MASTER}/${RW}`]);
    expect(size.exitCode, size.stderr).toBe(0);
    expect(size.stdout.trim()).toBe(String(ROOTFS_BYTES));
  }, 30_000);

  it("on the appliance (own ISO on the boot device) makes a new copy from the mounted medium's squashfs, and keeps the first", async () => {
    await stopMasters();
    lines.length = 0;
    const second = "52:54:00:89:00:0b";
    // A partial copy a killed master left behind is removed, not served or kept.
    const leftover = join(dataDir, "images", `.${rwCopyLabel(LABEL, second)}.partial-1`);
    await mkdir(join(leftover, "tree"), { recursive: true });
    // The ISO's tree stands in for dracut's /run/initramfs/live (it holds LiveOS/squashfs.img).
    await startMaster({ liveDir: join(work, "iso"), secondMac: second });
    const log = lines.join("\n");
    expect(log).toContain(`msg="nbd-rw copy ready" label=${RW} from=${LABEL} bytes=${ROOTFS_BYTES} made=false`);
    expect(log).toContain(`msg="nbd-rw copy ready" label=${rwCopyLabel(LABEL, second)} from=${LABEL} bytes=${ROOTFS_BYTES} made=true`);
    const made = join(dataDir, "images", rwCopyLabel(LABEL, second));
    expect(sha256(join(made, "rootfs.img"))).toBe(sha256(join(work, "live", "LiveOS", "rootfs.img")));
    expect(JSON.parse(await readFile(join(made, "copy.json"), "utf8"))).toMatchObject({
      source: join(work, "iso", "LiveOS", "squashfs.img"),
      fromSquashfsSha256: sha256(join(work, "iso", "LiveOS", "squashfs.img")),
    });
    expect((await readFile(copyPath())).subarray(0, MARK.length).toString()).toBe(MARK);
    expect(await stat(leftover).catch(() => undefined)).toBeUndefined();
  }, 30_000);
});
