/**
 * nbd-server (Debian's nbd-server 3.24) for the `nbd` and `nbd-rw` root transports
 * (docs/site-config.md, "Root transports"): its config file and argv, both pure. The master
 * exports each image's ISO read-only under its label; a node's writable copy (`nbd-rw`) is its own
 * export that one client holds at a time. No `copyonwrite`: a read-only peer keeps its writes in
 * RAM (dmsquash-live's overlay).
 *
 * Two nbd-server 3.24 behaviours shape the config (nbd-server.c, checked against the source):
 * - `maxconnections` counts connections over the daemon's lifetime, not at once: the parent's
 *   `handle_childname` increments `numclients` for every client that asks for the export and
 *   nothing ever decrements it (the SIGCHLD reaper only forgets the child). `maxconnections = 1`
 *   therefore refused a writable copy for good once its first holder (or a probe) had left. The
 *   holder is a lock directory instead: `prerun` (run in the per-client child after the export was
 *   accepted; a non-zero exit refuses the client with NBD_REP_ERR_POLICY) makes it with `mkdir`,
 *   which fails while another client holds it; `postrun` (at the client's NBD_CMD_DISC or dropped
 *   connection) removes it. A child killed outright runs no postrun: nbd-server.ts clears a lock
 *   no nbd-server process backs. A refused client appends a line to `<lock>.refused`, which
 *   nbd-server.ts turns into a log line (nbd-server itself logs only to syslog).
 * - The transaction log is opened for every client without O_TRUNC or O_APPEND, so each client
 *   rewrote the previous one's records from byte 0, leaving their tail behind. As nbd-server(5)
 *   advises, `prerun` renames the just-opened log to a file of its own (`<log>.XXXXXX`); the
 *   export's figures are the sum over those files (nbd-server.ts). Two clients opening the log
 *   within the few milliseconds before the first one's rename still share one file.
 * `prerun`/`postrun` are run by nbd-server through system(3) after a printf with the export's path
 * for `%s`: the commands hold no `%` and only paths checked to be plain (PLAIN_PATH).
 *
 * nbd-server always daemonizes: its `-d` (no fork) serves one client and ignores maxconnections
 * (nbd-server.c, `dontfork`), so recon runs it with a pid file and watches the PID (supervisor.ts).
 */
import { nbdExportName } from "../../boot/root-transport.js";
import { ReconError } from "../../lib/errors.js";

/** IANA's NBD port; dracut's `netroot=nbd:<server>:<exportname>` implies it. */
export const NBD_PORT = 10809;

export interface NbdExport {
  /** The name a client asks for (the image label, or the writable copy's label). */
  name: string;
  /** The file exported: an ISO (read-only) or an ext4 root tree image (the writable copy). */
  path: string;
  readonly: boolean;
  /** A writable copy's lock directory: it exists while one client holds the export. Unset = any number of clients. */
  holderLock?: string;
  /** nbd-server's binary transaction log (requests and replies, no data): what the bytes-sent figure is read from; each client's is renamed to `<log>.XXXXXX`. */
  transactionLog: string;
}

export interface NbdServerPlan {
  /** The master's address on the boot network: nbd-server listens only there. */
  listenAddress: string;
  port: number;
  exports: NbdExport[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** A path that goes into a shell command unquoted and through printf: no space, quote, `$`, `%` or glob. */
const PLAIN_PATH = /^\/[A-Za-z0-9._/+-]+$/;

/** The files each client's transaction log is renamed to (the `prerun` below): `<log>.XXXXXX`. */
export function isClientLog(logName: string, fileName: string): boolean {
  return fileName.startsWith(`${logName}.`) && /^[A-Za-z0-9]{6}$/.test(fileName.slice(logName.length + 1));
}

/** Where a writable copy's prerun notes each client it refused (one line each): `<lock>.refused`. */
export function refusedLogOf(holderLock: string): string {
  return `${holderLock}.refused`;
}

/** prerun: take the holder lock (a writable copy; a refusal is noted), then give this client's log a file of its own. */
function prerunCommand(entry: NbdExport): string {
  const rename = `mv -f ${entry.transactionLog} "$(mktemp ${entry.transactionLog}.XXXXXX)" 2>/dev/null; exit 0`;
  if (entry.holderLock === undefined) return rename;
  return `mkdir ${entry.holderLock} 2>/dev/null || { echo held >> ${refusedLogOf(entry.holderLock)}; exit 1; }; ${rename}`;
}

/** The exports for a set of images, each its ISO read-only, plus the writable copies given. */
export function planNbdExports(options: {
  listenAddress: string;
  port?: number;
  runDir: string;
  images: readonly { label: string; isoPath: string }[];
  writableCopies?: readonly { label: string; path: string }[];
}): NbdServerPlan {
  const exports: NbdExport[] = [
    ...options.images.map((image) => ({
      name: nbdExportName(image.label),
      path: image.isoPath,
      readonly: true,
      transactionLog: `${options.runDir}/nbd/${image.label}.trlog`,
    })),
    ...(options.writableCopies ?? []).map((copy) => ({
      name: copy.label,
      path: copy.path,
      readonly: false,
      holderLock: `${options.runDir}/nbd/${copy.label}.holder`,
      transactionLog: `${options.runDir}/nbd/${copy.label}.trlog`,
    })),
  ];
  return { listenAddress: options.listenAddress, port: options.port ?? NBD_PORT, exports };
}

/** nbd-server's config file (nbd-server(5)): one [generic] section, one section per export. */
export function renderNbdServerConfig(plan: NbdServerPlan): string {
  const seen = new Set<string>();
  const lines = [
    "# Written by recon (src/master/nbd/nbd-config.ts); rewritten at each start.",
    "[generic]",
    `    listenaddr = ${plan.listenAddress}`,
    `    port = ${plan.port}`,
    // `nbd-client -l` would list every image to anyone on the boot network: not needed.
    "    allowlist = false",
  ];
  for (const entry of plan.exports) {
    // A section name is the export name a client asks for; "generic" is nbd-server's own section.
    if (!NAME.test(entry.name) || entry.name === "generic") {
      throw new ReconError("CONFIG_INVALID", `'${entry.name}' cannot be an NBD export name`, { hint: "image labels are letters, digits, '.', '_' and '-'" });
    }
    if (seen.has(entry.name)) throw new ReconError("CONFIG_INVALID", `two NBD exports named ${entry.name}`, { hint: "each image label is exported once" });
    if (!entry.path.startsWith("/") || /[\s#]/.test(entry.path)) {
      throw new ReconError("CONFIG_INVALID", `NBD export ${entry.name}: '${entry.path}' is not an absolute path without spaces`, {
        hint: "a recon bug: export paths come from the image store",
      });
    }
    for (const path of [entry.transactionLog, ...(entry.holderLock === undefined ? [] : [entry.holderLock])]) {
      if (!PLAIN_PATH.test(path)) {
        throw new ReconError("CONFIG_INVALID", `NBD export ${entry.name}: '${path}' is not a plain absolute path`, {
          hint: "the run directory's path may hold only letters, digits and . _ / + - (it goes into nbd-server's prerun command)",
        });
      }
    }
    seen.add(entry.name);
    lines.push(
      "",
      `[${entry.name}]`,
      `    exportname = ${entry.path}`,
      `    readonly = ${entry.readonly ? "true" : "false"}`,
      `    transactionlog = ${entry.transactionLog}`,
      `    prerun = ${prerunCommand(entry)}`,
      ...(entry.holderLock === undefined ? [] : [`    postrun = rmdir ${entry.holderLock}`]),
    );
  }
  return `${lines.join("\n")}\n`;
}

/** nbd-server's argv: everything in the config file; the pid file is how recon finds the daemon. */
export function nbdServerArgs(configFile: string, pidFile: string): string[] {
  return ["-C", configFile, "-p", pidFile];
}
