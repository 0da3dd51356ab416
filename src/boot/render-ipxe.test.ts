import { describe, expect, it } from "vitest";
import { parseSiteConfig } from "../model/site-config.js";
import { planBoot, type BootServer } from "./plan-boot.js";
import { renderChainScript, renderIpxeScript } from "./render-ipxe.js";

const server: BootServer = {
  address: "10.20.0.1",
  httpPort: 80,
  imageLabel: "debian-12",
  imageArch: "x86_64",
  imageKernelArgs: [],
  arm64Firmware: false,
};
const config = parseSiteConfig(`
hosts:
  52:54:00:00:00:02: { action: ignore }
  52:54:00:00:00:03: { postAction: reboot, kernelArgs: [nomodeset] }
`);

describe("renderIpxeScript", () => {
  it("BIOS: no initrd= arg, falls through on failure", () => {
    const plan = planBoot({ mac: "52:54:00:00:00:01", arch: "bios", userClass: "iPXE" }, config, undefined, server, "AbC-1");
    expect(renderIpxeScript(plan)).toBe(`#!ipxe
# recon: 52:54:00:00:00:01 (bios) inventory, then poweroff; layers: defaults
echo recon: booting 52:54:00:00:00:01 from http://10.20.0.1/isos/debian-12.iso
kernel --name linux http://10.20.0.1/install/debian-12/linux root=live:http://10.20.0.1/isos/debian-12.iso rd.live.ram=1 ip=dhcp rd.neednet=1 BOOTIF=01-52-54-00-00-00-01 pxeaddr=10.20.0.1 recon.master=10.20.0.1 recon.token=AbC-1 recon.post=poweroff console=ttyS0,115200n8 console=tty0 || goto failed
initrd --name initrd http://10.20.0.1/install/debian-12/initrd || goto failed
boot || goto failed
:failed
echo recon: network boot failed; returning to the firmware to try the next boot device
exit 1
`);
  });

  it("UEFI: initrd=initrd for the 2019 ipxe.efi, host args last", () => {
    const plan = planBoot({ mac: "52:54:00:00:00:03", arch: "efi64", userClass: "iPXE" }, config, undefined, { ...server, httpPort: 8080 }, "tok");
    expect(renderIpxeScript(plan)).toBe(`#!ipxe
# recon: 52:54:00:00:00:03 (efi64) inventory, then reboot; layers: defaults, hosts.52:54:00:00:00:03
echo recon: booting 52:54:00:00:00:03 from http://10.20.0.1:8080/isos/debian-12.iso
kernel --name linux http://10.20.0.1:8080/install/debian-12/linux root=live:http://10.20.0.1:8080/isos/debian-12.iso rd.live.ram=1 ip=dhcp rd.neednet=1 BOOTIF=01-52-54-00-00-00-03 pxeaddr=10.20.0.1 recon.master=10.20.0.1:8080 recon.token=tok recon.post=reboot initrd=initrd console=ttyS0,115200n8 console=tty0 nomodeset || goto failed
initrd --name initrd http://10.20.0.1:8080/install/debian-12/initrd || goto failed
boot || goto failed
:failed
echo recon: network boot failed; returning to the firmware to try the next boot device
exit 1
`);
  });

  it("ignore: prints the reason and exits to the next boot device", () => {
    const plan = planBoot({ mac: "52:54:00:00:00:01", arch: "bios" }, config, { uploads: 2 }, server, "t");
    expect(renderIpxeScript(plan)).toBe(`#!ipxe
# recon: 52:54:00:00:00:01 (bios) is not booted by recon
echo recon: not booting 52:54:00:00:00:01: inventory already stored; set reinventory: true for this node to boot it again
exit 1
`);
  });

  it("keeps iPXE from expanding variables or breaking lines in a reason", () => {
    const ignored = planBoot({ mac: "52:54:00:00:00:02", arch: "bios" }, config, undefined, server);
    const script = renderIpxeScript({ ...ignored, mac: "m", reason: "a ${net0/ip}\nchain http://evil" } as typeof ignored);
    expect(script).toContain("echo recon: not booting m: a {net0/ip} chain http://evil\n");
    expect(script.split("\n").filter((line) => line.startsWith("chain"))).toEqual([]);
  });
});

describe("renderChainScript", () => {
  it("chains to the per-MAC script with platform and arch", () => {
    expect(renderChainScript({ masterHost: "10.20.0.1" })).toBe(`#!ipxe
# recon: every machine fetches its own script, decided by planBoot
chain http://10.20.0.1/boot/\${mac:hexhyp}.ipxe?platform=\${platform}&buildarch=\${buildarch} || goto failed
:failed
echo recon: fetching the boot script failed; returning to the firmware to try the next boot device
exit 1
`);
  });
});
