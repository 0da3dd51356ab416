/**
 * nbd-server as the master runs it (src/master/nbd), for real: inside a network namespace the test
 * made, exporting an ISO read-only (the one the project built, build/debian-12/image-DracutLive/*.iso
 * or RECON_TEST_ISO, when there is one; else a 48 MiB stand-in of random bytes, so the test runs
 * in the integration tier before any image is built), and a writable copy to one client at a time;
 * read by libnbd's nbdinfo and nbdcopy (userspace clients: this host has no nbd kernel module) from
 * two other namespaces. The bytes it sent come from its clients' transaction logs. Everything is
 * removed even on failure.
 *
 * Two findings of the first version, both nbd-server 3.24 behaviour (nbd-config.ts has the source
 * references): `nbdinfo --json` asks with NBD_OPT_INFO, which nbd-server answers before it opened
 * the export, with size 0 (NBD_OPT_GO, what nbd-client and `nbdinfo --size` use, gives the size);
 * and `maxconnections` never counts a client down, so a writable copy with `maxconnections = 1`
 * stayed refused after its first client. Also, nbdcopy's `[ CMD ]` runs CMD as an NBD *server*,
 * not as a pipe: a partial read and a holder are a pipe from `nbdcopy … -` here.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLab, killNetnsProcesses, runInNetns, type Lab, type SimulatedHost } from "../../src/lab/netns.js";
import { createLogger } from "../../src/lib/log.js";
import { execaRunner, type CommandRunner } from "../../src/lib/run.js";
import { planNbdExports, type NbdServerPlan } from "../../src/master/nbd/nbd-config.js";
import { startNbdServer, type NbdServerRun } from "../../src/master/nbd/nbd-server.js";
import { rwCopyLabel } from "../../src/boot/root-transport.js";

const MASTER = "10.88.0.1";
const PREFIX = `rcn-nbd${process.pid % 10000}`;
const RW = rwCopyLabel("debian-12", "52:54:00:88:00:0a");
const RW_BYTES = 8 * 1024 * 1024;

async function findBuiltIso(): Promise<string | undefined> {
  if (process.env.RECON_TEST_ISO) return process.env.RECON_TEST_ISO;
  const dir = "build/debian-12/image-DracutLive";
  const names = await readdir(dir).catch(() => [] as string[]);
  const iso = names.find((name) => name.endsWith(".iso"));
  return iso === undefined ? undefined : join(dir, iso);
}

const until = async (check: () => Promise<boolean>, tries: number, everyMs: number): Promise<boolean> => {
  for (let i = 0; i < tries; i++) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return false;
};

let iso = "";
let plan: NbdServerPlan | undefined;
let lab: Lab | undefined;
let work = "";
let stop: AbortController | undefined;
let server: NbdServerRun | undefined;
const hosts: Record<string, SimulatedHost> = {};
const lines: string[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-nbd-"));
  const built = await findBuiltIso();
  iso = built === undefined ? join(work, "stand-in.iso") : resolve(built);
  if (built === undefined) await writeFile(iso, randomBytes(48 * 1024 * 1024));
  const copy = join(work, "rootfs.img");
  await writeFile(copy, Buffer.alloc(RW_BYTES, 5));
  lab = await createLab(execaRunner, { prefix: PREFIX, bridge: "rcnbr8", bridgeAddress: `${MASTER}/24` });
  hosts.a = await lab.addHost({ name: "a", mac: "52:54:00:88:00:0a", address: "10.88.0.10/24" });
  hosts.b = await lab.addHost({ name: "b", mac: "52:54:00:88:00:0b", address: "10.88.0.11/24" });
  const wire = lab.ns;
  // nbd-server runs in the wire namespace only: the runner puts every command there.
  const inWire: CommandRunner = { run: (command, args, options) => runInNetns(execaRunner, wire, [command, ...args], options) };
  plan = planNbdExports({
    listenAddress: MASTER,
    runDir: work,
    images: [{ label: "debian-12", isoPath: iso }],
    writableCopies: [{ label: RW, path: copy }],
  });
  stop = new AbortController();
  const log = createLogger({ component: "nbd" }, { write: (line: string) => lines.push(line) });
  server = await startNbdServer({
    runner: inWire,
    plan,
    runDir: work,
    log,
    signal: stop.signal,
    statsEveryMs: 0,
    watchEveryMs: 200,
    probe: async () => (await runInNetns(execaRunner, hosts.a!.ns, ["nbdinfo", "--size", `nbd://${MASTER}/debian-12`], { timeoutMs: 5000 })).exitCode === 0,
  });
}, 60_000);

afterAll(async () => {
  if (process.env.RECON_TEST_DEBUG) console.log(lines.join("\n"), work);
  try {
    stop?.abort();
    await server?.done.catch(() => undefined);
  } finally {
    if (lab) {
      // Anything still running in the lab's namespaces (nbd-server's children, a client) is ended first.
      await killNetnsProcesses(execaRunner, [lab.ns, ...Object.values(hosts).map((h) => h.ns)]);
      await lab.destroy();
    }
    if (work) await rm(work, { recursive: true, force: true });
  }
});

const inA = (argv: string[], timeoutMs = 10_000) => runInNetns(execaRunner, hosts.a!.ns, argv, { timeoutMs });
const inB = (argv: string[], timeoutMs = 10_000) => runInNetns(execaRunner, hosts.b!.ns, argv, { timeoutMs });
const rwSize = () => inB(["nbdinfo", "--size", `nbd://${MASTER}/${RW}`]);
const lockHeld = () =>
  stat(plan!.exports[1]!.holderLock!).then(
    () => true,
    () => false,
  );

describe("nbd-server exporting an ISO and a writable copy (namespaces only)", () => {
  it("exports the ISO read-only under its label, at its size", async () => {
    const size = (await stat(iso)).size;
    const info = await inA(["nbdinfo", "--size", `nbd://${MASTER}/debian-12`]);
    expect(info.exitCode, info.stderr).toBe(0);
    expect(info.stdout.trim()).toBe(String(size));
    // nbdinfo --is read-only: exit 0 = true.
    expect((await inA(["nbdinfo", "--is", "read-only", `nbd://${MASTER}/debian-12`])).exitCode).toBe(0);
    expect(lines.join("\n")).toMatch(new RegExp(`msg="nbd-server serving" pid=\\d+ address=10\\.88\\.0\\.1 port=10809 exports=debian-12,${RW}`));
  });

  it("counts the bytes it sent over every client: a whole read adds the ISO's size, a cut-off read far less", async () => {
    const size = (await stat(iso)).size;
    const before = (await server!.stats())[0]!;
    const whole = await inA(["nbdcopy", "-C", "1", "--no-extents", `nbd://${MASTER}/debian-12`, "null:"], 120_000);
    expect(whole.exitCode, whole.stderr).toBe(0);
    const full = (await server!.stats())[0]!;
    expect(full).toMatchObject({ name: "debian-12", exportBytes: size, errors: 0, writes: 0, highestReadEnd: size });
    expect(full.readBytes - before.readBytes).toBe(size);
    // A client that stops after 1 MiB: only what it asked for (a few requests ahead) travelled.
    await inA(["sh", "-c", `nbdcopy -C 1 -R 1 --request-size=262144 nbd://${MASTER}/debian-12 - | head -c 1048576 >/dev/null`], 60_000);
    const partial = (await server!.stats())[0]!;
    expect(partial.readBytes - full.readBytes).toBeGreaterThanOrEqual(1024 * 1024);
    expect(partial.readBytes - full.readBytes).toBeLessThan(4 * 1024 * 1024);
  }, 180_000);

  it("lets one client hold the writable copy, refuses a second while it does, and lets the next in after", async () => {
    // Client a holds the export: nbdcopy blocks writing into a pipe nobody reads for 4 s.
    const holder = inA(["sh", "-c", `nbdcopy -C 1 nbd://${MASTER}/${RW} - | (sleep 4; cat >/dev/null)`], 30_000);
    expect(await until(lockHeld, 50, 100)).toBe(true);
    const second = await rwSize();
    expect(second.exitCode).not.toBe(0);
    expect(second.stderr).toContain("server policy prevents NBD_OPT_GO");
    expect((await holder).exitCode).toBe(0);
    // postrun releases the lock in nbd-server's child just after the client's NBD_CMD_DISC: a bounded wait.
    let after = await rwSize();
    for (let i = 0; i < 20 && after.exitCode !== 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      after = await rwSize();
    }
    expect(after.exitCode, after.stderr).toBe(0);
    expect(after.stdout.trim()).toBe(String(RW_BYTES));
    // Three clients one after the other: each gets it (maxconnections would have refused all but the first).
    for (let i = 0; i < 3; i++) expect(await until(async () => (await rwSize()).exitCode === 0, 20, 200)).toBe(true);
  }, 60_000);

  it("clears the holder lock of a client whose nbd-server child was killed (no postrun ran)", async () => {
    // The reader sleeps past the lock's grace, so the pipe outlives the kill below by seconds only.
    const holder = inA(["sh", "-c", `nbdcopy -C 1 nbd://${MASTER}/${RW} - | (sleep 6; cat >/dev/null)`], 30_000);
    expect(await until(lockHeld, 50, 100)).toBe(true);
    // The per-client child: an nbd-server in the wire namespace that is not the daemon.
    const daemon = Number((await execaRunner.run("cat", [join(work, "nbd", "nbd-server.pid")])).stdout.trim());
    const pids = (await execaRunner.run("ip", ["netns", "pids", lab!.ns])).stdout.split(/\s+/).filter(Boolean).map(Number);
    const children: number[] = [];
    for (const pid of pids) {
      const comm = (await execaRunner.run("cat", [`/proc/${pid}/comm`])).stdout.trim();
      if (comm === "nbd-server" && pid !== daemon) children.push(pid);
    }
    expect(children.length).toBeGreaterThan(0);
    for (const pid of children) await execaRunner.run("kill", ["-9", String(pid)]);
    // Cleared once older than its grace (5 s) and no nbd-server process has the copy open.
    expect(await until(async () => !(await lockHeld()), 60, 200)).toBe(true);
    expect(lines.join("\n")).toContain(`msg="nbd writable copy released: its holder's nbd-server child is gone" export=${RW}`);
    expect((await rwSize()).exitCode).toBe(0);
    await holder;
  }, 60_000);

  it("is restarted when it dies, and serves again", async () => {
    const pidFile = join(work, "nbd", "nbd-server.pid");
    const daemon = Number((await execaRunner.run("cat", [pidFile])).stdout.trim());
    expect(daemon).toBeGreaterThan(1);
    await execaRunner.run("kill", ["-9", String(daemon)]);
    // Watched every 200 ms, restarted after 500 ms of backoff.
    const restarted = await until(
      async () => {
        const pid = Number((await execaRunner.run("cat", [pidFile])).stdout.trim());
        return pid > 1 && pid !== daemon && (await inA(["nbdinfo", "--size", `nbd://${MASTER}/debian-12`])).exitCode === 0;
      },
      50,
      200,
    );
    expect(restarted).toBe(true);
    expect(lines.join("\n")).toMatch(new RegExp(`msg="nbd-server ended; restarting" why="pid ${daemon} is gone" restart=1`));
  }, 30_000);
});
