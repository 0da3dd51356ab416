/**
 * Takes the needs snapshot (src/build/image-needs.ts) from an unpacked image root: the modules the
 * driver classes match and their dependencies (modules.dep), the firmware those modules name that
 * the image has, and each tool's shared libraries. Read-only on the root. The parsers are pure;
 * readelf (binutils, on the build host) is the one tool, through the runner.
 */
import { readdir, readFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { matchAny } from "../lib/path-glob.js";
import type { CommandRunner } from "../lib/run.js";
import { DRIVER_CLASSES, resolveInRoot, TOOL_DIRS, type ImageNeedsSnapshot, type NeededTool, type DriverClass } from "./image-needs.js";

/** modules.dep: `kernel/a.ko: kernel/b.ko kernel/c.ko` → a → [b, c]. */
export function parseModulesDep(text: string): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    deps.set(line.slice(0, colon), line.slice(colon + 1).trim().split(/\s+/).filter(Boolean));
  }
  return deps;
}

/** The modules `wanted` names and everything they depend on, sorted. */
export function moduleClosure(wanted: Iterable<string>, deps: Map<string, string[]>): string[] {
  const seen = new Set<string>();
  const stack = [...wanted];
  while (stack.length) {
    const module = stack.pop()!;
    if (seen.has(module)) continue;
    seen.add(module);
    stack.push(...(deps.get(module) ?? []));
  }
  return [...seen].sort();
}

/**
 * The `firmware=` entries of a module's .modinfo section (what `modinfo -F firmware` prints),
 * read from the file's bytes: modinfo strings are NUL-separated `key=value`.
 */
export function modinfoFirmware(module: Buffer): string[] {
  const text = module.toString("latin1");
  const names = new Set<string>();
  for (const match of text.matchAll(/\0firmware=([^\0]+)/g)) names.add(match[1]!);
  return [...names].sort();
}

/** `readelf -d`: the NEEDED sonames and the RUNPATH/RPATH directories. */
export function parseReadelfDynamic(text: string): { needed: string[]; runpath: string[] } {
  const needed = [...text.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]!);
  const runpath = [...text.matchAll(/\((?:RUNPATH|RPATH)\)\s+Library (?:runpath|rpath): \[([^\]]+)\]/g)].flatMap((m) => m[1]!.split(":"));
  return { needed, runpath };
}

// The dynamic loader's default search path on Debian amd64 (ld.so.conf.d/x86_64-linux-gnu.conf, then the trusted dirs).
const LIBRARY_DIRS = ["usr/local/lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "usr/lib", "usr/lib64"];

/** The matches of the driver classes under one kernel directory (paths relative to it). */
export function modulesInClasses(modules: string[], classes: readonly DriverClass[] = DRIVER_CLASSES): string[] {
  const match = matchAny(classes.map((c) => c.glob));
  return modules.filter((module) => match(module.replace(/\.(xz|zst|gz)$/, "")));
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => posix.relative(dir, join(entry.parentPath, entry.name)));
}

export async function scanImageNeeds(root: string, tools: readonly NeededTool[], runner: CommandRunner, takenFrom: string): Promise<ImageNeedsSnapshot> {
  const kernels = (await readdir(join(root, "usr/lib/modules"))).sort();
  if (kernels.length !== 1) throw new Error(`image needs: expected one kernel under usr/lib/modules, found ${kernels.join(", ") || "none"}`);
  const kernel = kernels[0]!;
  const kernelDir = join(root, "usr/lib/modules", kernel);
  const deps = parseModulesDep(await readFile(join(kernelDir, "modules.dep"), "utf8"));
  const modules = moduleClosure(modulesInClasses(await filesUnder(join(kernelDir, "kernel")).then((l) => l.map((p) => `kernel/${p}`))), deps);

  const firmware = new Set<string>();
  for (const module of modules) {
    if (!module.endsWith(".ko")) continue; // compressed modules would need unpacking; Debian 12's are plain
    for (const name of modinfoFirmware(await readFile(join(kernelDir, module)))) {
      if ((await resolveInRoot(root, `usr/lib/firmware/${name}`)) !== undefined) firmware.add(name);
    }
  }

  const toolPaths: Record<string, string> = {};
  const libraries = new Set<string>();
  const elfQueue: string[] = [];
  for (const tool of tools) {
    for (const dir of TOOL_DIRS) {
      const path = `${dir}/${tool.name}`;
      const real = await resolveInRoot(root, path);
      if (real === undefined) continue;
      toolPaths[tool.name] = path;
      if (real !== path) libraries.add(real); // the file behind a link (modprobe → kmod) is needed too
      elfQueue.push(real);
      break;
    }
  }
  const readElf = new Set<string>();
  while (elfQueue.length) {
    const file = elfQueue.pop()!;
    if (readElf.has(file)) continue;
    readElf.add(file);
    const result = await runner.run("readelf", ["-d", "-W", join(root, file)]);
    if (result.exitCode !== 0) continue; // a script, not an ELF file
    const { needed, runpath } = parseReadelfDynamic(result.stdout);
    const dirs = [...runpath.map((dir) => dir.replace("$ORIGIN", `/${posix.dirname(file)}`).replace(/^\//, "")), ...LIBRARY_DIRS];
    for (const soname of needed) {
      for (const dir of dirs) {
        const link = `${dir}/${soname}`;
        const real = await resolveInRoot(root, link);
        if (real === undefined) continue;
        libraries.add(link);
        libraries.add(real);
        elfQueue.push(real);
        break;
      }
    }
  }
  return { kernel, takenFrom, modules, firmware: [...firmware].sort(), tools: toolPaths, libraries: [...libraries].sort() };
}
