/**
 * The rendered dnsmasq.conf and host file are checked by the installed dnsmasq itself:
 * `dnsmasq --test` parses the whole config and exits without binding a socket or serving
 * anything, so this is safe outside a network namespace. A misspelt option or tag fails here.
 */
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BootServer } from "../../src/boot/plan-boot.js";
import { planDhcpBoot } from "../../src/boot/plan-dhcp.js";
import { parseSiteConfig } from "../../src/model/site-config.js";
import { renderDhcpHostsFile, renderDnsmasqConf, type DnsmasqOptions } from "../../src/master/dhcp/render-dnsmasq.js";
import { planScale } from "../../src/master/scale.js";

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-dnsmasq-syntax-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const SERVER: BootServer = { address: "10.20.0.1", httpPort: 8080, imageLabel: "test", imageArch: "x86_64", imageKernelArgs: [], arm64Firmware: true };

/** The chains of #11: the default (shim), hosts on each iPXE binary, and snponly.efi as the default with a host on shim. */
const CHAINS = {
  shim: `
groups: { broadcom: { macs: ["52:54:00:00:00:09"], firmwareFile: snponly.efi } }
hosts:
  52:54:00:00:00:02: { action: ignore }
  52:54:00:00:00:03: { hostname: db-1 }
  52:54:00:00:00:04: { firmwareFile: ipxe.efi }
`,
  snponly: `
defaults: { firmwareFile: snponly.efi }
hosts:
  52:54:00:00:00:01: { firmwareFile: shimx64.efi, hostname: sb-1 }
  52:54:00:00:00:04: { firmwareFile: ipxe.efi }
`,
} as const;

function optionsFor(mode: DnsmasqOptions["mode"], dir: string, siteConfig = ""): DnsmasqOptions {
  return {
    mode,
    interface: "recon0",
    address: "10.20.0.1",
    network: "10.20.0.0",
    prefix: 24,
    pool: mode === "authoritative" ? { start: "10.20.0.100", end: "10.20.0.199" } : undefined,
    leaseTime: "1h",
    ipv6Prefix: "fd00:20::",
    dns: { enabled: mode === "authoritative", domain: "recon.lan" },
    firstStage: planDhcpBoot(parseSiteConfig(siteConfig), SERVER).firstStage,
    // A fleet of 900 (src/master/scale.ts): dhcp-lease-max and tftp-max go through dnsmasq's parser too.
    limits: planScale(900),
    paths: {
      tftpRoot: join(dir, "tftp"),
      leaseFile: join(dir, "leases"),
      pidFile: join(dir, "pid"),
      hostsDir: join(dir, "hosts"),
    },
  };
}

async function dnsmasqTest(conf: string): Promise<{ exitCode: number | undefined; output: string }> {
  const result = await execa("dnsmasq", ["--test", `--conf-file=${conf}`], { reject: false, all: true });
  return { exitCode: result.exitCode, output: result.all ?? "" };
}

describe("dnsmasq --test", () => {
  it.each((["authoritative", "proxy"] as const).flatMap((mode) => (["shim", "snponly"] as const).map((chain) => [mode, chain] as const)))(
    "accepts the %s config (%s chain) and the host file as dhcp-host lines",
    async (mode, chain) => {
      const dir = join(work, `${mode}-${chain}`);
      await mkdir(join(dir, "hosts"), { recursive: true });
      const options = optionsFor(mode, dir, CHAINS[chain]);
      const hosts = renderDhcpHostsFile(planDhcpBoot(parseSiteConfig(CHAINS[chain]), SERVER).hosts);
      expect(hosts).toMatch(/,set:fw-(snponly|shim)\b/);
      // dhcp-hostsdir files are read only by a running server; as dhcp-host= lines the same
      // values go through the same parser under --test.
      const asOptions = hosts
        .split("\n")
        .filter((line) => line && !line.startsWith("#"))
        .map((line) => `dhcp-host=${line}`)
        .join("\n");
      const conf = join(dir, "dnsmasq.conf");
      await writeFile(conf, `${renderDnsmasqConf(options)}\n${asOptions}\n`);
      const result = await dnsmasqTest(conf);
      expect(result.output).toContain("syntax check OK");
      expect(result.exitCode).toBe(0);
    },
  );

  it("fails on a broken line (the check can fail)", async () => {
    const dir = join(work, "broken");
    await mkdir(dir, { recursive: true });
    const conf = join(dir, "dnsmasq.conf");
    await writeFile(conf, `${renderDnsmasqConf(optionsFor("proxy", dir))}\npxe-service=tag:!ipxe,Bogus_EFI,"x",x.efi\n`);
    expect((await dnsmasqTest(conf)).exitCode).not.toBe(0);
  });
});
