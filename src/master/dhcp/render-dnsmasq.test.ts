import { planScale } from "../scale.js";
import { describe, expect, it } from "vitest";
import type { BootServer } from "../../boot/plan-boot.js";
import { planDhcpBoot } from "../../boot/plan-dhcp.js";
import { parseSiteConfig } from "../../model/site-config.js";
import { prefixToNetmask, renderDhcpHostsFile, renderDnsmasqConf, type DnsmasqOptions } from "./render-dnsmasq.js";

const SERVER: BootServer = { address: "10.20.0.1", httpPort: 80, imageLabel: "debian-12", imageArch: "x86_64", imageKernelArgs: [], arm64Firmware: false };

/** The first stages the boot decision hands dnsmasq for a site config and a server. */
const firstStage = (config = "", server: Partial<BootServer> = {}) => planDhcpBoot(parseSiteConfig(config), { ...SERVER, ...server }).firstStage;

const DNSMASQ_BASE: Omit<DnsmasqOptions, "mode" | "dns"> = {
  interface: "br0",
  address: "10.20.0.1",
  network: "10.20.0.0",
  prefix: 24,
  leaseTime: "1h",
  firstStage: firstStage(),
  paths: {
    tftpRoot: "/run/recon/tftp",
    leaseFile: "/var/lib/recon/dnsmasq.leases",
    pidFile: "/run/recon/dnsmasq.pid",
    hostsDir: "/run/recon/dhcp-hosts",
  },
};

/** The first stage each chain of #11 hands out, and the site configs that select it. */
const CHAINS: Array<{ name: string; config: string; server?: Partial<BootServer> }> = [
  { name: "shim", config: "" },
  { name: "shim-host-ipxe", config: "hosts:\n  52:54:00:00:00:01: { firmwareFile: ipxe.efi, hostname: old-nic }\n" },
  {
    name: "snponly-host-shim",
    config: "defaults: { firmwareFile: snponly.efi }\nhosts:\n  52:54:00:00:00:01: { firmwareFile: shimx64.efi }\n  52:54:00:00:00:02: { action: ignore }\n",
  },
  { name: "shim-arm64", config: "", server: { httpPort: 8080, arm64Firmware: true } },
  // A site whose own DHCP server names the master as next-server: shim in proxy mode too.
  { name: "shim-set", config: "defaults: { firmwareFile: shimx64.efi }\n" },
];

const render = (chain: (typeof CHAINS)[number], mode: DnsmasqOptions["mode"]) =>
  renderDnsmasqConf({
    ...DNSMASQ_BASE,
    mode,
    // As dnsmasq-files.ts does: the mode written decides the default UEFI first stage.
    firstStage: firstStage(chain.config, { ...chain.server, dhcpMode: mode }),
    ...(mode === "authoritative" && { pool: { start: "10.20.0.100", end: "10.20.0.199" }, ipv6Prefix: "fd00:20::" }),
    dns: { enabled: mode === "authoritative" && chain.name === "shim", domain: "dc1.example" },
    // The default chain is written sized for a fleet (src/master/scale.ts), the others with dnsmasq's defaults.
    ...(chain.name === "shim" && { limits: planScale(400) }),
  });

/**
 * Which dhcp-boot lines a client with these tags matches, as dnsmasq matches a line's tags: every
 * `tag:X` set and no `tag:!X` set. dnsmasq takes one of several matches by its own order, so the
 * config must leave exactly one.
 */
function dhcpBootFor(text: string, tags: readonly string[]): string[] {
  return text
    .split("\n")
    .filter((line) => line.startsWith("dhcp-boot="))
    .map((line) => line.slice("dhcp-boot=".length).split(","))
    .filter((fields) =>
      fields
        .filter((field) => field.startsWith("tag:"))
        .every((field) => (field.startsWith("tag:!") ? !tags.includes(field.slice(5)) : tags.includes(field.slice(4)))),
    )
    .map((fields) => fields.find((field) => !field.startsWith("tag:"))!);
}

describe("renderDnsmasqConf", () => {
  it.each(CHAINS.flatMap((chain) => (["authoritative", "proxy"] as const).map((mode) => [chain.name, mode, chain] as const)))(
    "%s, %s: the whole config",
    async (name, mode, chain) => {
      await expect(render(chain, mode)).toMatchFileSnapshot(`__snapshots__/dnsmasq.${name}.${mode}.conf`);
    },
  );

  it.each(CHAINS.map((chain) => [chain.name, chain] as const))("%s: the whole host file", async (name, chain) => {
    await expect(renderDhcpHostsFile(planDhcpBoot(parseSiteConfig(chain.config), { ...SERVER, ...chain.server }).hosts)).toMatchFileSnapshot(
      `__snapshots__/dnsmasq.${name}.hosts`,
    );
  });

  const master = "http://10.20.0.1";
  it.each([
    ["shim", ["bios"], ["undionly.kpxe"]],
    ["shim", ["efi64"], ["shimx64.efi"]],
    ["shim", ["efi64", "fw-ipxe"], ["ipxe.efi"]],
    ["shim", ["efi64", "fw-snponly"], ["snponly.efi"]],
    ["shim", ["efi64", "ipxe"], [`${master}/boot.ipxe`]],
    ["shim", ["efi64-http"], [`${master}/tftp/uefi-http/shimx64.efi`]],
    ["shim", ["efi64-http", "fw-ipxe"], [`${master}/tftp/ipxe.efi`]],
    ["shim", ["efi64-http", "fw-snponly"], [`${master}/tftp/snponly.efi`]],
    ["shim", ["efi64-http", "ipxe"], [`${master}/boot.ipxe`]],
    ["shim", ["arm64"], []],
    ["snponly-host-shim", ["efi64"], ["snponly.efi"]],
    ["snponly-host-shim", ["efi64", "fw-shim"], ["shimx64.efi"]],
    ["snponly-host-shim", ["efi64", "fw-ipxe"], ["ipxe.efi"]],
    ["snponly-host-shim", ["efi64-http"], [`${master}/tftp/snponly.efi`]],
    ["snponly-host-shim", ["efi64-http", "fw-shim"], [`${master}/tftp/uefi-http/shimx64.efi`]],
    ["shim-arm64", ["arm64"], ["ipxe-arm64.efi"]],
    ["shim-arm64", ["efi64-http"], ["http://10.20.0.1:8080/tftp/uefi-http/shimx64.efi"]],
  ] as const)("authoritative %s: a client tagged %j matches exactly %j", (name, tags, files) => {
    expect(
      dhcpBootFor(
        render(
          CHAINS.find((chain) => chain.name === name)!,
          "authoritative",
        ),
        tags,
      ),
    ).toEqual(files);
  });

  it("answers UEFI HTTP boot only when authoritative (recon's own responder does it beside a site server)", () => {
    const authoritative = render(CHAINS[0]!, "authoritative");
    const proxy = render(CHAINS[0]!, "proxy");
    expect(authoritative).toContain("\ndhcp-option-force=tag:efi64-http,60,HTTPClient\n");
    expect(proxy).not.toContain("HTTPClient");
    expect(dhcpBootFor(proxy, ["efi64-http"])).toEqual([]);
  });

  it.each([
    // Proxy mode without a firmwareFile: ipxe.efi (Debian's GRUB would take its TFTP server from the site's answer).
    ["shim", [], "ipxe.efi"],
    ["shim", ["fw-shim"], "shimx64.efi"],
    ["shim-set", [], "shimx64.efi"],
    ["shim-set", ["fw-ipxe"], "ipxe.efi"],
    ["snponly-host-shim", [], "snponly.efi"],
    ["snponly-host-shim", ["fw-shim"], "shimx64.efi"],
  ] as const)("proxy %s: a PXE client (x86-64_EFI and BC_EFI) tagged %j is offered only %s", (name, tags, file) => {
    const services = render(
      CHAINS.find((chain) => chain.name === name)!,
      "proxy",
    )
      .split("\n")
      .filter((line) => line.startsWith("pxe-service=tag:!ipxe,") && /,(x86-64_EFI|BC_EFI),/.test(line))
      .map((line) => line.slice("pxe-service=".length).split(","))
      .filter((fields) =>
        fields
          .filter((field) => field.startsWith("tag:") && field !== "tag:!ipxe")
          .every((field) => (field.startsWith("tag:!") ? !tags.includes(field.slice(5) as never) : tags.includes(field.slice(4) as never))),
      )
      .map((fields) => `${fields.find((field) => !field.startsWith("tag:"))}:${fields.at(-2)}`);
    expect(services).toEqual([`x86-64_EFI:${file}`, `BC_EFI:${file}`]);
  });

  it("leaves out what does not apply: no RA without a prefix, no arm64 without a binary", () => {
    const text = renderDnsmasqConf({
      ...DNSMASQ_BASE,
      mode: "authoritative",
      pool: { start: "10.20.0.100", end: "10.20.0.199" },
      dns: { enabled: false, domain: "recon.lan" },
    });
    expect(text).not.toContain("enable-ra");
    expect(text).not.toContain("arm64");
    expect(text).not.toContain("pxe-service");
    expect(text).toContain("\nport=0\n");
  });

  it("refuses authoritative mode without a pool", () => {
    expect(() => renderDnsmasqConf({ ...DNSMASQ_BASE, mode: "authoritative", dns: { enabled: false, domain: "x" } })).toThrow("needs a pool");
  });

  it.each([
    [24, "255.255.255.0"],
    [16, "255.255.0.0"],
    [22, "255.255.252.0"],
    [32, "255.255.255.255"],
    [0, "0.0.0.0"],
  ])("prefix /%i → %s", (prefix, netmask) => {
    expect(prefixToNetmask(prefix)).toBe(netmask);
  });
});

describe("dhcp host file", () => {
  const config = parseSiteConfig(`
defaults: { firmwareFile: ipxe.efi }
groups:
  broadcom: { macs: ["52:54:00:00:00:09"], firmwareFile: snponly.efi }
hosts:
  52:54:00:00:00:03: { hostname: db-1 }
  52:54:00:00:00:02: { action: ignore, hostname: secret-box }
  52:54:00:00:00:09: { hostname: web-9 }
`);

  it("plans one entry per MAC named in hosts or groups, through the layering", () => {
    expect(planDhcpBoot(config, SERVER).hosts).toEqual([
      { mac: "52:54:00:00:00:02", ignore: true },
      { mac: "52:54:00:00:00:03", hostname: "db-1" },
      { mac: "52:54:00:00:00:09", hostname: "web-9", efiFile: "snponly.efi" },
    ]);
  });

  it("renders ignore, the tag of a non-default UEFI binary and names, sorted by MAC", () => {
    expect(renderDhcpHostsFile(planDhcpBoot(config, SERVER).hosts)).toBe(
      [
        "# Generated by recon from the site config (hosts and groups); edits are lost.",
        "52:54:00:00:00:02,ignore",
        "52:54:00:00:00:03,db-1",
        "52:54:00:00:00:09,set:fw-snponly,web-9",
        "",
      ].join("\n"),
    );
  });

  it("tags each binary by its own name, and a host on the default binary not at all", () => {
    const snponly = parseSiteConfig(`
defaults: { firmwareFile: snponly.efi }
hosts:
  52:54:00:00:00:01: { firmwareFile: ipxe.efi }
  52:54:00:00:00:02: { firmwareFile: shimx64.efi }
  52:54:00:00:00:03: { firmwareFile: snponly.efi }
`);
    expect(renderDhcpHostsFile(planDhcpBoot(snponly, SERVER).hosts).split("\n").slice(1)).toEqual([
      "52:54:00:00:00:01,set:fw-ipxe",
      "52:54:00:00:00:02,set:fw-shim",
      "52:54:00:00:00:03",
      "",
    ]);
  });
});
