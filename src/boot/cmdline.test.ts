import { describe, expect, it } from "vitest";
import { detectRole } from "./cmdline.js";
import { parseCmdline } from "../model/kernel-cmdline.js";

describe("detectRole", () => {
  const cases: Array<[string, string, string]> = [
    ["root=live:CDLABEL=RECON rd.live.image", "master", "local media"],
    ["root=live:http://10.0.0.1/isos/recon.iso rd.live.ram=1 ip=dhcp", "peer", "network root"],
    ["root=live:https://m/isos/a.iso?token=s3cret", "peer", "network root live:https://m/isos/a.iso"],
    ["root=live:CDLABEL=RECON pxeaddr=10.0.0.1", "peer", "pxeaddr"],
    ["root=live:http://10.0.0.1/x.iso recon.role=master", "master", "recon.role=master"],
    ["root=live:CDLABEL=RECON recon.role=peer", "peer", "recon.role=peer"],
    ["root=live:CDLABEL=RECON recon.role=bogus", "master", "ignored invalid recon.role=bogus"],
    ["", "master", "local media"],
  ];
  it.each(cases)("%s → %s", (cmdline, role, reason) => {
    const decision = detectRole(parseCmdline(cmdline));
    expect(decision.role).toBe(role);
    expect(decision.reason).toContain(reason);
  });

  it("never repeats a query string (it may carry a token) in the reason", () => {
    const decision = detectRole(parseCmdline("root=live:http://m/a.iso?token=s3cret"));
    expect(decision.reason).not.toContain("s3cret");
  });
});
