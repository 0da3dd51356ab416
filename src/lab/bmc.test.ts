import { describe, expect, it } from "vitest";
import { ipmiSimArgv, labBmcFiles, renderBmcEmu, renderLanConf, renderLanControlScript, renderStartScript, shellQuote, type LabBmcSpec } from "./bmc.js";

const spec: LabBmcSpec = {
  name: "peer1",
  address: "10.77.0.201",
  netmask: "255.255.255.0",
  macAddress: "52:54:00:b0:00:01",
  username: "admin",
  password: "c0ffee-pw",
  vmPort: 9101,
  dir: "/lab/bmc/peer1",
};

describe("lab BMC files", () => {
  it("lan.conf: lanplus on the bridge address, the VM link, startcmd, one admin user", () => {
    expect(renderLanConf(spec)).toMatchInlineSnapshot(`
      "# recon lab BMC for peer1 (src/lab/bmc.ts)
      name "peer1"
      set_working_mc 0x20
        startlan 1
          addr 10.77.0.201 623
          priv_limit admin
          allowed_auths_callback md5
          allowed_auths_user md5
          allowed_auths_operator md5
          allowed_auths_admin md5
          guid e77af42f4d18c77a0aa7b5f86f3806c1
          lan_config_program "/lab/bmc/peer1/lan-control.sh lan"
        endlan
        serial 15 127.0.0.1 9101 codec VM
        startcmd "/lab/bmc/peer1/start-vm.sh"
        startnow false
        poweroff_wait 10
        kill_wait 5
        user 2 true "admin" "c0ffee-pw" admin 10 md5
      "
    `);
  });

  it("refuses a password that would break out of lan.conf's quotes, without echoing it", () => {
    expect(() => renderLanConf({ ...spec, password: 'x" admin' })).toThrow(/password '\[redacted\]'/);
  });

  it("the .emu, the start script and the LAN parameter script", () => {
    expect(renderBmcEmu()).toBe("mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nmc_enable 0x20\n");
    expect(renderStartScript(spec, ["qemu-system-x86_64", "-name", "peer 1", "-smbios", "type=1,manufacturer=It's"])).toBe(
      "#!/bin/sh\n# Started by ipmi_sim (peer1's BMC) on power on; ipmi_sim ends it on power off.\n" +
        "echo $$ > /lab/bmc/peer1/vm.pid\n" +
        "exec qemu-system-x86_64 \\\n  -name \\\n  'peer 1' \\\n  -smbios \\\n  'type=1,manufacturer=It'\\''s' \\\n  </dev/null >>/lab/bmc/peer1/vm.log 2>&1\n",
    );
    expect(renderLanControlScript(spec)).toContain("    ip_addr) v=10.77.0.201 ;;\n");
    expect(renderLanControlScript(spec)).toContain("    mac_addr) v=52:54:00:b0:00:01 ;;\n");
    expect(ipmiSimArgv(labBmcFiles(spec.dir))).toEqual([
      "ipmi_sim",
      "-c",
      "/lab/bmc/peer1/lan.conf",
      "-f",
      "/lab/bmc/peer1/bmc.emu",
      "-s",
      "/lab/bmc/peer1/state",
      "-n",
    ]);
    expect(shellQuote("a b")).toBe("'a b'");
  });
});
