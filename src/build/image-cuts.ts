/**
 * The image diet's cuts (issue #14): files a recon node never uses, as path globs relative to the
 * image root, each with why. Data only: bench/image-diet.ts measures each cut on a built root, and
 * a later change turns the chosen ones into config.sh lines. No cut may match a path the needs list
 * names (src/build/image-needs.ts; enforced by image-cuts.test.ts).
 *
 * Where a cut can run matters: config.sh runs before KIWI builds the initrd and the boot loader
 * from the root, so modules and firmware removed there leave the initrd too, while GRUB's files and
 * /boot/vmlinuz must stay until KIWI has used them (no cut names them).
 */
import { ReconError } from "../lib/errors.js";
import { globToRegExp } from "../lib/path-glob.js";

export interface ImageCut {
  id: string;
  /** Root-relative globs of what goes. */
  globs: string[];
  /** Root-relative globs that stay even though `globs` match them. */
  keep?: string[];
  why: string;
  /** A reason to hold it until someone has looked: what it might still be used for. */
  risk?: string;
}

const MODULES = "usr/lib/modules/*/kernel";
const FIRMWARE = "usr/lib/firmware";

export const IMAGE_CUTS: readonly ImageCut[] = [
  {
    id: "doc",
    globs: ["usr/share/doc/**", "usr/share/doc-base/**", "usr/share/info/**", "usr/share/lintian/**"],
    // The licences travel with the binaries we hand out.
    keep: ["usr/share/doc/*/copyright"],
    why: "documentation nobody reads on a recon node; the copyright files stay",
  },
  { id: "man", globs: ["usr/share/man/**"], why: "manual pages: no man on the image, and nobody reads them there" },
  { id: "locale", globs: ["usr/share/locale/**"], why: "message catalogues: the image runs C.UTF-8 only" },
  {
    id: "gpu-modules",
    globs: [`${MODULES}/drivers/gpu/drm/{amd,i915,nouveau,radeon,gma500}/**`],
    why: "desktop and laptop GPUs; servers' BMC graphics (ast, mgag200), the VMs' (bochs, qxl, virtio) and the drm core stay",
  },
  { id: "sound-modules", globs: [`${MODULES}/sound/**`, `${MODULES}/drivers/soundwire/**`], why: "sound cards" },
  { id: "media-modules", globs: [`${MODULES}/drivers/media/**`, `${MODULES}/drivers/staging/media/**`], why: "cameras, TV and video capture" },
  {
    id: "wireless-modules",
    globs: [
      `${MODULES}/drivers/net/wireless/**`,
      `${MODULES}/net/{wireless,mac80211,bluetooth,nfc,6lowpan,ieee802154,mac802154}/**`,
      `${MODULES}/drivers/{bluetooth,nfc}/**`,
      `${MODULES}/drivers/net/{ieee802154,wwan,hamradio,can,wan,arcnet,fddi,plip}/**`,
      `${MODULES}/net/{can,lapb,x25,appletalk}/**`,
    ],
    why: "Wi-Fi, Bluetooth, NFC, 802.15.4, modems, CAN and legacy radio/serial links: a recon node is wired",
  },
  {
    id: "misc-modules",
    globs: [
      `${MODULES}/drivers/{iio,comedi,isdn,gnss,w1,memstick,accessibility,android,greybus,siox,slimbus,counter}/**`,
      `${MODULES}/drivers/staging/**`,
      `${MODULES}/drivers/input/{joystick,tablet,touchscreen}/**`,
      `${MODULES}/drivers/platform/{chrome,surface}/**`,
      `${MODULES}/drivers/usb/{gadget,typec,musb,dwc2,dwc3,chipidea,cdns3,mtu3,renesas_usbhs,isp1760,usbip,atm,image}/**`,
      `${MODULES}/drivers/atm/**`,
      `${MODULES}/net/atm/**`,
    ],
    why: "industrial I/O and sensors, staging drivers, ISDN, GNSS, 1-Wire, game and touch input, Chromebook/Surface platforms, USB device-side and Type-C controllers, ATM",
  },
  {
    id: "fs-modules",
    globs: [
      `${MODULES}/fs/{btrfs,xfs,ocfs2,gfs2,ceph,smb,cifs,ntfs3,f2fs,jfs,reiserfs,nilfs2,ubifs,orangefs,afs,coda,hfs,hfsplus,erofs,ufs,minix,omfs,qnx4,qnx6,romfs,sysv,befs,bfs,efs,freevxfs,hpfs,adfs,affs,cramfs,jffs2,zonefs,9p}/**`,
    ],
    // dlm stays: md-cluster (drivers/md, a needs class) depends on it.
    why: "file systems recon never mounts: it reads the live root (squashfs, ext4, overlay), the stick's data partition (ext4) and serves NFS",
  },
  {
    id: "gpu-firmware",
    globs: [`${FIRMWARE}/{i915,nvidia,amdgpu,radeon,matrox}/**`, `${FIRMWARE}/lt9611uxc_fw.bin`],
    why: "firmware of the cut GPU drivers",
  },
  {
    id: "wireless-firmware",
    globs: [
      `${FIRMWARE}/{mediatek,brcm,wfx,ueagle-atm}/**`,
      `${FIRMWARE}/{rt2561,rt2561s,rt2661,rt2860,rt2870,rt3070,rt3071,rt3090,rt3290,rt73,mt7601u,mt7650,mt7662,mt7662_rom_patch}.bin`,
      `${FIRMWARE}/{agere_ap_fw,agere_sta_fw}.bin`,
      `${FIRMWARE}/{mts_cdma,mts_edge,mts_gsm,vntwusb}.fw`,
    ],
    why: "Wi-Fi, Bluetooth, ADSL and modem firmware",
  },
  {
    id: "media-firmware",
    globs: [
      `${FIRMWARE}/{dvb-*,v4l-*,as102_*,s2250*}`,
      `${FIRMWARE}/{go7007,dabusb}/**`,
      `${FIRMWARE}/{f2255usb.bin,ctefx.bin,ctspeq.bin}`,
    ],
    why: "TV, video capture and sound card firmware",
  },
  {
    id: "misc-firmware",
    globs: [`${FIRMWARE}/{imx,rockchip,cadence,moxa}/**`, `${FIRMWARE}/qat_*`, `${FIRMWARE}/rp2.fw`],
    why: "ARM SoC (i.MX, Rockchip, Cadence) firmware, QuickAssist crypto and multiport serial cards",
  },
  {
    id: "apt-cache",
    // Found on the 2026-12-03 build's root: 92 bootstrap .deb files (35 MB) and bookworm's Packages
    // list (50 MB) were packed into every squashfs.
    globs: ["var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*_*"],
    why: "the bootstrap's downloaded .deb files and apt's package lists and caches: a live node installs nothing; in `shell`, `apt-get update` fetches the lists again",
  },
  {
    id: "perl-modules",
    // libperl itself stays: lldpd links net-snmp, which links libperl (the needs list's libraries).
    globs: ["usr/share/perl/**", "usr/lib/x86_64-linux-gnu/perl/**"],
    why: "the full Perl's modules (perl-base, which dpkg needs, stays): only fio's helper scripts use them; the agent runs the fio binary",
    risk: "a Perl script some role starts would fail; none is in the needs list",
  },
  {
    id: "python",
    globs: ["usr/lib/python3*/**", "usr/bin/python3*", "usr/lib/x86_64-linux-gnu/libpython3*"],
    why: "Python 3: only nfs-common's nfsiostat/mountstats and fio's plotting scripts use it",
    risk: "a Python script some role starts would fail; none is in the needs list",
  },
  {
    id: "netfilter-modules",
    globs: [`${MODULES}/net/{netfilter,ipv4/netfilter,ipv6/netfilter,bridge/netfilter}/**`],
    why: "firewalling: recon sets no nftables or iptables rules",
    risk: "a site that firewalls the master by hand from the stick would lose it",
  },
];

export interface CompiledCut {
  cut: ImageCut;
  matches(path: string): boolean;
}

export function compileCuts(cuts: readonly ImageCut[] = IMAGE_CUTS): CompiledCut[] {
  return cuts.map((cut) => {
    const globs = cut.globs.map(globToRegExp);
    const keep = (cut.keep ?? []).map(globToRegExp);
    return { cut, matches: (path) => globs.some((g) => g.test(path)) && !keep.some((k) => k.test(path)) };
  });
}

/** The first cut that takes a root-relative path (cuts are measured in order, each file once). */
export function cutFor(compiled: readonly CompiledCut[], path: string): ImageCut | undefined {
  return compiled.find((c) => c.matches(path))?.cut;
}

/** Needed paths some cut would remove, with the cut: empty when the cuts respect the needs. */
export function cutsAgainstNeeds(cuts: readonly ImageCut[], needed: readonly string[]): { cut: string; path: string }[] {
  const compiled = compileCuts(cuts);
  const clashes: { cut: string; path: string }[] = [];
  for (const path of needed) {
    for (const c of compiled) if (c.matches(path)) clashes.push({ cut: c.cut.id, path });
  }
  return clashes;
}

const SHELL_GLOB = /[*?[{]/;

function cutError(message: string): ReconError {
  return new ReconError("RECIPE_INVALID", message, { hint: "see src/build/image-cuts.ts for the cuts and their globs" });
}

/** A root-relative glob as an unquoted bash word: only glob and brace characters may be in it. */
function shellWord(glob: string, cutId: string): string {
  if (!/^[A-Za-z0-9_./*?{},+@-]+$/.test(glob) || glob.includes("**")) {
    throw cutError(`image cut '${cutId}': glob '${glob}' cannot become a config.sh word (only 'dir/**' at the end, no quotes or spaces)`);
  }
  return `/${glob}`;
}

/**
 * The config.sh lines (bash: brace expansion and globs, unquoted on purpose) that carry out the
 * chosen cuts in the image root, then rebuild the module index: config.sh runs before KIWI makes
 * the initrd, so the cut modules and firmware leave the initrd too. `X/**` removes the tree X; a
 * cut with `keep` globs deletes the files under its trees that no keep glob names, then the empty
 * directories. Pure: ids in, lines out; an unknown id throws (the recipe schema checks them first).
 */
export function renderCutShell(ids: readonly string[], cuts: readonly ImageCut[] = IMAGE_CUTS): string[] {
  if (ids.length === 0) return [];
  const lines = ["# Image diet (docs/recipes.md): what a recon node never uses, from src/build/image-cuts.ts."];
  for (const id of ids) {
    const cut = cuts.find((c) => c.id === id);
    if (!cut) throw cutError(`image cut '${id}' is not one of ${cuts.map((c) => c.id).join(", ")}`);
    lines.push(`# cut ${cut.id}: ${cut.why}`);
    for (const glob of cut.globs) {
      const tree = glob.endsWith("/**") ? glob.slice(0, -3) : undefined;
      if (!cut.keep?.length) {
        lines.push(`rm -rf -- ${shellWord(tree ?? glob, cut.id)}`);
        continue;
      }
      if (tree === undefined || SHELL_GLOB.test(tree)) {
        throw cutError(`image cut '${cut.id}': keep globs need plain trees ('dir/**'), not '${glob}'`);
      }
      const keep = cut.keep.map((k) => `! -path '/${k}'`).join(" ");
      lines.push(
        `if [ -d /${tree} ]; then`,
        `  find /${tree} -mindepth 1 ! -type d ${keep} -delete`,
        `  find /${tree} -mindepth 1 -depth -type d -empty -delete`,
        "fi",
      );
    }
  }
  lines.push(
    "# The module index must not name the modules that went.",
    'for kernel in /usr/lib/modules/*/; do depmod -a "$(basename "$kernel")"; done',
  );
  return lines;
}
