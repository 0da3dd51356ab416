/**
 * The boot decision as one table (issue #10): machines → plans, and from the same decision the
 * texts machines receive: dnsmasq's config and host file, each machine's iPXE script and GRUB file, as
 * whole files under __snapshots__/ so a reviewer reads exactly what goes out.
 */
import { describe, expect, it } from "vitest";
import { parseSiteConfig, type SiteConfig } from "../model/site-config.js";
import { renderDhcpHostsFile, renderDnsmasqConf, type DnsmasqOptions } from "../master/dhcp/render-dnsmasq.js";
import { planBoot, type BootPlan, type BootServer, type Machine, type NodeBootRecord } from "./plan-boot.js";
import { dhcpBootFromPlans, namedMacs, planDhcpBoot } from "./plan-dhcp.js";
import { renderGrubNodeConfig } from "./render-grub.js";
import { renderIpxeScript } from "./render-ipxe.js";

const server: BootServer = {
  address: "10.20.0.1",
  httpPort: 80,
  imageLabel: "debian-12",
  imageArch: "x86_64",
  imageKernelArgs: ["rd.live.image"],
  arm64Firmware: true,
};

const site = parseSiteConfig(`
defaults:
  kernelArgs: [loglevel=4]
groups:
  broadcom: { macs: ["52:54:00:00:00:05"], firmwareFile: snponly.efi }
hosts:
  52:54:00:00:00:02: { action: ignore, hostname: secret-box }
  52:54:00:00:00:03: { reinventory: true, hostname: db-1 }
  52:54:00:00:00:04: { hostname: web-4, postAction: stay }
`);
const noWake = parseSiteConfig(`
power: { wake: false }
`);

interface Row {
  name: string;
  machine: Machine;
  record?: NodeBootRecord;
  config?: SiteConfig;
  server?: Partial<BootServer>;
  /** What the plan must say; compared with toMatchObject. */
  plan: Record<string, unknown>;
}

const table: Row[] = [
  {
    name: "BIOS: undionly.kpxe over TFTP, no initrd= arg",
    machine: { mac: "52:54:00:00:00:01", arch: "bios" },
    plan: { kind: "boot", firmwareFile: "undionly.kpxe", firstStage: { bios: { via: "tftp", file: "undionly.kpxe" } }, wake: { wake: true } },
  },
  {
    name: "UEFI x86_64: Microsoft-signed shim over TFTP; UEFI HTTP boot gets shim by URL from its own directory",
    machine: { mac: "52:54:00:00:00:01", arch: "efi64" },
    plan: {
      kind: "boot",
      firmwareFile: "shimx64.efi",
      loader: "ipxe",
      firstStage: {
        efi64: { via: "tftp", file: "shimx64.efi" },
        efi64Http: { via: "http", file: "shimx64.efi", url: "http://10.20.0.1/tftp/uefi-http/shimx64.efi" },
      },
    },
  },
  {
    name: "UEFI x86_64 in a group with the site's firmwareFile: snponly.efi",
    machine: { mac: "52:54:00:00:00:05", arch: "efi64" },
    plan: {
      kind: "boot",
      firmwareFile: "snponly.efi",
      firstStage: { efi64Http: { via: "http", file: "snponly.efi", url: "http://10.20.0.1/tftp/snponly.efi" } },
      sources: ["defaults", "groups.broadcom"],
    },
  },
  {
    name: "iPXE (user class iPXE, pcbios): the script URL over HTTP, then its own script",
    machine: { mac: "52:54:00:00:00:06", arch: "bios", userClass: "iPXE", ip: "10.20.0.106" },
    plan: {
      kind: "boot",
      firstStage: { ipxe: { via: "http", url: "http://10.20.0.1/boot.ipxe" } },
      scriptUrl: "http://10.20.0.1/boot/52-54-00-00-00-06.ipxe",
      kernelUrl: "http://10.20.0.1/install/debian-12/linux",
      initrdUrl: "http://10.20.0.1/install/debian-12/initrd",
      isoUrl: "http://10.20.0.1/isos/debian-12.iso",
    },
  },
  {
    name: "arm64 with an aarch64 image and ipxe-arm64.efi in the TFTP root",
    machine: { mac: "52:54:00:00:00:07", arch: "arm64" },
    server: { imageArch: "aarch64" },
    plan: { kind: "boot", firmwareFile: "ipxe-arm64.efi", firstStage: { arm64: { via: "tftp", file: "ipxe-arm64.efi" } } },
  },
  {
    name: "arm64 with the x86_64 image: ignored, not woken",
    machine: { mac: "52:54:00:00:00:07", arch: "arm64" },
    plan: {
      kind: "ignore",
      why: "arch",
      reason: "the image debian-12 is x86_64 and this machine is arm64",
      wake: { wake: false, reason: "the image debian-12 is x86_64 and this machine is arm64" },
    },
  },
  {
    name: "ignored by the site config: no DHCP answer, not woken",
    machine: { mac: "52:54:00:00:00:02", arch: "efi64" },
    plan: {
      kind: "ignore",
      why: "config-ignore",
      reason: "the site config says ignore (defaults → hosts.52:54:00:00:00:02)",
      wake: { wake: false, reason: "the site config says ignore (defaults → hosts.52:54:00:00:00:02)" },
    },
  },
  {
    name: "inventory stored, no reinventory: ignored, not woken",
    machine: { mac: "52:54:00:00:00:04", arch: "bios" },
    record: { uploads: 1 },
    plan: {
      kind: "ignore",
      why: "inventory-stored",
      reason: "inventory already stored; set reinventory: true for this node to boot it again",
      wake: { wake: false, reason: "its inventory is stored (1 upload); set reinventory: true for this node to wake it again" },
    },
  },
  {
    name: "inventory stored, reinventory: booted again and woken",
    machine: { mac: "52:54:00:00:00:03", arch: "efi64" },
    record: { uploads: 2 },
    plan: { kind: "boot", hostname: "db-1", wake: { wake: true } },
  },
  {
    name: "power.wake: false: booted when it asks, never woken",
    machine: { mac: "52:54:00:00:00:08", arch: "efi64" },
    config: noWake,
    plan: { kind: "boot", wake: { wake: false, reason: "the site config does not wake the fleet (power.wake: false)" } },
  },
  {
    name: "UEFI x86_64 under shim's GRUB: kernel and initrd by TFTP, no initrd= arg",
    machine: { mac: "52:54:00:00:00:01", arch: "efi64", loader: "grub" },
    plan: {
      kind: "boot",
      firmwareFile: "shimx64.efi",
      loader: "grub",
      kernelTftpPath: "/install/debian-12/linux",
      initrdTftpPath: "/install/debian-12/initrd",
    },
  },
];

const planRow = (row: Row, index: number): BootPlan => planBoot(row.machine, row.config ?? site, row.record, { ...server, ...row.server }, `tok-${index + 1}`);

describe("the boot decision, one table", () => {
  it.each(table.map((row, index) => [row.name, row, index] as const))("%s", (_name, row, index) => {
    expect(planRow(row, index)).toMatchObject(row.plan);
  });

  it("renders every machine's iPXE script from its plan", async () => {
    const scripts = table.flatMap((row, index) => (row.machine.loader === "grub" ? [] : [`### ${row.name}\n${renderIpxeScript(planRow(row, index))}`]));
    await expect(scripts.join("\n")).toMatchFileSnapshot("__snapshots__/boot-decision.ipxe");
  });

  it("renders every x86-64 UEFI machine's GRUB file from its plan as GRUB (shim's second stage) asks", async () => {
    const files = table.flatMap((row, index) =>
      row.machine.arch === "efi64"
        ? [
            `### ${row.name}\n${renderGrubNodeConfig(planRow({ ...row, machine: { ...row.machine, loader: "grub" } }, index), { via: "tftp", server: server.address })}`,
          ]
        : [],
    );
    await expect(files.join("\n")).toMatchFileSnapshot("__snapshots__/boot-decision.grub");
  });

  const dnsmasq = (mode: DnsmasqOptions["mode"]): DnsmasqOptions => ({
    mode,
    interface: "br0",
    address: server.address,
    network: "10.20.0.0",
    prefix: 24,
    pool: mode === "authoritative" ? { start: "10.20.0.100", end: "10.20.0.199" } : undefined,
    leaseTime: "1h",
    dns: { enabled: false, domain: "recon.lan" },
    // As master/dhcp/dnsmasq-files.ts: the mode written decides the default UEFI first stage.
    firstStage: planDhcpBoot(site, { ...server, dhcpMode: mode }).firstStage,
    paths: { tftpRoot: "/run/recon/tftp", leaseFile: "/run/recon/dnsmasq.leases", pidFile: "/run/recon/dnsmasq.pid", hostsDir: "/run/recon/hosts" },
  });

  it("renders dnsmasq's config (both modes) and host file from the plans", async () => {
    await expect(renderDnsmasqConf(dnsmasq("authoritative"))).toMatchFileSnapshot("__snapshots__/boot-decision.dnsmasq.conf");
    await expect(renderDnsmasqConf(dnsmasq("proxy"))).toMatchFileSnapshot("__snapshots__/boot-decision.dnsmasq-proxy.conf");
    await expect(renderDhcpHostsFile(planDhcpBoot(site, server).hosts)).toMatchFileSnapshot("__snapshots__/boot-decision.hosts");
  });

  it("gives DHCP the same host lines from the table's plans, whatever arch or record they were made with", () => {
    const siteRows = table.map((row, index) => ({ row, plan: planRow(row, index) })).filter(({ row }) => row.config === undefined && row.server === undefined);
    const named = new Set(namedMacs(site));
    const byMac = new Map(siteRows.filter(({ plan }) => named.has(plan.mac)).map(({ plan }) => [plan.mac, plan]));
    const anyMachine = siteRows.find(({ row }) => row.machine.mac === "52:54:00:00:00:01")!.plan;
    expect(
      dhcpBootFromPlans(
        anyMachine,
        [...byMac.values()].sort((a, b) => a.mac.localeCompare(b.mac)),
        server,
      ),
    ).toEqual(planDhcpBoot(site, server));
  });
});
