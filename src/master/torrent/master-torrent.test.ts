import { describe, expect, it } from "vitest";
import { parseSiteConfig } from "../../model/site-config.js";
import { planMasterTorrent } from "./master-torrent.js";

const images = [
  { label: "debian-12", root: "/run/initramfs/live/http" },
  { label: "debian-12-alt", root: "/data/images/debian-12-alt" },
];

describe("planMasterTorrent", () => {
  it("is undefined while distribution.peerAssist is off (the default): HTTP only", () => {
    expect(planMasterTorrent({ config: parseSiteConfig(""), images, address: "10.20.0.1", httpPort: 80, runDir: "/run/recon" })).toBeUndefined();
  });

  it("plans one torrent per served image and the tracker on the boot address", () => {
    const config = parseSiteConfig("distribution: { peerAssist: true, trackerPort: 7000, seedTimeS: 60 }\n");
    expect(planMasterTorrent({ config, images, address: "10.20.0.1", httpPort: 8080, runDir: "/run/recon" })).toEqual({
      tracker: { address: "10.20.0.1", port: 7000, dir: "/run/recon/torrent/tracker", announceUrl: "http://10.20.0.1:7000/announce" },
      torrents: [
        {
          label: "debian-12",
          isoPath: "/run/initramfs/live/http/isos/debian-12.iso",
          torrentPath: "/run/recon/torrent/debian-12.torrent",
          webSeedUrl: "http://10.20.0.1:8080/isos/debian-12.iso",
          name: "debian-12.iso",
        },
        {
          label: "debian-12-alt",
          isoPath: "/data/images/debian-12-alt/isos/debian-12-alt.iso",
          torrentPath: "/run/recon/torrent/debian-12-alt.torrent",
          webSeedUrl: "http://10.20.0.1:8080/isos/debian-12-alt.iso",
          name: "debian-12-alt.iso",
        },
      ],
      seedTimeS: 60,
      seedRatio: 4,
    });
  });

  it("leaves port 80 out of the web seed URL, as the boot scripts' ISO URL does", () => {
    const config = parseSiteConfig("distribution: { peerAssist: true }\n");
    expect(planMasterTorrent({ config, images: images.slice(0, 1), address: "10.20.0.1", httpPort: 80, runDir: "/r" })?.torrents[0]?.webSeedUrl).toBe(
      "http://10.20.0.1/isos/debian-12.iso",
    );
  });
});
