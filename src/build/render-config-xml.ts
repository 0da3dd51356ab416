/**
 * config.xml for KIWI (schema 7.5, the one Debian 12's kiwi 9.24 ships; newer kiwi converts it).
 * Pure: recipe + resolved repository URLs in, the whole text out. Built with xml2js so that
 * every attribute value is escaped by the XML library, not by hand.
 */
import { Builder } from "xml2js";
import type { Profile, Recipe, Repository } from "./recipe.js";

export const KIWI_SCHEMA_VERSION = "7.5";

export interface ResolvedRepository extends Repository {
  url: string;
}

type XmlNode = Record<string, unknown>;

const PROFILE_DESCRIPTIONS: Record<Profile, string> = {
  DracutLive: "Live ISO (dracut dmsquash-live/livenet): boots from USB, CD or root=live:http://",
  Virtual: "Raw disk image with the same recon system, for virtual machines",
  Disk: "OEM install image: boots a menu to pick a target disk and installs recon to it",
};

function typeFor(profile: Profile, recipe: Recipe): XmlNode {
  const kernelcmdline = recipe.kernelArgs.join(" ");
  const bootloader = {
    $: { name: "grub2", timeout: String(recipe.bootloaderTimeoutSeconds) },
  };
  switch (profile) {
    case "DracutLive":
      // flags="dmsquash" makes KIWI use dracut's own dmsquash-live module, which also gives
      // livenet (root=live:http://…) for PXE peers. No `hybrid` attribute: schema 7.5 dropped
      // it (every KIWI ISO is hybrid). `hybridpersistent` does nothing with dmsquash.
      return {
        $: {
          image: "iso",
          primary: "true",
          flags: "dmsquash",
          firmware: recipe.firmware,
          mediacheck: "false",
          volid: recipe.volumeId,
          squashfscompression: recipe.squashfsCompression,
          kernelcmdline,
        },
        bootloader,
      };
    case "Virtual":
      return {
        $: {
          image: "oem",
          filesystem: "ext4",
          firmware: recipe.firmware,
          kernelcmdline,
        },
        bootloader,
        oemconfig: { "oem-resize": "false", "oem-swap": "false" },
      };
    case "Disk":
      return {
        $: {
          image: "oem",
          filesystem: "ext4",
          firmware: recipe.firmware,
          installiso: "true",
          kernelcmdline,
        },
        bootloader,
        // Not unattended: the install ISO shows KIWI's menu of target disks, so nobody wipes a
        // server's disk by booting the wrong medium.
        oemconfig: {
          "oem-unattended": "false",
          "oem-swap": "false",
          "oem-resize": "true",
          "oem-skip-verify": "false",
        },
      };
  }
}

function repositoryNode(repo: ResolvedRepository): XmlNode {
  const attributes: Record<string, string> = { type: repo.type, alias: repo.alias };
  if (repo.distribution) attributes.distribution = repo.distribution;
  if (repo.components?.length) attributes.components = repo.components.join(" ");
  if (repo.useForBootstrap) attributes.use_for_bootstrap = "true";
  attributes.repository_gpgcheck = String(repo.gpgcheck);
  if (repo.priority !== undefined) attributes.priority = String(repo.priority);
  const source: XmlNode = { $: { path: repo.url } };
  if (repo.signingKeys.length) source.signing = repo.signingKeys.map((key) => ({ $: { key } }));
  return { $: attributes, source };
}

const packages = (names: string[]) => names.map((name) => ({ $: { name } }));

export function renderConfigXml(recipe: Recipe, repositories: ResolvedRepository[]): string {
  const profilePackages = Object.entries(recipe.profilePackages).filter(([, names]) => names.length);
  const image: XmlNode = {
    $: { schemaversion: KIWI_SCHEMA_VERSION, name: `recon-${recipe.name}` },
    description: {
      $: { type: "system" },
      author: "recon",
      contact: "recon developers",
      specification: recipe.summary,
    },
    profiles: {
      profile: Object.entries(PROFILE_DESCRIPTIONS).map(([name, description]) => ({
        $: name === "DracutLive" ? { name, description, import: "true" } : { name, description },
      })),
    },
    preferences: [
      {
        version: recipe.imageVersion,
        packagemanager: recipe.packageManager,
        ...(recipe.locale ? { locale: recipe.locale } : {}),
        keytable: recipe.keytable,
        timezone: recipe.timezone,
        "rpm-check-signatures": "false",
      },
      ...(["DracutLive", "Virtual", "Disk"] as const).map((profile) => ({
        $: { profiles: profile },
        type: typeFor(profile, recipe),
      })),
    ],
    repository: repositories.map(repositoryNode),
    packages: [
      { $: { type: "image" }, package: packages(recipe.imagePackages) },
      ...profilePackages.map(([profile, names]) => ({
        $: { type: "image", profiles: profile },
        package: packages(names),
      })),
      { $: { type: "bootstrap" }, package: packages(recipe.bootstrapPackages) },
    ],
  };
  const builder = new Builder({
    rootName: "image",
    xmldec: { version: "1.0", encoding: "utf-8" },
    renderOpts: { pretty: true, indent: "  ", newline: "\n" },
  });
  return `${builder.buildObject(image)}\n`;
}
