import { describe, expect, it } from "vitest";
import { moduleClosure, modinfoFirmware, modulesInClasses, parseModulesDep, parseReadelfDynamic } from "./image-needs-scan.js";

describe("image needs scan parsers", () => {
  it("closes the driver classes over modules.dep", () => {
    const deps = parseModulesDep(
      [
        "kernel/drivers/net/ethernet/intel/ixgbe/ixgbe.ko: kernel/drivers/net/mdio.ko kernel/drivers/dca/dca.ko",
        "kernel/drivers/net/mdio.ko:",
        "kernel/drivers/dca/dca.ko:",
        "kernel/sound/core/snd.ko: kernel/sound/soundcore.ko",
      ].join("\n"),
    );
    const wanted = modulesInClasses([...deps.keys()]);
    expect(wanted).toEqual(["kernel/drivers/net/ethernet/intel/ixgbe/ixgbe.ko", "kernel/drivers/net/mdio.ko"]);
    expect(moduleClosure(wanted, deps)).toEqual(["kernel/drivers/dca/dca.ko", "kernel/drivers/net/ethernet/intel/ixgbe/ixgbe.ko", "kernel/drivers/net/mdio.ko"]);
  });

  it("reads firmware= from a module's modinfo strings", () => {
    const module = Buffer.from("\x7fELF...\0license=GPL\0firmware=tigon/tg3.bin\0firmware=tigon/tg3_tso.bin\0firmware=tigon/tg3.bin\0alias=pci:v*", "latin1");
    expect(modinfoFirmware(module)).toEqual(["tigon/tg3.bin", "tigon/tg3_tso.bin"]);
  });

  it("reads NEEDED and RUNPATH from readelf -d", () => {
    const text = [
      " 0x0000000000000001 (NEEDED)             Shared library: [libceph-common.so.2]",
      " 0x0000000000000001 (NEEDED)             Shared library: [libc.so.6]",
      " 0x000000000000001d (RUNPATH)            Library runpath: [/usr/lib/x86_64-linux-gnu/ceph:$ORIGIN/x]",
    ].join("\n");
    expect(parseReadelfDynamic(text)).toEqual({ needed: ["libceph-common.so.2", "libc.so.6"], runpath: ["/usr/lib/x86_64-linux-gnu/ceph", "$ORIGIN/x"] });
  });
});
