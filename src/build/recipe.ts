/**
 * A recipe is data: descriptions/<name>/recipe.json (+ an optional root/ overlay of files the
 * recipe adds to the image). The KIWI description is generated from it by plan-description.ts.
 */
import { z } from "zod";
import { IMAGE_CUTS } from "./image-cuts.js";

export const PROFILES = ["DracutLive", "Virtual", "Disk"] as const;
export type Profile = (typeof PROFILES)[number];

/**
 * KIWI's `firmware` for every profile's type. `efi`: BIOS + UEFI with an unsigned GRUB that KIWI
 * makes with grub-mkimage (no Secure Boot). `uefi`: BIOS + UEFI with the distribution's signed
 * chain, shim (Microsoft UEFI CA) → signed GRUB → signed kernel, so the medium boots with Secure
 * Boot on; KIWI copies shim and the signed GRUB from the image root and fails without them.
 */
export const FIRMWARES = ["efi", "uefi"] as const;
export type Firmware = (typeof FIRMWARES)[number];

/**
 * What KIWI 9.24 looks for in a Debian root for `firmware="uefi"` (kiwi/defaults.py
 * get_shim_loader, get_signed_grub_loader): shim-signed's /usr/lib/shim/shimx64.efi.signed and
 * grub-efi-amd64-signed's /usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed.
 */
export const SECURE_BOOT_PACKAGES: Record<"debian", string[]> = { debian: ["shim-signed", "grub-efi-amd64-signed"] };

const packageName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9+._:-]*$/, "not a package name");

const repositorySchema = z
  .object({
    /** Name shown in KIWI's log and config.xml `alias`. */
    alias: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, "use lower-case letters, digits, dots and dashes"),
    type: z.enum(["apt-deb", "rpm-md"]),
    /**
     * Where the packages come from: a URL or `obs://…` path, or `host-apt` — the mirror this
     * build host's own apt sources name for `distribution`, read at build time so that no
     * mirror is written into the repository.
     */
    source: z.union([
      z.literal("host-apt"),
      z.string().regex(/^(https?|obs|file|dir):\/\//, "a URL (http, https, obs, file, dir) or host-apt"),
    ]),
    distribution: z.string().optional(),
    components: z.array(z.string()).optional(),
    useForBootstrap: z.boolean().default(false),
    gpgcheck: z.boolean().default(true),
    signingKeys: z.array(z.string().regex(/^file:\/\//)).default([]),
    priority: z.number().int().optional(),
  })
  .strict()
  .superRefine((repo, ctx) => {
    if (repo.type === "apt-deb" && !repo.distribution) {
      ctx.addIssue({ code: "custom", message: "apt-deb repositories need `distribution`" });
    }
    if (repo.source === "host-apt" && repo.type !== "apt-deb") {
      ctx.addIssue({ code: "custom", message: "`host-apt` only works for apt-deb repositories" });
    }
  });
export type Repository = z.infer<typeof repositorySchema>;

const profilePackages = z
  .object({
    DracutLive: z.array(packageName).default([]),
    Virtual: z.array(packageName).default([]),
    Disk: z.array(packageName).default([]),
  })
  .strict();

export const recipeSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, "use lower-case letters, digits, dots and dashes"),
    summary: z.string().min(1),
    distribution: z
      .object({
        family: z.enum(["debian", "suse"]),
        release: z.string().min(1),
        version: z.string().min(1),
      })
      .strict(),
    /** `true` for recipes this project builds and boots in its tests; others are generated and schema-checked only. */
    verifiedBuild: z.boolean().default(false),
    packageManager: z.enum(["apt", "zypper"]),
    imageVersion: z.string().regex(/^\d+\.\d+\.\d+$/, "KIWI wants major.minor.patch, e.g. 1.0.0"),
    /**
     * KIWI's locale (`en_US` → en_US.UTF-8 via systemd-firstboot); needs the locale installed.
     * Leave it out to keep the distribution's default (Debian: C.UTF-8, no locales package).
     */
    locale: z.string().regex(/^[a-z]{2}_[A-Z]{2}$|^POSIX$/, "KIWI's schema takes xx_YY or POSIX").optional(),
    keytable: z.string().default("us"),
    timezone: z.string().default("UTC"),
    /** ISO volume id; KIWI's default `CDROM` says nothing about what the stick is. */
    volumeId: z.string().regex(/^[A-Z0-9_]{1,32}$/, "ISO volume ids are 1-32 of A-Z, 0-9 and _"),
    squashfsCompression: z.enum(["xz", "zstd", "gzip", "lzo", "lz4"]).default("xz"),
    kernelArgs: z.array(z.string().regex(/^\S+$/, "one kernel argument per entry, no spaces")),
    bootloaderTimeoutSeconds: z.number().int().min(0).max(60).default(5),
    /** KIWI's firmware for all profiles (see FIRMWARES); `efi` when left out. */
    firmware: z.enum(FIRMWARES).default("efi"),
    repositories: z.array(repositorySchema).min(1),
    /**
     * The URL prefix of `repositories[].source` that RECON_ZYPPER_MIRROR replaces (zypper
     * recipes), e.g. `http://download.opensuse.org/`: a mirror of that tree holds the same paths
     * below its own base. Sources outside this prefix are never rewritten.
     */
    mirrorBase: z.string().regex(/^https?:\/\/.+\/$/, "an http(s) URL ending in /").optional(),
    bootstrapPackages: z.array(packageName).min(1),
    imagePackages: z.array(packageName).min(1),
    profilePackages: profilePackages.default({}),
    /** Shell lines added to config.sh, common to all profiles, run after recon's own setup. */
    configShell: z.array(z.string()).default([]),
    /** Shell lines for one profile only (its branch of config.sh), after the common ones. */
    profileConfigShell: z
      .object({
        DracutLive: z.array(z.string()).default([]),
        Virtual: z.array(z.string()).default([]),
        Disk: z.array(z.string()).default([]),
      })
      .strict()
      .default({}),
    /**
     * The image diet's cuts config.sh carries out, by id (src/build/image-cuts.ts; docs/recipes.md
     * "Image diet"), in this order, after the recipe's own configShell lines.
     */
    imageCuts: z
      .array(z.string())
      .default([])
      .superRefine((ids, ctx) => {
        const known = IMAGE_CUTS.map((cut) => cut.id);
        ids.forEach((id, index) => {
          if (!known.includes(id)) ctx.addIssue({ code: "custom", path: [index], message: `'${id}' is not an image cut; use one of ${known.join(", ")}` });
        });
      }),
    /** Services config.sh enables with systemctl. */
    enableServices: z.array(z.string().regex(/^[A-Za-z0-9@._-]+$/, "a systemd unit name")).default([]),
    /** Notes shown in docs and the generated description (why a recipe differs). */
    notes: z.array(z.string()).default([]),
  })
  .strict()
  .superRefine((recipe, ctx) => {
    if (recipe.firmware !== "uefi" || recipe.distribution.family !== "debian") return;
    const missing = SECURE_BOOT_PACKAGES.debian.filter((name) => !recipe.imagePackages.includes(name));
    if (missing.length) {
      ctx.addIssue({
        code: "custom",
        path: ["imagePackages"],
        message: `firmware "uefi" (Secure Boot) needs ${missing.join(" and ")} in imagePackages: kiwi copies shim and the signed GRUB from the image root`,
      });
    }
  });

export type Recipe = z.infer<typeof recipeSchema>;

/** Turns zod's issues into "key.path: message" lines an admin can act on. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `  ${issue.path.length ? issue.path.join(".") : "(top level)"}: ${issue.message}`)
    .join("\n");
}
