/**
 * The composition root: argv → command. The only place that reads flags and env, prints
 * errors and exits.
 */
import { readFile } from "node:fs/promises";
import { detectRole } from "./boot/cmdline.js";
import { cmdlineValue, parseCmdline } from "./model/kernel-cmdline.js";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { buildImage, readStamp } from "./build/build-image.js";
import { describe, planFromDisk } from "./build/describe.js";
import { applyHttpTree, planHttpTree } from "./build/http-tree.js";
import { addImage } from "./master/image-add.js";
import { ensureImageRoot, imageRootPaths, recordHandChange } from "./build/image-root.js";
import { runNspawn } from "./build/nspawn.js";
import { repackImage } from "./build/repack.js";
import { PROFILES, type Profile } from "./build/recipe.js";
import { parseCommandFlags, type CommandFlagTable } from "./lib/command-flags.js";
import { acquireLock } from "./lib/lock-file.js";
import { execaRunner } from "./lib/run.js";
import { runMaster } from "./master/main.js";
import { startApplianceMaster } from "./master/appliance.js";
import { agentMain, runAgentCollect, type AgentMainFlags } from "./agent/main.js";
import { DEFAULT_LLDP_WAIT_MS } from "./agent/collectors.js";
import { bootMacFromCmdline } from "./agent/agent-config.js";
import { listRecipes } from "./build/sources.js";
import { isReconError, ReconError } from "./lib/errors.js";
import { createLogger } from "./lib/log.js";
import { runLabCli } from "./lab/lab-cli.js";
import { runPowerCli } from "./master/power/power-cli.js";
import { normalizeRaw } from "./inventory/normalize.js";
import { readRawUpload } from "./inventory/read-upload.js";
import { runNodes } from "./review/cli-nodes.js";
import { createStatusWriter, mirrorConsoles } from "./agent/console.js";
import { classifyStartFailure, renderStartFailureBanner } from "./master/start-failure.js";

const VERSION = "0.1.0";

const USAGE = `usage: recon <command> [options]

commands:
  recipes [--json]                      list the recipes in descriptions/
  build describe <recipe> --out DIR     write the generated KIWI description (no kiwi run)
  build image <recipe> --profile P      build with kiwi-ng (P: DracutLive, Virtual, Disk)
  build http <recipe>                   place ISO, kernel, initrd and boot config for HTTP
  build shell <recipe> [-- CMD…]        a shell (or CMD, also from $CMD) in the built image's root (systemd-nspawn)
  build repack <recipe>                 squashfs and ISO again from that root, boot records kept
  master [--config FILE] [--data-dir DIR] [--http-root DIR] [--image-label L] [--tftp-root DIR]
                                        run the master: network, DHCP/proxyDHCP + TFTP (dnsmasq), HTTP
  images add <http-tree> [--label L] [--data-dir DIR]
                                        copy another recipe's http target onto the data partition
                                        (images/<label>/, sha256 checked); the master serves it at start
  boot [--cmdline FILE]                 detect and log this machine's role (run by recon.service)
  agent [--cmdline FILE] [--master URL] [--post poweroff|reboot|stay] [--upload-budget-s N]
        [--lldp-wait-s N] [--collector-timeout-s N] [--lldp-socket PATH]
                                        what a peer runs: hello, collect, upload (retried), then the
                                        post-action, only after the master acknowledged the upload
  agent collect --out FILE.tar.gz [--lldp-wait-s N] [--collector-timeout-s N] [--lldp-socket PATH]
                                        collect the raw inventory into a tar.gz (no network)
  role [--cmdline FILE] [--json]        print the role the kernel command line gives
  inventory normalize <DIR | FILE.tar.gz>
                                        print the normalized inventory (JSON) of a raw upload
  nodes list|show <mac>|classes [--json] | nodes export --format json|csv|netbox|ansible [--out DIR]
                                        review the fleet: from --data-dir (the store) or --master URL
                                        (admin token in RECON_TOKEN or --token)
  power status|on|off|cycle|reset|soft [<node-mac|bmc-address>] [--config FILE] [--json]
                                        drive the site config's BMCs with ipmitool (default config
                                        <data-dir>/site.yaml); status without a node lists every BMC
  lab up [--peers N] [--firmware KIND|mixed|KIND,KIND,...] [--master-firmware bios|uefi|uefi-sb] [--iso PATH] [--dir DIR] [--debug]
                                        a virtual data centre in a netns: the master VM boots the ISO
                                        as a USB stick, N PXE peers behind ipmi_sim BMCs (--debug:
                                        rd.debug on peers); runs until Ctrl-C, then removes it all
  lab status|down [--dir DIR] [--json]  show a lab's VMs and BMCs / remove everything it left
  version                               print recon's version

build and recipes also take --descriptions DIR (default descriptions); build --overlay DIR
  (default overlay), --build-dir DIR (default build; lab too), --http-dir DIR, --apt-mirror URL, --force
every command takes --debug (stack traces) and -h/--help; a flag the command does not take is an error`;

const FLAG_OPTIONS = {
  json: { type: "boolean", default: false },
  out: { type: "string" },
  profile: { type: "string" },
  cmdline: { type: "string", default: "/proc/cmdline" },
  descriptions: { type: "string", default: "descriptions" },
  overlay: { type: "string", default: "overlay" },
  "build-dir": { type: "string", default: "build" },
  runtime: { type: "string", default: "dist/recon.mjs" },
  "apt-mirror": { type: "string" },
  "http-dir": { type: "string" },
  force: { type: "boolean", default: false },
  debug: { type: "boolean", default: false },
  "data-dir": { type: "string", default: "/var/lib/recon" },
  config: { type: "string" },
  "run-dir": { type: "string", default: "/run/recon" },
  "http-root": { type: "string", default: "/run/recon/http" },
  "image-label": { type: "string", default: "recon" },
  "tftp-root": { type: "string", default: "/usr/lib/ipxe" },
  "probe-timeout-ms": { type: "string", default: "3000" },
  "reprobe-interval-ms": { type: "string", default: "60000" },
  "lldp-wait-s": { type: "string", default: String(DEFAULT_LLDP_WAIT_MS / 1000) },
  "collector-timeout-s": { type: "string", default: "120" },
  "lldp-socket": { type: "string" },
  master: { type: "string" },
  post: { type: "string" },
  "upload-budget-s": { type: "string", default: "1800" },
  token: { type: "string" },
  format: { type: "string" },
  site: { type: "string" },
  role: { type: "string" },
  dir: { type: "string" },
  peers: { type: "string" },
  firmware: { type: "string" },
  "master-firmware": { type: "string" },
  roots: { type: "string" },
  iso: { type: "string" },
  recipe: { type: "string", default: "debian-12" },
  label: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

const AGENT_FLAGS = ["master", "post", "upload-budget-s", "lldp-wait-s", "collector-timeout-s", "lldp-socket"] as const;

/** Every flag, and which command takes which: any other flag for a command is a usage error. */
const FLAGS: CommandFlagTable<typeof FLAG_OPTIONS> = {
  program: "recon",
  options: FLAG_OPTIONS,
  common: ["debug", "help"],
  commands: {
    version: [],
    recipes: ["json", "descriptions"],
    build: ["descriptions", "overlay", "build-dir", "runtime", "apt-mirror", "http-dir", "force", "out", "profile"],
    role: ["cmdline", "json"],
    // The master on the stick or, on a peer, the agent: both sets.
    boot: ["cmdline", "config", "data-dir", "run-dir", "http-root", "tftp-root", ...AGENT_FLAGS],
    agent: ["cmdline", ...AGENT_FLAGS],
    "agent collect": ["cmdline", "out", "lldp-wait-s", "collector-timeout-s", "lldp-socket"],
    master: ["cmdline", "config", "data-dir", "run-dir", "http-root", "image-label", "tftp-root", "probe-timeout-ms", "reprobe-interval-ms"],
    inventory: [],
    nodes: ["data-dir", "master", "token", "json", "format", "out", "site", "role"],
    power: ["config", "data-dir", "json"],
    images: ["data-dir", "label", "json"],
    lab: ["dir", "peers", "firmware", "master-firmware", "roots", "iso", "recipe", "build-dir", "json"],
    help: [],
  },
};

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandFlags(argv, FLAGS);
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === "help") {
    console.log(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  const log = createLogger({ component: command });
  switch (command) {
    case "version":
      console.log(VERSION);
      return 0;
    case "recipes": {
      const names = await listRecipes(values.descriptions);
      console.log(values.json ? JSON.stringify(names) : names.join("\n"));
      return 0;
    }
    case "role":
    case "boot": {
      const text = await readFile(values.cmdline, "utf8");
      const args = parseCmdline(text);
      const decision = detectRole(args);
      if (command === "role") {
        console.log(values.json ? JSON.stringify(decision) : decision.role);
        return 0;
      }
      // This line is what the image's unit prints on the console and what the boot test looks for.
      const bootLog = createLogger({ component: "recon" }, { write: (line) => console.log(line) });
      bootLog.info("role detected", {
        role: decision.role,
        reason: decision.reason,
        version: VERSION,
        bootif: cmdlineValue(args, "BOOTIF"),
      });
      if (decision.role === "master") {
        try {
          await startApplianceMaster(
            args,
            { dataDir: values["data-dir"], httpRoot: values["http-root"], runDir: values["run-dir"], tftpRoot: values["tftp-root"], configPath: values.config },
            {
              runner: execaRunner,
              log: bootLog,
              masterLog: createLogger({ component: "master" }, { write: (line) => console.log(line) }),
              stopSignal: () => stopOnSignals().signal,
            },
          );
        } catch (error) {
          // One banner on the serial line and the screen; exit 3 stops recon.service's restarts.
          const failure = classifyStartFailure(error);
          const status = createStatusWriter((line) => console.error(line), mirrorConsoles(args));
          for (const line of renderStartFailureBanner(failure)) status(line);
          bootLog.error("master cannot start", { error: failure.message, exitCode: failure.exitCode, retried: failure.retried });
          return failure.exitCode;
        }
      }
      if (decision.role === "peer") {
        // A peer runs the agent; a failed upload exits non-zero and recon.service tries again.
        await agentMain(args, agentFlags(values), {
          runner: execaRunner,
          insideImage: await insideReconImage(),
          writeStdout: (line) => console.log(line),
          signal: stopOnSignals().signal,
        });
      }
      return 0;
    }
    case "agent": {
      const cmdlineArgs = parseCmdline(await readFile(values.cmdline, "utf8").catch(() => ""));
      const flags = agentFlags(values);
      const controller = stopOnSignals();
      if (rest[0] === "collect") {
        if (values.out === undefined) throw new ReconError("USAGE", "agent collect needs --out FILE.tar.gz", { hint: USAGE, exitCode: 2 });
        const io = { runner: execaRunner, status: (line: string) => console.log(`recon-agent: ${line}`) };
        const built = await runAgentCollect({ ...flags, outPath: values.out, bootMac: bootMacFromCmdline(cmdlineArgs) ?? null, signal: controller.signal }, io);
        console.log(built.path);
        return 0;
      }
      if (rest[0] !== undefined)
        throw new ReconError("USAGE", `unknown agent action '${rest[0]}'`, {
          hint: "recon agent [options] | recon agent collect --out FILE.tar.gz",
          exitCode: 2,
        });
      await agentMain(cmdlineArgs, flags, {
        runner: execaRunner,
        insideImage: await insideReconImage(),
        writeStdout: (line) => console.log(line),
        signal: controller.signal,
      });
      return 0;
    }
    case "inventory": {
      if (rest[0] !== "normalize" || rest[1] === undefined) {
        throw new ReconError("USAGE", "inventory needs 'normalize <dir | tar.gz>'", { hint: "recon inventory normalize <DIR | FILE.tar.gz>", exitCode: 2 });
      }
      const inventory = normalizeRaw(await readRawUpload(rest[1]));
      console.log(JSON.stringify(inventory, null, 2));
      return 0;
    }
    case "nodes":
      return await runNodes(
        rest,
        {
          dataDir: values["data-dir"],
          master: values.master,
          token: values.token ?? process.env.RECON_TOKEN,
          json: values.json,
          format: values.format,
          out: values.out,
          site: values.site,
          role: values.role,
        },
        { write: (text) => process.stdout.write(text), now: () => new Date() },
      );
    case "power":
      return await runPowerCli(
        rest,
        { configPath: values.config ?? join(values["data-dir"], "site.yaml"), json: values.json },
        { runner: execaRunner, write: (line) => console.log(line) },
      );
    case "images": {
      if (rest[0] !== "add" || rest[1] === undefined || rest.length > 2) {
        throw new ReconError("USAGE", "images needs 'add <http-tree>'", { hint: "recon images add <http-tree> [--label L] [--data-dir DIR]", exitCode: 2 });
      }
      const added = await addImage(rest[1], { dataDir: values["data-dir"], label: values.label });
      log.info("image added; the master serves it from its next start", { image: added.label, dir: added.dir, files: added.files.length });
      console.log(values.json ? JSON.stringify(added, null, 2) : added.files.map((file) => `${file.sha256}  ${file.path}`).join("\n"));
      return 0;
    }
    case "lab":
      return await runLabCli(
        rest,
        {
          dir: values.dir,
          peers: values.peers,
          firmware: values.firmware,
          masterFirmware: values["master-firmware"],
          roots: values.roots,
          iso: values.iso,
          recipe: values.recipe,
          buildDir: values["build-dir"],
          debug: values.debug,
          json: values.json,
        },
        { runner: execaRunner, log, write: (line) => console.log(line), signal: stopOnSignals().signal },
      );
    case "build":
      return await runBuild(rest, values, log);
    case "master": {
      const controller = stopOnSignals();
      const cmdlineArgs = parseCmdline(await readFile(values.cmdline, "utf8").catch(() => ""));
      await runMaster(
        {
          configPath: values.config ?? join(values["data-dir"], "site.yaml"),
          dataDir: values["data-dir"],
          runDir: values["run-dir"],
          httpRoot: values["http-root"],
          imageLabel: values["image-label"],
          tftpRoot: values["tftp-root"],
          cmdline: cmdlineArgs,
          probeTimeoutMs: Number(values["probe-timeout-ms"]),
          reprobeIntervalMs: Number(values["reprobe-interval-ms"]),
          // /etc/recon/build.json exists only inside the image (planDescription writes it).
          requireExplicitInterface: !(await readFile("/etc/recon/build.json").then(
            () => true,
            () => false,
          )),
        },
        { runner: execaRunner, log: createLogger({ component: "master" }), signal: controller.signal },
      );
      return 0;
    }
    default:
      throw new ReconError("USAGE", `unknown command '${command}'`, { hint: USAGE });
  }
}

type Values = {
  out?: string | undefined;
  profile?: string | undefined;
  descriptions: string;
  overlay: string;
  "build-dir": string;
  runtime: string;
  "apt-mirror"?: string | undefined;
  "http-dir"?: string | undefined;
  force: boolean;
  json: boolean;
};

async function runBuild(rest: string[], values: Values, log: ReturnType<typeof createLogger>): Promise<number> {
  const [action, recipeName] = rest;
  if (!action || !recipeName) {
    throw new ReconError("USAGE", "build needs an action and a recipe", { hint: USAGE });
  }
  // Every action names a recipe from descriptions/; checking it first also keeps `clean` from
  // ever removing a path outside the build dir.
  const known = await listRecipes(values.descriptions);
  if (!known.includes(recipeName)) {
    throw new ReconError("RECIPE_NOT_FOUND", `unknown recipe '${recipeName}'`, {
      hint: `recipes: ${known.join(", ")}`,
      exitCode: 2,
    });
  }
  const options = {
    recipeName,
    descriptionsDir: values.descriptions,
    overlayDir: values.overlay,
    runtimeFile: values.runtime,
    reconVersion: VERSION,
    aptMirrors: {
      main: values["apt-mirror"] ?? process.env.RECON_APT_MIRROR,
      security: process.env.RECON_APT_SECURITY_MIRROR,
      zypper: process.env.RECON_ZYPPER_MIRROR || undefined,
    },
  };
  switch (action) {
    case "describe": {
      const out = values.out ?? `${values["build-dir"]}/${recipeName}/description`;
      const planned = await describe(options, out);
      log.info("description written", { recipe: recipeName, dir: out, files: planned.files.length, sha256: planned.hash });
      return 0;
    }
    case "image": {
      const profile = (values.profile ?? "DracutLive") as Profile;
      if (!PROFILES.includes(profile)) {
        throw new ReconError("PROFILE_UNKNOWN", `unknown profile '${profile}'`, {
          hint: `profiles: ${PROFILES.join(", ")}`,
          exitCode: 2,
        });
      }
      const recipeBuildDir = join(values["build-dir"], recipeName);
      const descriptionDir = join(recipeBuildDir, "description");
      // One build per recipe directory at a time: a second one would rewrite the description
      // and kiwi's target under the first. It waits (bounded, logged), then usually finds the
      // image the first one built.
      await mkdir(recipeBuildDir, { recursive: true });
      const lock = await acquireLock(join(recipeBuildDir, ".build.lock"), { log, what: `the ${recipeName} build directory` });
      try {
        const planned = await describe(options, descriptionDir);
        log.info("description written", { recipe: recipeName, dir: descriptionDir, sha256: planned.hash });
        const result = await buildImage(
          {
            recipe: recipeName,
            profile,
            descriptionDir,
            descriptionHash: planned.hash,
            recipeBuildDir,
            sharedCacheDir: process.env.KIWI_SHARED_CACHE_DIR ?? "/var/cache/kiwi",
            imageCacheDir: process.env.RECON_IMAGE_CACHE || undefined,
            force: values.force || process.env.FORCE === "1",
            repositories: { recipe: planned.recipe, resolved: planned.repositories },
          },
          { runner: execaRunner, log },
        );
        console.log(result.image);
        return 0;
      } finally {
        await lock.release();
      }
    }
    case "http": {
      const recipeBuildDir = join(values["build-dir"], recipeName);
      const stamp = await builtLiveStamp(recipeBuildDir, recipeName);
      const planned = await planFromDisk(options);
      if (planned.hash !== stamp.descriptionHash) {
        log.warn("the ISO was built from an older description; run the target 'target' to rebuild", {
          iso: stamp.image,
        });
      }
      const httpDir = values["http-dir"] ?? join(recipeBuildDir, "http");
      const plan = planHttpTree(planned.recipe);
      if (stamp.changedByHand)
        log.warn("the ISO was changed by hand (shell, repack) and no longer follows the recipe", {
          iso: stamp.image,
          repacked_at: stamp.changedByHand.repackedAt,
        });
      const { files } = await applyHttpTree(plan, stamp.image, httpDir, execaRunner, stamp.changedByHand);
      log.info("http tree ready", { dir: httpDir, iso: files[0], kernel: files[1], initrd: files[2], config: files[3] });
      console.log(httpDir);
      return 0;
    }
    case "shell": {
      const recipeBuildDir = join(values["build-dir"], recipeName);
      const stamp = await builtLiveStamp(recipeBuildDir, recipeName);
      const paths = imageRootPaths(recipeBuildDir);
      const lock = await acquireLock(join(recipeBuildDir, ".build.lock"), { log, what: `the ${recipeName} build directory` });
      try {
        let record = await ensureImageRoot({ recipe: recipeName, iso: stamp.image, descriptionHash: stamp.descriptionHash }, paths, {
          runner: execaRunner,
          log,
        });
        const given = rest.slice(2).join(" ") || process.env.CMD || undefined;
        log.info(given ? "running a command in the image root" : "interactive shell in the image root; exit to leave", { root: paths.root, command: given });
        const exitCode = await runNspawn({ root: paths.root, command: given, pipe: !process.stdin.isTTY, setenv: { TERM: process.env.TERM ?? "dumb" } });
        record = await recordHandChange(paths, record, { at: new Date().toISOString(), command: given ?? "(interactive shell)", exitCode });
        log.info("hand change recorded", {
          root: paths.root,
          changes: record.changes.length,
          exit_code: exitCode,
          next: `./make-recipe-target ${recipeName} repack`,
        });
        return exitCode === 0 ? 0 : 1;
      } finally {
        await lock.release();
      }
    }
    case "repack": {
      const recipeBuildDir = join(values["build-dir"], recipeName);
      const lock = await acquireLock(join(recipeBuildDir, ".build.lock"), { log, what: `the ${recipeName} build directory` });
      try {
        const result = await repackImage({ recipe: recipeName, recipeBuildDir }, { runner: execaRunner, log });
        console.log(result.image);
        return 0;
      } finally {
        await lock.release();
      }
    }
    case "clean": {
      // Never the shared package cache (/var/cache/kiwi): only this recipe's build dir.
      const recipeBuildDir = join(values["build-dir"], recipeName);
      await rm(recipeBuildDir, { recursive: true, force: true });
      log.info("build artefacts removed", { recipe: recipeName, dir: recipeBuildDir });
      return 0;
    }
    default:
      throw new ReconError("USAGE", `unknown build action '${action}'`, { hint: "actions: describe, image, http, shell, repack, clean" });
  }
}

/** The stamp of the recipe's built live ISO, or an error that says to build it. */
async function builtLiveStamp(recipeBuildDir: string, recipeName: string) {
  const stamp = await readStamp(recipeBuildDir, "DracutLive");
  if (!stamp) {
    throw new ReconError("ARTEFACT_MISSING", `no live ISO has been built for ${recipeName}`, {
      hint: `run ./make-recipe-target ${recipeName} target first`,
    });
  }
  return stamp;
}

/** /etc/recon/build.json exists only inside the image (planDescription writes it). */
async function insideReconImage(): Promise<boolean> {
  return readFile("/etc/recon/build.json").then(
    () => true,
    () => false,
  );
}

function agentFlags(values: Record<string, string | boolean | undefined>): AgentMainFlags {
  const seconds = (name: "lldp-wait-s" | "collector-timeout-s" | "upload-budget-s") => {
    const value = Number(values[name]);
    if (!Number.isFinite(value) || value < 0)
      throw new ReconError("USAGE", `--${name} must be a number of seconds, not '${String(values[name])}'`, { exitCode: 2 });
    return Math.round(value * 1000);
  };
  const text = (name: string) => (typeof values[name] === "string" ? values[name] : undefined);
  return {
    agentVersion: VERSION,
    masterUrl: text("master"),
    postAction: text("post"),
    lldpWaitMs: seconds("lldp-wait-s"),
    collectorTimeoutMs: seconds("collector-timeout-s"),
    lldpSocket: text("lldp-socket"),
    uploadBudgetMs: seconds("upload-budget-s"),
  };
}

/** SIGTERM/SIGINT abort the returned controller's signal (systemd stop, Ctrl-C). */
function stopOnSignals(): AbortController {
  const controller = new AbortController();
  const stop = () => controller.abort();
  // `on`, not `once`: execa's exit cleanup (signal-exit) re-raises a signal when it finds no
  // other listener left, which killed the master before it could stop dnsmasq cleanly.
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  return controller;
}

function readDebugFlag(argv: string[]): boolean {
  return argv.includes("--debug");
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (isReconError(error)) {
      process.stderr.write(`recon: error: ${error.message}\n`);
      if (error.hint) process.stderr.write(`recon: hint: ${error.hint}\n`);
      if (readDebugFlag(process.argv) && error.stack) process.stderr.write(`${error.stack}\n`);
      process.exitCode = error.exitCode;
      return;
    }
    if (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`recon: error: ${error.message}\n${USAGE}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`recon: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    if (readDebugFlag(process.argv) && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    process.exitCode = 1;
  },
);
