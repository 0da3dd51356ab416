/**
 * What the agent needs to know, from the kernel command line the master's boot plan wrote
 * (src/boot/plan-boot.ts): recon.master=<host[:port]>, recon.token=…, recon.post=…,
 * BOOTIF=01-aa-bb-…, pxeaddr=…. Pure: parsed args in, a typed config or a ReconError out.
 * The token is a credential: it is kept here but never logged (use tokenFingerprint).
 */
import { cmdlineValue } from "../model/kernel-cmdline.js";
import { ReconError } from "../lib/errors.js";
import {
  PEER_KERNEL_ARGS,
  POST_ACTIONS,
  parseBurnInArg,
  parseSeedArg,
  type BurnInSettings,
  type PostAction,
  type SeedSettings,
} from "../model/peer-contract.js";
import { normalizeMac } from "../model/net-address.js";

export interface AgentConfig {
  /** Base URL of the master's HTTP service, e.g. http://10.20.0.1:8080 (no trailing slash). */
  masterUrl: string;
  token: string;
  postAction: PostAction;
  /** The MAC the node booted from (BOOTIF), aa:bb:cc:dd:ee:ff: the node's identity on the master. */
  bootMac: string;
  /** The master's address as iPXE saw it (pxeaddr=), when given. */
  pxeAddress: string | undefined;
  /** The burn-in the master asked for (recon.burnin=), undefined when none. */
  burnIn: BurnInSettings | undefined;
  /** The seeding bounds when the initrd fetched the image by BitTorrent (recon.seed=), undefined when it came by HTTP. */
  seed: SeedSettings | undefined;
}

export interface AgentConfigOverrides {
  /** --master URL (tests, odd sites); wins over recon.master. */
  masterUrl?: string | undefined;
  /** --post; wins over recon.post. */
  postAction?: string | undefined;
}

const HINT = "the master writes these on the kernel command line when it PXE-boots a peer; boot the node from a recon master (or pass --cmdline FILE)";

/**
 * `01-aa-bb-cc-dd-ee-ff` (pxelinux/iPXE form, 01 = Ethernet) → `aa:bb:cc:dd:ee:ff`. The type
 * prefix is required: without it `01-52-54-00-aa-00` (a truncated value) would read as a MAC.
 */
export function macFromBootif(value: string): string | undefined {
  const match = /^01-([0-9a-f]{2}(?:-[0-9a-f]{2}){5})$/i.exec(value.trim());
  return match ? normalizeMac(match[1]!) : undefined;
}

/** The BOOTIF MAC when the command line has a valid one (used by `agent collect` too). */
export function bootMacFromCmdline(args: Map<string, string[]>): string | undefined {
  const value = cmdlineValue(args, "BOOTIF");
  return value === undefined ? undefined : macFromBootif(value);
}

/** `host`, `host:port`, `[v6]:port` or a full http:// URL → base URL. */
export function masterUrlFrom(value: string): string | undefined {
  const text = value.trim();
  const candidate = /^https?:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return undefined;
  }
  if (url.hostname === "" || url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") return undefined;
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, "")}`;
}

function invalid(message: string): ReconError {
  return new ReconError("CONFIG_INVALID", message, { hint: HINT });
}

export function parseAgentConfig(args: Map<string, string[]>, overrides: AgentConfigOverrides = {}): AgentConfig {
  const bootif = cmdlineValue(args, "BOOTIF");
  if (bootif === undefined) throw invalid("BOOTIF= is missing from the kernel command line: the agent cannot tell which node it is");
  const bootMac = macFromBootif(bootif);
  if (bootMac === undefined) throw invalid(`BOOTIF=${bootif.slice(0, 40)} is not of the form 01-aa-bb-cc-dd-ee-ff`);

  const pxeAddress = cmdlineValue(args, "pxeaddr") || undefined;
  const masterText = overrides.masterUrl ?? cmdlineValue(args, PEER_KERNEL_ARGS.master) ?? pxeAddress;
  if (masterText === undefined || masterText === "") {
    throw invalid("neither recon.master= nor pxeaddr= is on the kernel command line: the agent does not know its master");
  }
  const masterUrl = masterUrlFrom(masterText);
  if (masterUrl === undefined) throw invalid(`the master address '${masterText.slice(0, 80)}' is not host[:port] or an http URL`);

  const token = cmdlineValue(args, PEER_KERNEL_ARGS.token);
  if (token === undefined || token === "") throw invalid("recon.token= is missing from the kernel command line: the master would refuse the upload");
  // The token never appears in a message, only whether it is well formed.
  if (!/^[A-Za-z0-9_.-]{1,200}$/.test(token)) throw invalid("recon.token= is malformed (expected one word of base64url characters)");

  // No recon.post: stay. The agent never powers a machine off unless it was told to.
  const post = overrides.postAction ?? cmdlineValue(args, PEER_KERNEL_ARGS.post) ?? "stay";
  if (!(POST_ACTIONS as readonly string[]).includes(post)) {
    throw invalid(`recon.post=${post.slice(0, 40)} is not one of ${POST_ACTIONS.join(", ")}`);
  }
  const burnInText = cmdlineValue(args, PEER_KERNEL_ARGS.burnIn);
  const burnIn = burnInText === undefined ? undefined : parseBurnInArg(burnInText);
  if (burnInText !== undefined && burnIn === undefined) {
    throw invalid(
      `recon.burnin=${burnInText.slice(0, 120)} is not of the form cpuS:60,memoryS:60,memoryPercent:50,memtesterMiB:256,memtesterS:600,diskReadS:60`,
    );
  }
  const seedText = cmdlineValue(args, PEER_KERNEL_ARGS.seed);
  const seed = seedText === undefined ? undefined : parseSeedArg(seedText);
  if (seedText !== undefined && seed === undefined)
    throw invalid(`recon.seed=${seedText.slice(0, 40)} is not of the form <seconds ≤ 3600>,<ratio ≤ 100>, e.g. 120,4`);
  return { masterUrl, token, postAction: post as PostAction, bootMac, pxeAddress, burnIn, seed };
}
