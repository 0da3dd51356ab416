import { chmod, mkdir, mkdtemp, readFile, readlink, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../lib/log.js";
import { discoverImages, servedTreeDir } from "./images.js";

const lines: string[] = [];
const log = createLogger({ component: "images" }, { write: (line) => lines.push(line) });
let work = "";

async function tree(root: string, label: string): Promise<void> {
  await mkdir(join(root, "isos"), { recursive: true });
  await mkdir(join(root, "install", label), { recursive: true });
  await writeFile(join(root, "isos", `${label}.iso`), `iso of ${label}`);
  await writeFile(join(root, "install", label, "linux"), "k");
  await writeFile(join(root, "install", label, "initrd"), "i");
  await writeFile(join(root, "install", label, "boot.json"), JSON.stringify({ label, arch: "x86_64", volumeId: "RECON", imageKernelArgs: [] }));
}

afterEach(async () => {
  lines.length = 0;
  if (work !== "") await rm(work, { recursive: true, force: true });
});

describe("discoverImages", () => {
  // The appliance's own layout (cli.ts defaults): --run-dir /run/recon, --http-root /run/recon/http. The lab
  // master with a second image on its data partition died here with EBUSY: the served tree was built at
  // <runDir>/http, i.e. by removing the own tree and the RAM copy's tmpfs mounted on its isos/.
  it("builds the served tree beside the own http root, never over it, when the own root is <runDir>/http", async () => {
    work = await mkdtemp(join(tmpdir(), "recon-images-"));
    const runDir = join(work, "run");
    const httpRoot = join(runDir, "http");
    const dataDir = join(work, "data");
    await tree(httpRoot, "debian-12");
    await tree(join(dataDir, "images", "rocky-9"), "rocky-9");
    const found = await discoverImages({ httpRoot, ownLabel: "debian-12", dataDir, runDir, log });
    expect(found.httpRoot).toBe(servedTreeDir(runDir));
    expect(found.httpRoot).not.toBe(httpRoot);
    // The own tree is untouched and both images are reachable through the served tree.
    expect(await readFile(join(httpRoot, "isos", "debian-12.iso"), "utf8")).toBe("iso of debian-12");
    expect(await readlink(join(found.httpRoot, "isos", "debian-12.iso"))).toBe(join(httpRoot, "isos", "debian-12.iso"));
    expect(await readFile(join(found.httpRoot, "isos", "rocky-9.iso"), "utf8")).toBe("iso of rocky-9");
    expect(found.others.map((image) => image.label)).toEqual(["rocky-9"]);
  });

  it("lets the boot services (an unprivileged user) reach a data-partition image under a 0700 data root, adding only o+x / o+r", async () => {
    work = await mkdtemp(join(tmpdir(), "recon-images-"));
    const runDir = join(work, "run");
    const dataDir = join(work, "data");
    await tree(join(runDir, "http"), "debian-12");
    const image = join(dataDir, "images", "rocky-9");
    await tree(image, "rocky-9");
    await chmod(dataDir, 0o700);
    await chmod(join(image, "install", "rocky-9", "initrd"), 0o600);
    await discoverImages({ httpRoot: join(runDir, "http"), ownLabel: "debian-12", dataDir, runDir, log });
    expect((await stat(dataDir)).mode & 0o777).toBe(0o701);
    expect((await stat(join(image, "install", "rocky-9", "initrd"))).mode & 0o777).toBe(0o604);
    expect(lines.some((line) => line.includes('msg="image made readable for the boot services" image=rocky-9'))).toBe(true);
    // A second start finds nothing to change.
    lines.length = 0;
    await discoverImages({ httpRoot: join(runDir, "http"), ownLabel: "debian-12", dataDir, runDir, log });
    expect(lines.some((line) => line.includes("made readable"))).toBe(false);
  });

  it("refuses a run dir whose served tree would be the http root itself", async () => {
    work = await mkdtemp(join(tmpdir(), "recon-images-"));
    const runDir = join(work, "run");
    const dataDir = join(work, "data");
    await tree(servedTreeDir(runDir), "debian-12");
    await tree(join(dataDir, "images", "rocky-9"), "rocky-9");
    await expect(discoverImages({ httpRoot: servedTreeDir(runDir), ownLabel: "debian-12", dataDir, runDir, log })).rejects.toMatchObject({
      code: "CONFIG_INVALID",
    });
    expect(await readFile(join(servedTreeDir(runDir), "isos", "debian-12.iso"), "utf8")).toBe("iso of debian-12");
  });
});
