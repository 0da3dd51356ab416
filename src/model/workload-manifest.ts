/**
 * The peer workload, `/post.tgz`: lets an admin change what peers collect without rebuilding
 * the ISO. A directory on the stick (`<data dir>/workload/`) holding `manifest.json` and any
 * scripts; the master validates and packs it at start, the agent fetches, unpacks and runs it.
 *
 *   {
 *     "format": "recon-workload/1",
 *     "builtin_collectors": true,            // also run recon's own collectors (default true)
 *     "collectors": [
 *       { "id": "raid", "argv": ["./scripts/raid.sh"], "timeout_s": 120 },
 *       { "id": "ipmi-sel", "argv": ["ipmitool", "sel", "elist"] }
 *     ]
 *   }
 *
 * Each collector's stdout lands in the upload as `raw/workload/<id>.out`, and it appears in the
 * upload's manifest as `workload.<id>` (errors and time-outs like any other collector). argv[0]
 * starting with "./" is a file of the workload; anything else is looked up on PATH. Pure; the
 * agent turns a manifest into collectors (agent/workload-collectors.ts).
 */
import { z } from "zod";
import { ReconError } from "../lib/errors.js";

export const WORKLOAD_FORMAT = "recon-workload/1";

export const workloadManifestSchema = z
  .object({
    format: z.literal(WORKLOAD_FORMAT),
    builtin_collectors: z.boolean().default(true),
    collectors: z
      .array(
        z
          .object({
            id: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,40}$/, "an id is 1–41 lower-case letters, digits, '.', '_' or '-'"),
            argv: z
              .array(z.string().min(1).max(4096))
              .min(1)
              .refine(
                (argv) => argv[0] === undefined || !argv[0].startsWith("./") || !argv[0].split("/").includes(".."),
                "argv[0] must stay inside the workload",
              ),
            timeout_s: z.number().int().min(1).max(3600).default(120),
          })
          .strict(),
      )
      .max(100)
      .default([])
      .refine((list) => new Set(list.map((c) => c.id)).size === list.length, "collector ids must be unique"),
  })
  .strict();

export type WorkloadManifest = z.infer<typeof workloadManifestSchema>;

/** manifest.json text → manifest, or a CONFIG_INVALID error naming the key and the fix. */
export function parseWorkloadManifest(text: string, where: string): WorkloadManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ReconError("CONFIG_INVALID", `${where} is not JSON: ${(error as Error).message}`, {
      hint: `write it as {"format": "${WORKLOAD_FORMAT}", "collectors": [{"id": "x", "argv": ["./x.sh"]}]}`,
    });
  }
  const parsed = workloadManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.path.join(".") || "(top level)";
    throw new ReconError("CONFIG_INVALID", `${where}: ${key}: ${issue.message}`, {
      hint: `see the workload format in docs/workload.md (format must be "${WORKLOAD_FORMAT}")`,
    });
  }
  return parsed.data;
}
