/**
 * iPXE scripts as whole texts (docs/architecture.md, "Whole-text renderers"). Pure: a BootPlan in, the script a machine
 * receives out. Every failure path ends in `exit 1`: iPXE then returns to the firmware, which
 * tries the next boot device (usually the local disk), so a broken master never strands a node.
 */
import type { BootPlan } from "./plan-boot.js";

/**
 * iPXE expands `${…}` in every command, echo included, so text that is not ours to expand
 * (a reason naming a hostname, say) loses `$`; control characters would break the line.
 */
function quoteForEcho(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, " ").replace(/\$/g, "");
}

const FAILED_BLOCK = (what: string) => [":failed", `echo recon: ${what} failed; returning to the firmware to try the next boot device`, "exit 1"];

export function renderIpxeScript(plan: BootPlan): string {
  if (plan.kind === "ignore") {
    return [
      "#!ipxe",
      `# recon: ${plan.mac} (${plan.arch}) is not booted by recon`,
      `echo recon: not booting ${plan.mac}: ${quoteForEcho(plan.reason)}`,
      "exit 1",
      "",
    ].join("\n");
  }
  return [
    "#!ipxe",
    `# recon: ${plan.mac} (${plan.arch}) inventory, then ${plan.postAction}; layers: ${plan.sources.join(", ")}`,
    `echo recon: booting ${plan.mac} from ${plan.rootSource}`,
    // --name initrd matches the kernel's initrd=initrd, which Debian's 2019 ipxe.efi needs
    // (docs/lab-facts.md); on BIOS the name is unused.
    `kernel --name linux ${plan.kernelUrl} ${plan.kernelArgs.join(" ")} || goto failed`,
    `initrd --name initrd ${plan.initrdUrl} || goto failed`,
    "boot || goto failed",
    ...FAILED_BLOCK("network boot"),
    "",
  ].join("\n");
}

export interface ChainScriptOptions {
  /** `10.20.0.1` or `10.20.0.1:8080`. */
  masterHost: string;
}

/**
 * `/boot.ipxe`, what DHCP points every iPXE at: it chains to the per-MAC script so planBoot
 * decides per machine (pixiecore does the same). `${platform}`/`${buildarch}` tell the master
 * BIOS from UEFI, which the HTTP request would not otherwise show.
 */
export function renderChainScript(options: ChainScriptOptions): string {
  return [
    "#!ipxe",
    "# recon: every machine fetches its own script, decided by planBoot",
    `chain http://${options.masterHost}/boot/\${mac:hexhyp}.ipxe?platform=\${platform}&buildarch=\${buildarch} || goto failed`,
    ...FAILED_BLOCK("fetching the boot script"),
    "",
  ].join("\n");
}
