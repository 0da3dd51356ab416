import { describe, expect, it } from "vitest";
import { cmdlineValue, parseCmdline } from "./kernel-cmdline.js";

describe("parseCmdline", () => {
  it("splits words, keeps repeats and strips quotes", () => {
    const args = parseCmdline('BOOT_IMAGE=/boot/x86_64/loader/linux console=tty0 console=ttyS0,115200n8 rd.live.image foo="a b" root=live:CDLABEL=RECON\n');
    expect(args.get("console")).toEqual(["tty0", "ttyS0,115200n8"]);
    expect(cmdlineValue(args, "console")).toBe("ttyS0,115200n8");
    expect(args.get("rd.live.image")).toEqual([""]);
    expect(cmdlineValue(args, "foo")).toBe("a b");
    expect(cmdlineValue(args, "root")).toBe("live:CDLABEL=RECON");
    expect(cmdlineValue(args, "missing")).toBeUndefined();
  });
});
