/**
 * The master's power control against real BMCs, without VMs: `recon master` in a network
 * namespace with two ipmi_sim BMCs on its bridge (their "VMs" are bounded sleeps) listed in its
 * site config. At start it wakes the fleet (bootdev pxe is unsupported on ipmi_sim and skipped;
 * the BMC with a wrong password is reported AUTH and left alone); after the first node's upload
 * it confirms the node is off through its BMC and, as the node stayed on, powers it off; the
 * power API needs the admin token for actions and never shows a password.
 */
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processIs, readPid, startLabBmc, writeLabBmc, type LabBmcSpec, type RunningBmc } from "../../src/lab/bmc.js";
import { addressAddArgs, createLab, runInNetns, type Lab } from "../../src/lab/netns.js";
import { execaRunner, runChecked } from "../../src/lib/run.js";
import { IMAGE_LABEL, makeHttpTree } from "../helpers/master-app.js";
import { startMasterInNetns, testMasterArgs, waitForMaster, type MasterProcess } from "../helpers/master-process.js";
import { waitUntil } from "../helpers/wait.js";
import { repoRoot } from "../helpers/repo.js";
import { packFiles } from "../helpers/tarballs.js";

const PREFIX = `rcn-p${process.pid % 100000}`;
const MASTER = "10.80.0.1";
const URL = `http://${MASTER}:8080`;
const MAC1 = "52:54:00:80:00:11";
const MAC2 = "52:54:00:80:00:12";
const PASSWORDS = ["pw-one-7c1d2e", "pw-two-93ab41"];

let work: string;
let lab: Lab | undefined;
let proc: MasterProcess | undefined;
const bmcs: RunningBmc[] = [];

/** Bounded; fails at once when the master exited (with its log's end). */
async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  return waitUntil({ what, timeoutMs, everyMs: 250, subjects: proc ? [proc.subject] : [] }, probe);
}

const vmAlive = async (bmc: RunningBmc) => {
  const pid = await readPid(bmc.files.vmPidFile);
  return pid !== undefined && (await processIs(pid, /sleep/)) ? pid : undefined;
};

const curl = (args: string[]) => runInNetns(execaRunner, lab!.ns, ["curl", "--silent", "--show-error", "--max-time", "20", ...args]);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-ipmi-master-"));
  await chmod(work, 0o755);
  const httpRoot = join(work, "http");
  await makeHttpTree(httpRoot, 4096);
  lab = await createLab(execaRunner, { prefix: PREFIX, bridge: "rcnbrp" });
  const specs: LabBmcSpec[] = [1, 2].map((n) => ({
    name: `peer${n}`,
    address: `10.80.0.${200 + n}`,
    netmask: "255.255.255.0",
    macAddress: `52:54:00:80:b0:0${n}`,
    username: "admin",
    password: PASSWORDS[n - 1]!,
    vmPort: 9300 + n,
    dir: join(work, `bmc-peer${n}`),
    poweroffWaitS: 2,
    killWaitS: 2,
  }));
  for (const spec of specs) {
    await runChecked(execaRunner, "ip", addressAddArgs(lab.ns, "rcnbrp", `${spec.address}/24`));
    await writeLabBmc(spec, ["sleep", "300"]);
    bmcs.push(await startLabBmc(execaRunner, lab.ns, spec));
  }
  // The master reads peer1's password from a 0600 file; peer2's entry has the wrong one inline.
  const pwFile = join(work, "peer1.password");
  await writeFile(pwFile, `${PASSWORDS[0]}\n`, { mode: 0o600 });
  await writeFile(
    join(work, "site.yaml"),
    [
      "interface: rcnbrp",
      `address: ${MASTER}/24`,
      "dhcp: { mode: authoritative, pool: { start: 10.80.0.100, end: 10.80.0.150 } }",
      "http: { port: 8080, server: node }",
      "bmcs:",
      `  - { name: peer1, mac: "${MAC1}", address: 10.80.0.201, username: admin, passwordFile: ${pwFile} }`,
      `  - { name: peer2, mac: "${MAC2}", address: 10.80.0.202, username: admin, password: not-${PASSWORDS[1]} }`,
      "power: { wake: true, bootdevPxe: true, confirmOffAfterS: 2 }",
      "",
    ].join("\n"),
  );
  proc = startMasterInNetns(lab.ns, testMasterArgs(work, { httpRoot: httpRoot, imageLabel: IMAGE_LABEL, probeTimeoutMs: 1000 }));
  await waitForMaster(proc, /msg="master ready"/, 30_000);
}, 90_000);

afterAll(async () => {
  try {
    await proc?.stop();
    for (const bmc of bmcs) await bmc.stop();
  } finally {
    await lab?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  }
});

describe("the master's power control over real BMCs", () => {
  it("wakes the fleet: peer1 on (bootdev pxe unsupported, skipped), peer2 refused (AUTH) and left alone", async () => {
    await until("peer1 powered on by the master", 20_000, () => vmAlive(bmcs[0]!));
    await waitForMaster(proc!, /msg="bmc action failed" bmc=peer2 .*action=bootdev-pxe by=wake result=failed/, 20_000);
    const log = proc!.log();
    expect(log).toMatch(/component=power msg="bmc action" bmc=peer1 address=10\.80\.0\.201 action=bootdev-pxe by=wake result=unsupported/);
    expect(log).toMatch(/component=power msg="bmc action" bmc=peer1 address=10\.80\.0\.201 action=on by=wake result=ok/);
    expect(log).toMatch(
      /bmc=peer2 address=10\.80\.0\.202 action=bootdev-pxe by=wake result=failed error="BMC peer2 \(10\.80\.0\.202\): chassis bootdev pxe failed \(AUTH\)/,
    );
    expect(log).not.toMatch(/bmc=peer2 .*action=on/);
    expect(await vmAlive(bmcs[1]!)).toBeUndefined();
    for (const pw of PASSWORDS) expect(log).not.toContain(pw);
    const node = JSON.parse((await curl([`${URL}/api/v1/nodes/${MAC1}`])).stdout) as { node: { power: unknown } };
    expect(node.node.power).toMatchObject({ action: "on", by: "wake", result: "ok" });
  });

  it("after peer1's upload it is still on, so the master powers it off through its BMC", async () => {
    const script = await curl([`${URL}/boot/${MAC1.replace(/:/g, "-")}.ipxe`]);
    const token = /recon\.token=(\S+)/.exec(script.stdout)?.[1];
    expect(token, script.stdout).toBeDefined();
    const fixture = join(repoRoot, "test/fixtures/inventory/vm-bios-dell");
    const files: Record<string, Buffer> = {};
    for (const path of await readdir(fixture, { recursive: true })) {
      const content = await readFile(join(fixture, path)).catch(() => undefined);
      if (content !== undefined && path !== "qemu-argv.txt") files[path] = content;
    }
    const tarball = join(work, "upload.tar.gz");
    await writeFile(tarball, await packFiles(join(work, "pack"), files));
    const upload = await curl([
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
      `${URL}/api/v1/nodes/${MAC1}/inventory`,
    ]);
    expect(upload.stdout.trim().split("\n").at(-1)).toBe("201");
    const vm = (await vmAlive(bmcs[0]!))!;
    await until("peer1 powered off by the master", 30_000, async () => ((await processIs(vm, /sleep/)) ? undefined : true));
    const node = await until("peer1 in phase off", 15_000, async () => {
      const body = JSON.parse((await curl([`${URL}/api/v1/nodes/${MAC1}`])).stdout) as { node: { phase: string; power: unknown } };
      return body.node.phase === "off" ? body.node : undefined;
    });
    expect(node.power).toMatchObject({ action: "off", by: "confirm-off", result: "ok" });
    expect(proc!.log()).toMatch(/msg="node still on after its upload; powering it off through its BMC" bmc=peer1/);
  });

  it("the power API: status of every BMC without passwords; actions only with the admin token", async () => {
    // From the network (curl's source here is a BMC address, not the master's), reads need the token too.
    const adminToken = (await readFile(join(work, "data", "admin-token"), "utf8")).trim();
    expect((await curl(["-o", "/dev/null", "-w", "%{http_code}", `${URL}/api/v1/power`])).stdout).toBe("401");
    const all = await curl(["-H", `Authorization: Bearer ${adminToken}`, `${URL}/api/v1/power`]);
    expect(all.stdout).toMatch(/^\{"bmcs":/);
    for (const pw of PASSWORDS) expect(all.stdout).not.toContain(pw);
    const listed = JSON.parse(all.stdout) as { bmcs: Array<{ name: string; state: string; error?: { failure: string } }> };
    expect(listed.bmcs.map((b) => [b.name, b.state, b.error?.failure])).toEqual([
      ["peer1", "off", undefined],
      ["peer2", "unknown", "AUTH"],
    ]);
    const post = (headers: string[]) =>
      curl([
        "-w",
        "\n%{http_code}",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        ...headers,
        "--data",
        '{"action":"on"}',
        `${URL}/api/v1/nodes/${MAC1.replace(/:/g, "-")}/power`,
      ]);
    expect((await post([])).stdout.trim().split("\n").at(-1)).toBe("401");
    const ok = await post(["-H", `Authorization: Bearer ${adminToken}`]);
    expect(ok.stdout.trim().split("\n").at(-1)).toBe("200");
    expect(JSON.parse(ok.stdout.trim().split("\n")[0]!)).toEqual({ bmc: "peer1", mac: MAC1, address: "10.80.0.201", action: "on", answer: "Up/On" });
    await until("peer1 on again", 10_000, () => vmAlive(bmcs[0]!));
    expect(proc!.log()).not.toContain(adminToken);
  });
});
