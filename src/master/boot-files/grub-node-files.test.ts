import { mkdir, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { planBoot, type BootServer, type NodeBootRecord } from "../../boot/plan-boot.js";
import { renderGrubNodeConfig } from "../../boot/render-grub.js";
import { createLogger } from "../../lib/log.js";
import { tokenFingerprint, verifyToken } from "../../model/peer-token.js";
import { parseSiteConfig } from "../../model/site-config.js";
import { createGrubNodeFiles } from "./grub-node-files.js";

const server: BootServer = { address: "10.20.0.1", httpPort: 80, imageLabel: "debian-12", imageArch: "x86_64", imageKernelArgs: [], arm64Firmware: false };
const config = parseSiteConfig(`
hosts:
  52:54:00:00:00:02: { firmwareFile: ipxe.efi }
  52:54:00:00:00:03: { action: ignore }
`);
const secret = new Uint8Array(32).fill(7);
const SHIM_MAC = "52:54:00:00:00:01";

const tokenIn = (text: string) => /'recon\.token=([^']+)'/.exec(text)?.[1];

describe("createGrubNodeFiles", () => {
  let tftpRoot: string;
  let clock: number;
  let logLines: string[];
  let records: Map<string, NodeBootRecord>;
  const fileOf = (mac: string) => join(tftpRoot, "grub", "nodes", `${mac}.cfg`);
  const make = () =>
    createGrubNodeFiles({
      tftpRoot,
      config,
      server,
      secret,
      record: (mac) => records.get(mac),
      log: createLogger({}, { write: (line) => logLines.push(line) }),
      now: () => clock,
    });

  beforeEach(async () => {
    tftpRoot = await mkdtemp(join(tmpdir(), "recon-grub-nodes-"));
    await mkdir(join(tftpRoot, "grub", "nodes"), { recursive: true });
    clock = 1_000_000;
    logLines = [];
    records = new Map();
  });
  afterEach(async () => {
    await rm(tftpRoot, { recursive: true, force: true });
  });

  it("writes grub/nodes/<mac>.cfg (0644): planBoot's GRUB plan with a fresh token that verifies for that MAC only", async () => {
    await make().prepare("52-54-00-00-00-01");
    const text = await readFile(fileOf(SHIM_MAC), "utf8");
    const token = tokenIn(text);
    expect(token).toBeDefined();
    expect(verifyToken(secret, SHIM_MAC, token!)).toBe(true);
    expect(verifyToken(secret, "52:54:00:00:00:09", token!)).toBe(false);
    expect(text).toBe(
      renderGrubNodeConfig(planBoot({ mac: SHIM_MAC, arch: "efi64", loader: "grub" }, config, undefined, server, token), {
        via: "tftp",
        server: server.address,
      }),
    );
    expect(text).not.toContain("initrd=");
    expect((await stat(fileOf(SHIM_MAC))).mode & 0o777).toBe(0o644);
    // Nothing half-written is left beside it; the log carries the token's fingerprint, never the token.
    expect(await readdir(join(tftpRoot, "grub", "nodes"))).toEqual([`${SHIM_MAC}.cfg`]);
    expect(logLines.join("\n")).not.toContain(token!);
    expect(logLines).toEqual([
      expect.stringContaining(`msg="grub config written" mac=${SHIM_MAC} plan=boot image=debian-12 root=http token=${tokenFingerprint(token!)}`),
    ]);
  });

  it("rewrites a MAC's file with a new token once 5 s have passed, not before", async () => {
    const files = make();
    await files.prepare(SHIM_MAC);
    const first = tokenIn(await readFile(fileOf(SHIM_MAC), "utf8"));
    clock += 4_999;
    await files.prepare(SHIM_MAC);
    expect(tokenIn(await readFile(fileOf(SHIM_MAC), "utf8"))).toBe(first);
    clock += 1;
    await files.prepare(SHIM_MAC);
    const second = tokenIn(await readFile(fileOf(SHIM_MAC), "utf8"));
    expect(second).not.toBe(first);
    expect(verifyToken(secret, SHIM_MAC, second!)).toBe(true);
    expect(logLines).toHaveLength(2);
  });

  it("writes nothing for a MAC whose UEFI first stage is an iPXE binary (its GRUB never runs), or for what is no MAC", async () => {
    const files = make();
    await files.prepare("52:54:00:00:00:02");
    await files.prepare("not-a-mac");
    expect(await readdir(join(tftpRoot, "grub", "nodes"))).toEqual([]);
    expect(logLines).toEqual([]);
  });

  it("writes an ignore file, without a token, for a MAC recon does not boot (inventory stored, or the site config ignores it)", async () => {
    records.set(SHIM_MAC, { uploads: 1 });
    const files = make();
    await files.prepare(SHIM_MAC);
    await files.prepare("52:54:00:00:00:03");
    for (const mac of [SHIM_MAC, "52:54:00:00:00:03"]) {
      const text = await readFile(fileOf(mac), "utf8");
      expect(text).toBe(
        renderGrubNodeConfig(planBoot({ mac, arch: "efi64", loader: "grub" }, config, records.get(mac), server), { via: "tftp", server: server.address }),
      );
      expect(text).toContain(`echo 'recon: not booting ${mac}: `);
      expect(text).not.toContain("recon.token");
    }
    expect(logLines[0]).toContain("plan=ignore reason=");
  });
});
