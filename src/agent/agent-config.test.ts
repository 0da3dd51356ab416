import { describe, expect, it } from "vitest";
import { parseCmdline } from "../model/kernel-cmdline.js";
import { ReconError } from "../lib/errors.js";
import { bootMacFromCmdline, macFromBootif, masterUrlFrom, parseAgentConfig } from "./agent-config.js";

// The shape plan-boot.ts writes (see its tests), plus what the image's recipe adds.
const PEER =
  "initrd=initrd root=live:http://10.20.0.1:8080/isos/recon.iso rd.live.ram=1 ip=dhcp rd.neednet=1 console=ttyS0,115200n8 " +
  "BOOTIF=01-52-54-00-AA-00-01 pxeaddr=10.20.0.1 recon.master=10.20.0.1:8080 recon.token=Abc_def-123456789012.SIGsig_-0123 recon.post=poweroff";

function configError(text: string, overrides = {}): ReconError {
  try {
    parseAgentConfig(parseCmdline(text), overrides);
  } catch (error) {
    expect(error).toBeInstanceOf(ReconError);
    expect((error as ReconError).code).toBe("CONFIG_INVALID");
    return error as ReconError;
  }
  throw new Error("expected CONFIG_INVALID");
}

describe("parseAgentConfig", () => {
  it("reads what the master's boot plan puts on a peer's command line", () => {
    expect(parseAgentConfig(parseCmdline(PEER))).toEqual({
      masterUrl: "http://10.20.0.1:8080",
      token: "Abc_def-123456789012.SIGsig_-0123",
      postAction: "poweroff",
      bootMac: "52:54:00:aa:00:01",
      pxeAddress: "10.20.0.1",
    });
  });

  it("reads the seeding bounds of a peer that fetched its image by BitTorrent, and refuses a malformed one", () => {
    const torrent = PEER.replace(/root=\S+/, "root=live:torrent://10.20.0.1:8080/torrent/recon.torrent");
    expect(parseAgentConfig(parseCmdline(`${torrent} recon.seed=120,4`)).seed).toEqual({ timeS: 120, ratio: 4 });
    expect(parseAgentConfig(parseCmdline(`${torrent} recon.seed=0,0.5`)).seed).toEqual({ timeS: 0, ratio: 0.5 });
    expect(parseAgentConfig(parseCmdline(PEER)).seed).toBeUndefined();
    for (const bad of ["120", "120,4,1", "-1,4", "3601,4", "120,101", "1e3,4"]) {
      expect(configError(`${torrent} recon.seed=${bad}`).message).toContain(`recon.seed=${bad} is not of the form`);
    }
  });

  it("falls back to pxeaddr on port 80 without recon.master, and to stay without recon.post", () => {
    const config = parseAgentConfig(parseCmdline("BOOTIF=01-52-54-00-aa-00-02 pxeaddr=10.9.8.7 recon.token=tok.en"));
    expect(config.masterUrl).toBe("http://10.9.8.7");
    expect(config.postAction).toBe("stay");
  });

  it("lets --master and --post override the command line", () => {
    const config = parseAgentConfig(parseCmdline(PEER), { masterUrl: "http://127.0.0.1:9999/", postAction: "stay" });
    expect(config.masterUrl).toBe("http://127.0.0.1:9999");
    expect(config.postAction).toBe("stay");
  });

  it.each([
    ["no BOOTIF", PEER.replace(/BOOTIF=\S+/, ""), /BOOTIF= is missing/],
    ["a malformed BOOTIF", PEER.replace(/BOOTIF=\S+/, "BOOTIF=52:54:00"), /BOOTIF=52:54:00 is not of the form/],
    ["no master at all", PEER.replace(/recon\.master=\S+/, "").replace(/pxeaddr=\S+/, ""), /neither recon.master= nor pxeaddr=/],
    ["a master that is no address", PEER.replace(/recon\.master=\S+/, "recon.master=http://user:pw@x/"), /is not host\[:port\]/],
    ["no token", PEER.replace(/recon\.token=\S+/, ""), /recon.token= is missing/],
    ["an unknown post action", PEER.replace("recon.post=poweroff", "recon.post=halt"), /recon.post=halt is not one of poweroff, reboot, stay/],
  ])("refuses %s with a message that says what and how to fix", (_what, text, message) => {
    const error = configError(text);
    expect(error.message).toMatch(message);
    expect(error.hint).toMatch(/kernel command line/);
  });

  it("never puts the token into a message", () => {
    const error = configError(PEER.replace(/recon\.token=\S+/, "recon.token=secret$value"));
    expect(error.message).not.toContain("secret");
    expect(error.message).toMatch(/malformed/);
  });
});

describe("BOOTIF and the master address", () => {
  it.each([
    ["01-52-54-00-aa-00-01", "52:54:00:aa:00:01"],
    ["01-52-54-00-AA-00-01", "52:54:00:aa:00:01"],
    ["52-54-00-aa-00-01", undefined],
    ["06-52-54-00-aa-00-01", undefined],
    ["01-52-54-00-aa-00", undefined],
  ])("BOOTIF=%s → %s", (value, mac) => {
    expect(macFromBootif(value)).toBe(mac);
  });

  it("is undefined without BOOTIF", () => {
    expect(bootMacFromCmdline(parseCmdline("quiet"))).toBeUndefined();
  });

  it.each([
    ["10.0.0.1", "http://10.0.0.1"],
    ["10.0.0.1:8080", "http://10.0.0.1:8080"],
    ["[fd00::1]:8080", "http://[fd00::1]:8080"],
    ["http://master.example:81/", "http://master.example:81"],
    ["10.0.0.1:99999", undefined],
    ["http://x/?a=b", undefined],
  ])("master %s → %s", (value, url) => {
    expect(masterUrlFrom(value)).toBe(url);
  });
});
