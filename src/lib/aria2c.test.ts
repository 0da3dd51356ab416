import { describe, expect, it } from "vitest";
import { aria2cArgs, parseAria2cLine } from "./aria2c.js";

describe("aria2cArgs", () => {
  it("renders a booting peer's whole argv: bounded seeding, frequent announces, no DHT/LPD/PEX, the completion hook", () => {
    expect(aria2cArgs({ torrentPath: "/run/recon/debian-12.torrent", dir: "/run/initramfs/live", seedTimeS: 120, seedRatio: 4 })).toEqual([
      "--dir=/run/initramfs/live",
      "--seed-time=2.000",
      "--seed-ratio=4",
      "--bt-tracker-interval=5",
      "--listen-port=6881",
      "--enable-dht=false",
      "--enable-dht6=false",
      "--bt-enable-lpd=false",
      "--enable-peer-exchange=false",
      "--file-allocation=none",
      "--summary-interval=0",
      "--enable-color=false",
      "--on-bt-download-complete=/bin/echo",
      "--console-log-level=notice",
      "--download-result=hide",
      "--bt-stop-timeout=0",
      "/run/recon/debian-12.torrent",
    ]);
  });

  it("checks an existing copy before seeding it", () => {
    const args = aria2cArgs({ torrentPath: "t", dir: "d", seedTimeS: 30, seedRatio: 1, seedExisting: true, stallTimeoutS: 60 });
    expect(args.slice(-4)).toEqual(["--bt-stop-timeout=60", "--check-integrity=true", "--bt-seed-unverified=false", "t"]);
    expect(args).toContain("--seed-time=0.500");
  });
});

describe("parseAria2cLine", () => {
  it.each([
    ["5f08882b3a1c9e0d 1 /dev/shm/p0/test.iso", { kind: "verified", path: "/dev/shm/p0/test.iso" }],
    ["12/03 06:11:41 [NOTICE] Download complete: /dev/shm/p0/test.iso", { kind: "complete", path: "/dev/shm/p0/test.iso" }],
    ["12/03 06:11:41 [NOTICE] Seeding is over.", { kind: "seeding-over" }],
    [
      "12/03 06:11:41 [ERROR] CUID#7 - Download aborted. URI=http://10.81.0.1:8080/isos/test.iso",
      { kind: "error", message: "CUID#7 - Download aborted. URI=http://10.81.0.1:8080/isos/test.iso" },
    ],
    ["[#5f0888 SEED(0.0) CN:2 SD:0]", undefined],
    ["", undefined],
  ])("%j", (line, event) => {
    expect(parseAria2cLine(line)).toEqual(event);
  });
});
