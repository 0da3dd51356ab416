import { describe, expect, it } from "vitest";
import { announceUrl, opentrackerArgs, renderWhitelist } from "./opentracker.js";

describe("opentracker", () => {
  it("listens on the boot address only, TCP only, chrooted with the whitelist inside", () => {
    expect(opentrackerArgs({ address: "10.20.0.1", port: 6969, dir: "/run/recon/torrent/tracker" })).toEqual([
      "-i",
      "10.20.0.1",
      "-p",
      "6969",
      "-d",
      "/run/recon/torrent/tracker",
      "-w",
      "/whitelist",
    ]);
    expect(announceUrl("10.20.0.1", 6969)).toBe("http://10.20.0.1:6969/announce");
  });

  it("renders the whitelist one hash a line and refuses anything else", () => {
    const hash = "97e568755d52cdaea1ca321b95dd52aeb1e28396";
    expect(renderWhitelist([hash, hash.replace("9", "0")])).toBe(`${hash}\n07e568755d52cdaea1ca321b95dd52aeb1e28396\n`);
    expect(renderWhitelist([])).toBe("");
    expect(() => renderWhitelist(["97E568755D52CDAEA1CA321B95DD52AEB1E28396"])).toThrow(/not an info hash/);
  });
});
