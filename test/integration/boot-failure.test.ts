/**
 * A peer whose root does not arrive says so (issue #13, "a transport that fails says so on the peer's
 * console and the master"): the image's dracut module recon-root (overlay/usr/lib/dracut/modules.d/
 * 95recon-root) runs its emergency hook, which prints what it waited for on the console and reports
 * it to the master with the node's token. Here the real hook script runs under the host's sh with
 * the kernel command lines recon's boot decision writes (nbd, nfs, http), against a real master app
 * (the review's createApp, on 127.0.0.1): the master logs `peer boot failed`, the node turns `error`
 * with the transport and the wait in its message; a wrong token is refused and the console says the
 * master could not be told. That the module is in the image's initrd is the live-iso e2e's check.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueToken } from "../../src/model/peer-token.js";
import { rawRequest } from "../helpers/http-request.js";
import { repoRoot } from "../helpers/repo.js";
import { startReviewMaster, type ReviewMaster } from "../helpers/review-master.js";

const HOOK = join(repoRoot, "overlay/usr/lib/dracut/modules.d/95recon-root/recon-root-failed.sh");

let work: string;
let master: ReviewMaster;
const lines: string[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-boot-failure-"));
  master = await startReviewMaster({ dataDir: join(work, "data"), work, onLog: (line) => lines.push(line) });
});

afterAll(async () => {
  await master?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Runs the hook with this kernel command line; resolves with what it printed on the "console". */
async function runHook(name: string, cmdline: string): Promise<string> {
  const cmdlineFile = join(work, `${name}.cmdline`);
  const consoleFile = join(work, `${name}.console`);
  await writeFile(cmdlineFile, `${cmdline}\n`);
  await writeFile(consoleFile, "");
  const result = await execa("sh", [HOOK], {
    env: { RECON_CMDLINE_FILE: cmdlineFile, RECON_CONSOLE: consoleFile, PATH: process.env.PATH },
    reject: false,
    timeout: 30_000,
  });
  expect(result.exitCode, result.stderr).toBe(0);
  return readFile(consoleFile, "utf8");
}

function cmdlineFor(mac: string, rootArgs: string, token: string): string {
  const host = new URL(master.url).host;
  return `BOOT_IMAGE=/install/debian-12/linux ${rootArgs} ip=dhcp rd.neednet=1 BOOTIF=01-${mac.toUpperCase().replaceAll(":", "-")} pxeaddr=10.77.0.1 recon.master=${host} recon.token=${token} recon.post=poweroff console=ttyS0,115200n8`;
}

async function nodeOf(mac: string): Promise<{ phase: string; lastError?: string; timeline?: Array<{ phase: string; detail?: string }> } | null> {
  const res = await rawRequest(master.url, { path: `/api/v1/nodes/${mac}` });
  return res.status === 404 ? null : (res.json() as { node: { phase: string; timeline?: Array<{ phase: string; detail?: string }> } | null }).node;
}

describe("a root transport that fails", () => {
  const cases = [
    {
      root: "nbd",
      mac: "52:54:00:5e:01:01",
      args: "root=live:CDLABEL=RECON netroot=nbd:10.77.0.1:debian-12 rd.live.ram=0",
      says: "did not arrive over nbd: the master's nbd-server (port 10809) did not give this node its export debian-12.",
    },
    {
      root: "nfs",
      mac: "52:54:00:5e:01:02",
      args: "root=nfs4:10.77.0.1:/run/recon-nfs/debian-12:ro rootovl",
      says: "did not arrive over nfs: the master's NFS server did not let this node mount 10.77.0.1:/run/recon-nfs/debian-12:ro.",
    },
    {
      root: "http",
      mac: "52:54:00:5e:01:03",
      args: "root=live:http://10.77.0.1/isos/debian-12.iso rd.live.ram=1",
      says: "did not arrive over http: the image http://10.77.0.1/isos/debian-12.iso could not be fetched.",
    },
  ] as const;

  for (const c of cases) {
    it(`${c.root}: says what it waited for on the console, and the master logs it and marks the node error`, async () => {
      const token = issueToken(master.secret, c.mac, `nonce${c.root}`);
      const console = await runHook(c.root, cmdlineFor(c.mac, c.args, token));
      expect(console).toContain(`recon: this node's root file system did not arrive over ${c.root}`);
      expect(console).toContain(c.says);
      expect(console).toContain(`its log: msg="peer boot failed" mac=${c.mac}`);
      expect(console).toContain("recon: the master has been told.");
      expect(console).not.toContain(token);
      const logged = lines.find((line) => line.includes('msg="peer boot failed"') && line.includes(`mac=${c.mac}`));
      expect(logged, lines.join("\n")).toBeDefined();
      expect(logged).toContain("level=error");
      expect(logged).toContain(`root=${c.root}`);
      expect(logged).not.toContain(token);
      const node = await nodeOf(c.mac);
      expect(node?.phase).toBe("error");
      expect(JSON.stringify(node)).toContain(`did not arrive over ${c.root}`);
    });
  }

  it("with a token that is not the node's: refused, nothing recorded, and the console says the master did not take it", async () => {
    const mac = "52:54:00:5e:01:04";
    const console = await runHook(
      "bad-token",
      cmdlineFor(mac, "root=live:CDLABEL=RECON netroot=nbd:10.77.0.1:debian-12", issueToken(master.secret, "52:54:00:5e:01:99", "othernode1")),
    );
    expect(console).toContain("did not arrive over nbd");
    expect(console).toContain("did not take the report");
    expect(await nodeOf(mac)).toBeNull();
  });

  it("a node recon did not boot (no recon.master) is left to dracut's own words", async () => {
    expect(await runHook("foreign", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet")).toBe("");
  });

  it("refuses a report it cannot read with a 400 that says why", async () => {
    const mac = "52:54:00:5e:01:05";
    const token = issueToken(master.secret, mac, "badreport1");
    const res = await rawRequest(master.url, {
      method: "POST",
      path: `/api/v1/nodes/${mac}/boot-failure`,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: Buffer.from(JSON.stringify({ stage: "initrd", root: "iscsi", detail: "x" })),
    });
    expect(res.status).toBe(400);
    expect(res.body.toString()).toContain("not a root transport");
    expect(await nodeOf(mac)).toBeNull();
  });
});
