/**
 * The store's layout on the data partition, in one place: the store writes it
 * (master/store/store.ts), the review's reader (review/store-reader.ts) and the fleet power's
 * in-band BMC lookup (master/power/fleet-power.ts) read it. Pure names and checks, no I/O.
 *
 *   <root>/state/events.jsonl
 *   <root>/nodes/<52-54-00-ab-cd-ef>/inventory.json
 *   <root>/nodes/<52-54-00-ab-cd-ef>/uploads/<upload id>/{raw.tar.gz,meta.json}
 *   <root>/images/<label>/{isos/<label>.iso,install/<label>/{linux,initrd,boot.json},SHA256SUMS}
 *     (other images the master serves: written by `recon images add`, read at master start)
 */
import { normalizeMac } from "./net-address.js";

export const STATE_DIR = "state";
export const EVENTS_FILE = "events.jsonl";
export const NODES_DIR = "nodes";
export const UPLOADS_DIR = "uploads";
export const RAW_FILE = "raw.tar.gz";
export const META_FILE = "meta.json";
export const INVENTORY_FILE = "inventory.json";
export const IMAGES_DIR = "images";
/** Beside each image on the data partition: `<sha256>  <path>` per file, as sha256sum writes it. */
export const IMAGE_SUMS_FILE = "SHA256SUMS";

/** `20261121T101500.123Z-<8 hex>`: the upload's receive time, sortable, FAT-safe, plus randomness. */
export const UPLOAD_ID = /^\d{8}T\d{6}(\.\d{3})?Z-[0-9a-f]{8}$/;

export function isUploadId(text: string): boolean {
  return UPLOAD_ID.test(text);
}

/** `52:54:00:ab:cd:ef` → `52-54-00-ab-cd-ef` (the directory name), undefined when not a MAC. */
export function macDirName(mac: string): string | undefined {
  return normalizeMac(mac)?.replace(/:/g, "-");
}
