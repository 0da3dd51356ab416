/**
 * The site config: one YAML file that says how the master joins the provisioning network and
 * what each node boots. Pure: text in, a validated object out (reading the file is the
 * caller's job). Every error names the key path and how to fix it; a BMC password is wrapped
 * in `Secret` so it cannot reach a log line or an error message by accident.
 * Reference: docs/site-config.md.
 */
import { parseDocument } from "yaml";
import { z } from "zod";
import { ReconError } from "../lib/errors.js";
import { cmdlineValue } from "./kernel-cmdline.js";
import { defaultPoolOffsets, ipv4InCidr, normalizeMac, parseIpv4, parseIpv4Cidr, prefixFor } from "./net-address.js";
import { POST_ACTIONS } from "./peer-contract.js";
import { ROOT_TRANSPORTS } from "./root-transport.js";

/** A value that prints as `[redacted]` everywhere: String(), JSON, util.inspect, template strings. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return "[redacted]";
  }
  toJSON(): string {
    return "[redacted]";
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return "[redacted]";
  }
}

export const DHCP_MODES = ["auto", "authoritative", "proxy", "off"] as const;
export type DhcpMode = (typeof DHCP_MODES)[number];
export const NODE_ACTIONS = ["inventory", "ignore"] as const;
/**
 * What a UEFI x86-64 machine is handed first over TFTP. `shimx64.efi` (the default) is Microsoft-signed
 * shim, which loads Debian's signed network GRUB: it boots with Secure Boot on or off. The iPXE binaries
 * stay selectable (they drive NICs GRUB cannot), but Secure Boot firmware refuses them (unsigned).
 */
export const UEFI_FIRMWARE_FILES = ["shimx64.efi", "ipxe.efi", "snponly.efi"] as const;
export type UefiFirmwareFile = (typeof UEFI_FIRMWARE_FILES)[number];

const macSchema = z.string().transform((text, ctx) => {
  const mac = normalizeMac(text);
  if (mac === undefined) {
    ctx.addIssue({ code: "custom", message: `'${text}' is not a MAC address; write it as 52:54:00:12:34:56` });
    return z.NEVER;
  }
  return mac;
});

const ipv4Schema = z.string().refine((text) => parseIpv4(text) !== undefined, {
  message: "not an IPv4 address; write it as 10.20.0.1",
});

/** A word on the kernel command line: no spaces (they split args), no quotes or control chars. */
const kernelArgSchema = z.string().regex(/^[^\s"'\\\x00-\x1f\x7f]+$/, "a kernel argument is one word without spaces, quotes or backslashes");

const hostnameSchema = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i, "a hostname is one DNS label: letters, digits and '-', at most 63 characters, no dots");

const bmcSchema = z
  .object({
    /** Usually per host; defaults or groups give the shared username and passwordFile. */
    address: z.string().min(1).optional(),
    username: z.string().min(1).optional(),
    /** A file holding the password; preferred, because the file never enters the config dump. */
    passwordFile: z.string().startsWith("/", "passwordFile must be an absolute path").optional(),
    /** Accepted for small labs; wrapped in Secret at once so it is never printed. */
    password: z
      .union([z.string(), z.instanceof(Secret)])
      .transform((value) => (value instanceof Secret ? value : new Secret(value)))
      .optional(),
  })
  .strict();

/**
 * A BMC the master powers on at start ("wake the fleet") and controls through the API and
 * `recon power`. `username`, `password`/`passwordFile` default to `defaults.bmc`. `mac` ties it
 * to the node that PXE-boots (its boot NIC), so node events and the API can name it by MAC.
 */
const fleetBmcSchema = bmcSchema.extend({
  address: z.string().regex(/^[A-Za-z0-9.:_-]{1,253}$/, "a BMC address is a host name or IP address"),
  port: z.number().int().min(1).max(65535).optional(),
  name: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,63}$/, "a name is letters, digits, '.', '_' or '-'")
    .optional(),
  mac: macSchema.optional(),
});
export type FleetBmcSettings = z.infer<typeof fleetBmcSchema>;

const powerSchema = z
  .object({
    /** At start, `chassis bootdev pxe` (where supported) then `power on` for every BMC in `bmcs`. */
    wake: z.boolean().default(true),
    bootdevPxe: z.boolean().default(true),
    /** After a node's upload is stored: confirm it is off this long after, else power it off. 0 = never. */
    confirmOffAfterS: z.number().int().min(0).max(86400).default(120),
    /**
     * Paced wake (issue #14): power on this many nodes, then wait `wakePauseS` before the next
     * batch, so a large fleet does not hit the master's link and DHCP in one burst. 0 = all at once.
     */
    wakeBatch: z.number().int().min(0).max(16384).default(0),
    wakePauseS: z.number().int().min(0).max(3600).default(60),
  })
  .strict()
  .default({});

/**
 * How many nodes this master is expected to boot: sizes the DHCP pool and the auto-chosen network,
 * dnsmasq's lease and TFTP limits, the neighbour table and nginx's connections (src/master/scale.ts).
 */
const fleetSchema = z
  .object({
    /** Absent: the limits are sized from the DHCP pool (or 150 nodes when recon chooses the network). */
    expectedNodes: z.number().int().min(1, "at least 1 node").max(16000, "at most 16000 nodes (a /18 network)").optional(),
  })
  .strict()
  .default({});

/**
 * How nodes get the image (issue #14 item 5, docs/peer-assist.md). `peerAssist` off (the default):
 * every node fetches the ISO over HTTP from the master. On: the master also makes each served
 * image's torrent (its own HTTP URL as web seed) and runs a tracker on the boot address, so
 * booting peers can share pieces; seeding is bounded by `seedTimeS` and `seedRatio`.
 */
const distributionSchema = z
  .object({
    peerAssist: z.boolean().default(false),
    /** The tracker's TCP port on the master's boot address. */
    trackerPort: z.number().int().min(1).max(65535).default(6969),
    /** A booted peer seeds at most this long after it has the whole image (then does its post-action). */
    seedTimeS: z.number().int().min(0).max(3600, "at most 3600 s: seeding must not delay power-off for long").default(120),
    /** …or until it uploaded this many times the image, whichever comes first. */
    seedRatio: z.number().min(0).max(100).default(4),
  })
  .strict()
  .default({});
export type DistributionConfig = z.infer<typeof distributionSchema>;

/**
 * Burn-in (docs/workload.md, "Burn-in"): off unless switched on; one decision for every peer this
 * master boots (planBoot puts recon.burnin= on each peer's command line). Seconds per test.
 */
const burnInSchema = z
  .object({
    enabled: z.boolean().default(false),
    cpuS: z.number().int().min(1, "at least 1 second").max(86400, "at most 86400 s (a day)").default(60),
    memoryS: z.number().int().min(1, "at least 1 second").max(86400, "at most 86400 s (a day)").default(60),
    memoryPercent: z.number().int().min(1, "at least 1 (%)").max(90, "at most 90 (%): the live system runs in RAM too").default(50),
    memtesterMiB: z.number().int().min(1, "at least 1 MiB").max(1048576, "at most 1048576 MiB").default(256),
    memtesterS: z.number().int().min(1, "at least 1 second").max(86400, "at most 86400 s (a day)").default(600),
    diskReadS: z.number().int().min(1, "at least 1 second").max(86400, "at most 86400 s (a day)").default(60),
  })
  .strict()
  .default({});
export type BurnInConfig = z.infer<typeof burnInSchema>;

/** An image's label: the recipe name its http tree was built from (isos/<label>.iso, install/<label>/). */
export const IMAGE_LABEL = /^[a-z0-9][a-z0-9.-]{0,63}$/;

/** Settings that layer: defaults → network → group → host → IP, the most specific last. */
const nodeSettingsShape = {
  /** Which of the images the master serves this node boots (its label); unset = the master's own image. */
  image: z.string().regex(IMAGE_LABEL, "an image label is the recipe name: lower-case letters, digits, dots and dashes").optional(),
  /** How the peer's root file system reaches it (src/model/root-transport.ts); unset = http. */
  root: z.enum(ROOT_TRANSPORTS).optional(),
  action: z.enum(NODE_ACTIONS).optional(),
  postAction: z.enum(POST_ACTIONS).optional(),
  /** Appended in layer order, so a host's args come last and win where the kernel keeps the last value. */
  kernelArgs: z.array(kernelArgSchema).optional(),
  /** Replaces the console list of less specific layers (the last console= is /dev/console). */
  consoles: z.array(kernelArgSchema).optional(),
  firmwareFile: z.enum(UEFI_FIRMWARE_FILES).optional(),
  hostname: hostnameSchema.optional(),
  /** Boot a node again even though its inventory is already stored. */
  reinventory: z.boolean().optional(),
  bmc: bmcSchema.optional(),
};
const nodeSettingsSchema = z.object(nodeSettingsShape).strict();
export type NodeSettings = z.infer<typeof nodeSettingsSchema>;

const groupSchema = z
  .object({
    ...nodeSettingsShape,
    macs: z.array(macSchema).optional(),
    /** Globs matched against the node's hostname: `*` any run, `?` one character, `[ab]` a set. */
    hostnames: z.array(z.string().min(1)).optional(),
  })
  .strict()
  .refine((group) => (group.macs?.length ?? 0) + (group.hostnames?.length ?? 0) > 0, {
    message: "a group needs `macs` or `hostnames` to say which nodes belong to it",
  });
export type GroupSettings = z.infer<typeof groupSchema>;

const siteConfigSchema = z
  .object({
    /** Provisioning interface; absent = the master picks the interface with a carrier. */
    interface: z
      .string()
      .regex(/^[A-Za-z0-9._@-]{1,15}$/, "not a Linux interface name")
      .optional(),
    /** The master's address on that interface in CIDR form; absent = what the interface has. */
    address: z
      .string()
      .refine((text) => parseIpv4Cidr(text) !== undefined, "write the address with its prefix, e.g. 10.20.0.1/24")
      .optional(),
    /** An IPv6 /64 prefix to announce with router advertisements (see docs/lab-facts.md: iPXE waits ~12 s without). */
    ipv6Prefix: z
      .string()
      .regex(/^[0-9a-f:]+::$/i, "write the /64 prefix ending in '::', e.g. fd00:20::")
      .optional(),
    dhcp: z
      .object({
        mode: z.enum(DHCP_MODES).default("auto"),
        pool: z.object({ start: ipv4Schema, end: ipv4Schema }).strict().optional(),
        leaseTime: z
          .string()
          .regex(/^\d+[smhd]?$|^infinite$/, "a lease time is like 1h, 30m or 3600")
          .default("1h"),
      })
      .strict()
      .default({}),
    dns: z
      .object({
        enabled: z.boolean().default(false),
        domain: z
          .string()
          .regex(/^[a-z0-9-]+(\.[a-z0-9-]+)*$/i, "a domain is dot-separated labels, e.g. recon.lan")
          .default("recon.lan"),
      })
      .strict()
      .default({}),
    http: z
      .object({
        port: z.number().int().min(1).max(65535).default(80),
        /**
         * Who sends the big static files: nginx (sendfile; express behind it on loopback), node
         * (express alone), or auto (nginx when it is installed and can read the files).
         */
        server: z.enum(["auto", "nginx", "node"]).default("auto"),
      })
      .strict()
      .default({}),
    defaults: nodeSettingsSchema.default({}),
    /** Keyed by subnet in CIDR form; a node matches by the address it leased. */
    networks: z.record(z.string(), nodeSettingsSchema).default({}),
    /** Applied in file order; a node may be in several groups. */
    groups: z.record(z.string().regex(/^[A-Za-z0-9._-]+$/, "a group name is letters, digits, '.', '_' or '-'"), groupSchema).default({}),
    /** Keyed by MAC address. */
    hosts: z.record(z.string(), nodeSettingsSchema).default({}),
    /** Keyed by exact IPv4 address (the one the node leased); applied after the host (MAC) layer. */
    ips: z.record(z.string(), nodeSettingsSchema).default({}),
    /** BMCs of the fleet (IPMI over LAN): see fleetBmcSchema. */
    bmcs: z.array(fleetBmcSchema).default([]),
    power: powerSchema,
    burnIn: burnInSchema,
    fleet: fleetSchema,
    distribution: distributionSchema,
  })
  .strict()
  .superRefine((config, ctx) => {
    const address = config.address === undefined ? undefined : parseIpv4Cidr(config.address);
    for (const key of Object.keys(config.networks)) {
      const cidr = parseIpv4Cidr(key);
      if (cidr === undefined) {
        ctx.addIssue({ code: "custom", path: ["networks", key], message: "the key must be a subnet like 10.20.0.0/24" });
      } else if (cidr.network !== cidr.address) {
        ctx.addIssue({
          code: "custom",
          path: ["networks", key],
          message: `host bits are set; the subnet is ${cidr.network}/${cidr.prefix}`,
        });
      }
    }
    const seen = new Map<string, string>();
    for (const key of Object.keys(config.hosts)) {
      const mac = normalizeMac(key);
      if (mac === undefined) {
        ctx.addIssue({ code: "custom", path: ["hosts", key], message: "the key must be a MAC address like 52:54:00:12:34:56" });
      } else if (seen.has(mac)) {
        ctx.addIssue({ code: "custom", path: ["hosts", key], message: `the same MAC as hosts.${seen.get(mac)}; merge the two` });
      } else seen.set(mac, key);
    }
    // parseIpv4 takes only the canonical dotted form (no leading zeros), so two keys never name one address.
    for (const key of Object.keys(config.ips)) {
      if (parseIpv4(key) === undefined) {
        ctx.addIssue({ code: "custom", path: ["ips", key], message: "the key must be one IPv4 address like 10.20.0.57 (a subnet goes under networks)" });
      }
    }
    const bmcAddresses = new Map<string, number>();
    config.bmcs.forEach((bmc, index) => {
      const where = `${bmc.address}:${bmc.port ?? 623}`;
      if (bmcAddresses.has(where)) {
        ctx.addIssue({ code: "custom", path: ["bmcs", index, "address"], message: `the same BMC as bmcs.${bmcAddresses.get(where)}; list it once` });
      } else bmcAddresses.set(where, index);
      if (!(bmc.username ?? config.defaults.bmc?.username)) {
        ctx.addIssue({ code: "custom", path: ["bmcs", index, "username"], message: "missing; add username: (or defaults.bmc.username)" });
      }
      const password = bmc.password ?? (bmc.passwordFile ? undefined : config.defaults.bmc?.password);
      const passwordFile = bmc.passwordFile ?? (bmc.password ? undefined : config.defaults.bmc?.passwordFile);
      if (password !== undefined && passwordFile !== undefined) {
        ctx.addIssue({ code: "custom", path: ["bmcs", index], message: "give password or passwordFile, not both" });
      } else if (password === undefined && passwordFile === undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["bmcs", index],
          message: "no password: add passwordFile: /path (mode 0600) or password: (or set them in defaults.bmc)",
        });
      }
    });
    const pool = config.dhcp.pool;
    if (pool) {
      const start = parseIpv4(pool.start)!;
      const end = parseIpv4(pool.end)!;
      if (start > end) {
        ctx.addIssue({ code: "custom", path: ["dhcp", "pool"], message: "start comes after end; swap them" });
      }
      if (address && (!ipv4InCidr(pool.start, address) || !ipv4InCidr(pool.end, address))) {
        ctx.addIssue({
          code: "custom",
          path: ["dhcp", "pool"],
          message: `the pool must lie inside the master's subnet ${address.network}/${address.prefix}`,
        });
      }
      if (address && parseIpv4(address.address)! >= start && parseIpv4(address.address)! <= end) {
        ctx.addIssue({
          code: "custom",
          path: ["dhcp", "pool"],
          message: `the pool contains the master's own address ${address.address}; start it after that`,
        });
      }
    }
    // The fleet must fit the addresses recon may hand out (issue #14, docs/site-config.md "fleet").
    const expected = config.fleet.expectedNodes ?? 0;
    if (pool && config.dhcp.mode !== "proxy" && config.dhcp.mode !== "off") {
      const size = parseIpv4(pool.end)! - parseIpv4(pool.start)! + 1;
      if (size > 0 && size < expected) {
        ctx.addIssue({
          code: "custom",
          path: ["dhcp", "pool"],
          message: `the pool holds ${size} addresses but fleet.expectedNodes is ${expected}: widen the pool (and the subnet) or lower fleet.expectedNodes`,
        });
      }
    }
    const pooled = address && defaultPoolOffsets(address.prefix);
    if (address && pooled && !pool && config.dhcp.mode === "auto" && pooled.end - pooled.start + 1 < expected) {
      ctx.addIssue({
        code: "custom",
        path: ["fleet", "expectedNodes"],
        message: `${expected} nodes do not fit recon's default pool in the master's subnet ${address.network}/${address.prefix} (${pooled.end - pooled.start + 1} addresses): give address: a shorter prefix (/${prefixFor(expected)} holds them) or set dhcp.pool`,
      });
    }
    if (config.dhcp.mode === "authoritative" && !pool) {
      ctx.addIssue({
        code: "custom",
        path: ["dhcp", "pool"],
        message: "authoritative DHCP needs a pool: add dhcp.pool: {start: …, end: …} (or use mode: proxy)",
      });
    }
    if (config.dhcp.mode === "authoritative" && !address) {
      ctx.addIssue({
        code: "custom",
        path: ["address"],
        message: "authoritative DHCP needs the master's own address: add address: 10.20.0.1/24",
      });
    }
  });

/** The validated config, with every default filled in, hosts keyed by normalized MAC. */
export type SiteConfig = z.infer<typeof siteConfigSchema>;
export type SiteConfigInput = z.input<typeof siteConfigSchema>;

const DOCS_HINT = "see docs/site-config.md for every key";

function issuePath(issue: z.ZodIssue): string {
  return issue.path.length ? issue.path.join(".") : "(top level)";
}

/**
 * One line per problem: key path, what is wrong, how to fix it. Never prints a value under a
 * `password` key (zod's own messages may quote the value, e.g. for enums).
 */
export function describeConfigIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issuePath(issue);
      if (issue.path.includes("password")) {
        return `  ${path}: invalid (value not shown); it must be a string`;
      }
      switch (issue.code) {
        case "unrecognized_keys":
          return `  ${path}: unknown key(s) ${issue.keys.map((key) => `'${key}'`).join(", ")}; remove them or fix the spelling`;
        case "invalid_enum_value":
          return `  ${path}: '${String(issue.received)}' is not allowed; use one of ${issue.options.join(", ")}`;
        case "invalid_type":
          return issue.received === "undefined" ? `  ${path}: missing; add it` : `  ${path}: expected ${issue.expected}, got ${issue.received}`;
        default:
          return `  ${path}: ${issue.message}`;
      }
    })
    .join("\n");
}

/** Validates an already-parsed object (e.g. after kernel-arg overrides). */
export function validateSiteConfig(input: unknown, source = "site config"): SiteConfig {
  const result = siteConfigSchema.safeParse(input ?? {});
  if (!result.success) {
    throw new ReconError("CONFIG_INVALID", `${source} is not valid:\n${describeConfigIssues(result.error)}`, {
      hint: DOCS_HINT,
    });
  }
  const hosts: Record<string, NodeSettings> = {};
  for (const [key, settings] of Object.entries(result.data.hosts)) hosts[normalizeMac(key)!] = settings;
  return { ...result.data, hosts };
}

/** YAML text → validated config. An empty file is a valid config (all defaults). */
export function parseSiteConfig(text: string, source = "site config"): SiteConfig {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    // yaml's message quotes the offending source line, which may hold a password: keep the
    // first line (the description and position) only.
    const where = first.linePos?.[0] ? ` at line ${first.linePos[0].line}, column ${first.linePos[0].col}` : "";
    const summary = first.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    throw new ReconError("CONFIG_INVALID", `${source} is not valid YAML${where}: ${summary}`, {
      hint: "fix the YAML syntax at that position (indentation, a missing ':' or an unclosed quote)",
    });
  }
  return validateSiteConfig(doc.toJS(), source);
}

/**
 * Keys a technician may override from the boot menu without editing the stick, e.g.
 * `recon.dhcp=proxy recon.interface=eno1`. The kernel keeps the last of repeated args; so do we.
 */
export const KERNEL_OVERRIDES = {
  "recon.dhcp": "dhcp.mode",
  "recon.interface": "interface",
  "recon.address": "address",
  "recon.pool": "dhcp.pool (start-end)",
  "recon.dns": "dns.enabled (on/off)",
  "recon.domain": "dns.domain",
  "recon.port": "http.port",
} as const;

export interface OverrideResult {
  config: SiteConfig;
  /** `recon.dhcp=proxy` for each override applied, to log at start-up. */
  applied: string[];
}

/** Applies the overrides in KERNEL_OVERRIDES and validates the result again. Pure. */
export function applyKernelOverrides(config: SiteConfig, args: Map<string, string[]>): OverrideResult {
  const next = structuredCloneConfig(config);
  const applied: string[] = [];
  const problems: string[] = [];
  for (const key of Object.keys(KERNEL_OVERRIDES) as Array<keyof typeof KERNEL_OVERRIDES>) {
    const value = cmdlineValue(args, key);
    if (value === undefined) continue;
    applied.push(`${key}=${value}`);
    switch (key) {
      case "recon.dhcp":
        next.dhcp.mode = value as DhcpMode;
        break;
      case "recon.interface":
        next.interface = value;
        break;
      case "recon.address":
        next.address = value;
        break;
      case "recon.pool": {
        const [start, end, ...rest] = value.split("-");
        if (!start || !end || rest.length > 0) problems.push(`  ${key}: write it as recon.pool=10.20.0.100-10.20.0.200`);
        else next.dhcp.pool = { start, end };
        break;
      }
      case "recon.dns":
        if (value === "on" || value === "1") next.dns.enabled = true;
        else if (value === "off" || value === "0") next.dns.enabled = false;
        else problems.push(`  ${key}: '${value}' is not allowed; use on or off`);
        break;
      case "recon.domain":
        next.dns.domain = value;
        break;
      case "recon.port":
        next.http.port = /^\d+$/.test(value) ? Number(value) : (value as unknown as number);
        break;
    }
  }
  if (problems.length > 0) {
    throw new ReconError("CONFIG_INVALID", `kernel command line overrides are not valid:\n${problems.join("\n")}`, {
      hint: `overridable: ${Object.keys(KERNEL_OVERRIDES).join(", ")}`,
    });
  }
  if (applied.length === 0) return { config, applied };
  return { config: validateSiteConfig(next, `site config with ${applied.join(" ")}`), applied };
}

function structuredCloneConfig(config: SiteConfig): SiteConfig {
  // structuredClone would drop Secret's private field; the top-level sections overrides touch
  // are plain data, so copy those and share the rest.
  return { ...config, dhcp: { ...config.dhcp }, dns: { ...config.dns }, http: { ...config.http } };
}
