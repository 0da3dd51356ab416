/**
 * nbd-server (Debian's nbd-server 3.24) for the `nbd` and `nbd-rw` root transports
 * (docs/site-config.md, "Root transports"): its config file and argv, both pure. The master
 * exports each image's ISO read-only under its label; a node's writable copy (`nbd-rw`) is its own
 * export with `maxconnections = 1`, so a second client is refused while one holds it. No
 * `copyonwrite`: a read-only peer keeps its writes in RAM (dmsquash-live's overlay).
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
  /** 1 for a writable copy: one holder at a time. Unset = no limit. */
  maxConnections?: number;
  /** nbd-server's binary transaction log (requests and replies, no data): what the bytes-sent figure is read from. */
  transactionLog: string;
}

export interface NbdServerPlan {
  /** The master's address on the boot network: nbd-server listens only there. */
  listenAddress: string;
  port: number;
  exports: NbdExport[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

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
      maxConnections: 1,
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
    seen.add(entry.name);
    lines.push(
      "",
      `[${entry.name}]`,
      `    exportname = ${entry.path}`,
      `    readonly = ${entry.readonly ? "true" : "false"}`,
      ...(entry.maxConnections === undefined ? [] : [`    maxconnections = ${entry.maxConnections}`]),
      `    transactionlog = ${entry.transactionLog}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** nbd-server's argv: everything in the config file; the pid file is how recon finds the daemon. */
export function nbdServerArgs(configFile: string, pidFile: string): string[] {
  return ["-C", configFile, "-p", pidFile];
}
