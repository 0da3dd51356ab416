/**
 * The review UI in a real browser against a real `recon master` (issue #6): Debian's chromium
 * driven by playwright-core, the master inside a lab network namespace (its HTTP front as the
 * appliance runs it), its store pre-populated with the sample fleet plus the real captured
 * inventories of test/fixtures/inventory normalized by recon's own normalizer, and (issue #12) two
 * raw uploads made of real files: the two dmidecode dumps of one platform spelt two ways
 * (test/fixtures/inventory/real/review, "PAIR:") and a real `ipmitool sel elist` holding an
 * uncorrectable ECC error (test/fixtures/inventory/real/ipmi, "REVIEW:").
 *
 * The browser runs in namespaces too (a wrapper script execs chromium under `ip netns exec`):
 * in the master's own namespace at 127.0.0.1 it is the master's local (read-only, no token);
 * in a lab host's namespace it is a network client and must present the admin token.
 * Screenshots go to test-results/review-ui/.
 */
import { readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { normalizeRaw } from "../../src/inventory/normalize.js";
import { createLab, runInNetns, type Lab, type SimulatedHost } from "../../src/lab/netns.js";
import { execaRunner } from "../../src/lib/run.js";
import type { NodeEvent } from "../../src/model/node-state.js";
import { TIMELINE_PHASES, type TimelineEntry } from "../../src/model/node-timeline.js";
import { issueToken } from "../../src/model/peer-token.js";
import type { LinkBudget } from "../../src/review/link-budget.js";
import { HOSTILE_TEXT, sampleEvents, sampleFleet } from "../../src/review/sample-fleet.js";
import { fixtureMachines, INVENTORY_FIXTURES, readFixtureFiles } from "../fixtures/inventory/fixtures.js";
import { startMasterInNetns, testMasterArgs, waitForMaster, type MasterProcess } from "../helpers/master-process.js";
import { makeHttpTree } from "../helpers/master-app.js";
import { reconBin, repoRoot } from "../helpers/repo.js";
import { writeReviewStore } from "../helpers/review-store.js";
import { packFiles } from "../helpers/tarballs.js";

const PREFIX = `rcn-u${process.pid % 100000}`;
const BRIDGE = "rcnbru";
const MASTER = "10.79.0.1";
const SHOTS = join(repoRoot, "test-results", "review-ui");
const CHROMIUM = "/usr/bin/chromium";
const LIVE_MAC = "52:54:00:7a:00:01";

let work: string;
let dataDir: string;
let lab: Lab | undefined;
let admin: SimulatedHost;
let proc: MasterProcess | undefined;
const browsers: Browser[] = [];
let local: Page;
const dialogs: string[] = [];
const fleet = sampleFleet();
const realMacs: string[] = [];
/** The real pair: the R730XD with the real SEL holding a fault, and the R730xd without one. */
const PAIR = { faulty: "52:54:00:5f:00:01", other: "52:54:00:5f:00:02" } as const;
/**
 * A node with storage behind a RAID controller, made of real outputs of different machines
 * (test/fixtures/inventory/real/storage/SOURCES.md): the R720xd's dmidecode, a PowerEdge 2950's
 * lspci -vvnn, storcli's report of a ServeRAID M5015 (a workload's `storcli` collector) and
 * smartctl's report of a disk read through a MegaRAID (`-d megaraid,1`).
 */
const RAID_NODE = "52:54:00:5f:00:03";
/** The sample node with a whole second boot in its events (timelineBoot). */
const TIMELINE_NODE = fleet[1]!.mac;

/**
 * A second boot of one sample node with every phase the master observes (issue #14 item 3): its
 * timeline is what the node page and the fleet's "where the minutes go" draw.
 */
function timelineBoot(mac: string): NodeEvent[] {
  const at = (s: number) => new Date(Date.UTC(2026, 10, 21, 12, 10, 0) + s * 1000).toISOString();
  const ip = "172.30.213.250";
  return [
    { type: "powered-off", at: at(-60), mac },
    { type: "dhcp-ack", at: at(0), mac, ip },
    { type: "tftp-sent", at: at(2), ip, file: "undionly.kpxe" },
    { type: "script-served", at: at(6), mac, ip, image: "debian-12" },
    { type: "kernel-sent", at: at(8), mac, image: "debian-12" },
    { type: "initrd-sent", at: at(12), mac },
    { type: "image-bytes", at: at(20), mac, bytes: 200 * 1024 * 1024 },
    { type: "image-bytes", at: at(70), mac, bytes: 1000 * 1024 * 1024 },
    { type: "agent-hello", at: at(95), mac },
    { type: "upload-stored", at: at(160), mac, uploadId: "20261121T121240.000Z-0000aa01", collectedAt: at(157), collectionSeconds: 62 },
    { type: "powered-off", at: at(175), mac },
  ];
}

/** The sample node whose latest boot fetched its image by BitTorrent (peer assist, torrentBoot). */
const TORRENT_NODE = fleet[2]!.mac;

/**
 * A boot by BitTorrent as the master records it (issue #14 item 5): the torrent served (the ISO's
 * length from it), 30 MiB from its web seed (nginx's log), the agent's hello once the image is there.
 */
function torrentBoot(mac: string): NodeEvent[] {
  const at = (s: number) => new Date(Date.UTC(2026, 10, 21, 12, 20, 0) + s * 1000).toISOString();
  return [
    { type: "powered-off", at: at(-60), mac },
    { type: "dhcp-ack", at: at(0), mac, ip: "172.30.213.251" },
    { type: "script-served", at: at(4), mac, ip: "172.30.213.251", image: "debian-12" },
    { type: "kernel-sent", at: at(6), mac, image: "debian-12" },
    { type: "initrd-sent", at: at(9), mac },
    { type: "torrent-sent", at: at(14), mac, image: "debian-12", isoBytes: 240 * 1024 * 1024 },
    { type: "image-bytes", at: at(30), mac, bytes: 30 * 1024 * 1024 },
    { type: "agent-hello", at: at(60), mac },
    { type: "upload-stored", at: at(80), mac, uploadId: "20261121T122120.000Z-0000bb01" },
    { type: "powered-off", at: at(90), mac },
  ];
}

/**
 * A raw upload of real tool outputs (docs/raw-upload.md). The manifest is recon's own metadata,
 * written here; the hardware files are the real ones, unchanged.
 */
function realUpload(mac: string, hostname: string, files: Record<string, string>): Map<string, Buffer> {
  const raw = new Map(Object.entries(files).map(([path, fixture]) => [path, readFileSync(join(INVENTORY_FIXTURES, "real", fixture))]));
  const manifest = {
    format: "recon-raw/1",
    agent_version: "ui-browser.test",
    collected_at: "2026-12-02T12:00:00.000Z",
    boot_mac: mac,
    hostname,
    kernel: null,
    collectors: Object.keys(files).map((path) => ({ id: path.slice(4, path.lastIndexOf(".")), files: [path], exit_code: 0, timed_out: false })),
  };
  return new Map([["manifest.json", Buffer.from(JSON.stringify(manifest))], ...raw]);
}

async function browserIn(ns: string): Promise<Browser> {
  const wrapper = join(work, `chromium-${ns}.sh`);
  // exec keeps the pipes playwright talks over (--remote-debugging-pipe, fds 3 and 4).
  await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  const browser = await chromium.launch({ executablePath: wrapper, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"], timeout: 30_000 });
  browsers.push(browser);
  return browser;
}

async function openPage(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.setDefaultTimeout(15_000);
  await page.goto(url);
  return page;
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
const rowCount = (page: Page) => page.locator(".rows .row").count();

/** curl inside a namespace (the master is reachable only there). */
async function curl(ns: string, args: string[]) {
  return runInNetns(execaRunner, ns, ["curl", "--silent", "--show-error", "--max-time", "10", ...args]);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "recon-ui-browser-"));
  await chmod(work, 0o755);
  await mkdir(SHOTS, { recursive: true });
  dataDir = join(work, "data");
  // Real inventories: every captured fixture machine, normalized by recon itself.
  const real = fixtureMachines().map((machine, i) => {
    const mac = `52:54:00:5e:00:${(i + 1).toString(16).padStart(2, "0")}`;
    realMacs.push(mac);
    return { mac, inventory: normalizeRaw(readFixtureFiles(machine)) };
  });
  expect(real.length).toBeGreaterThanOrEqual(2);
  for (const [mac, hostname, files] of [
    [
      PAIR.faulty,
      "r730xd-upper",
      { "raw/dmidecode.txt": "review/dell-r730xd-upper.dmidecode.txt", "raw/ipmitool-sel.txt": "ipmi/argon-bx41-06.sel-elist.txt" },
    ],
    [PAIR.other, "r730xd-lower", { "raw/dmidecode.txt": "review/dell-r730xd-lower.dmidecode.txt" }],
    [
      RAID_NODE,
      "raid-node",
      {
        "raw/dmidecode.txt": "dmi/dell-oem-r720xd-153B982DDDBD.txt",
        "raw/lspci.txt": "storage/linuxhw-dell-poweredge-2950-6643675AED82.lspci-vvnn.txt",
        "raw/smartctl-scan.txt": "storage/scrutiny-issue-267.smartctl-scan.txt",
        "raw/smartctl.bus!0:megaraid,1.json": "storage/scrutiny-smart-megaraid1.json",
        "raw/workload/storcli.out": "storage/netdata-storcli-megaraid-controllers-info.json",
      },
    ],
  ] as const) {
    realMacs.push(mac);
    real.push({ mac, inventory: normalizeRaw(realUpload(mac, hostname, files)) });
  }
  const nodes = [...fleet, ...real];
  await writeReviewStore(dataDir, nodes, [...sampleEvents(nodes), ...timelineBoot(TIMELINE_NODE), ...torrentBoot(TORRENT_NODE)]);
  await makeHttpTree(join(work, "http"), 4096);
  await writeFile(join(work, "site.yaml"), [`interface: ${BRIDGE}`, `address: ${MASTER}/24`, "dhcp:", "  mode: off", "http:", "  port: 8080", ""].join("\n"));
  lab = await createLab(execaRunner, { prefix: PREFIX, bridge: BRIDGE });
  admin = await lab.addHost({ name: "admin", mac: "52:54:00:7a:ff:01", address: "10.79.0.50/24" });
  proc = startMasterInNetns(lab.ns, testMasterArgs(work, { dataDir: dataDir }));
  await waitForMaster(proc, /msg="master ready"/, 30_000);
  local = await openPage(await browserIn(lab.ns), "http://127.0.0.1:8080/");
  await local.waitForSelector("body[data-ready=yes]");
}, 90_000);

afterAll(async () => {
  try {
    for (const browser of browsers) await browser.close().catch(() => undefined);
    const child = proc?.child;
    if (child?.pid !== undefined && !proc!.exited()) {
      process.kill(child.pid, "SIGTERM");
      await Promise.race([child, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      if (!proc!.exited()) process.kill(child.pid, "SIGKILL");
      await child;
    }
  } finally {
    await lab?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  }
}, 60_000);

describe("review UI in chromium", () => {
  it("renders the fleet table and the progress summary from the master's local without a token", async () => {
    const total = fleet.length + realMacs.length;
    await expect.poll(() => local.locator("#row-count").textContent()).toBe(`${total} of ${total} nodes`);
    expect(await rowCount(local)).toBe(total);
    // Rows are laid out one below the other (positioned through CSSOM, which the CSP allows).
    const first = await local.locator(".rows .row").nth(0).boundingBox();
    const second = await local.locator(".rows .row").nth(1).boundingBox();
    expect(second!.y - first!.y).toBeGreaterThanOrEqual(29);
    const progress = await local.locator("#summary .progress .seg").first().boundingBox();
    expect(progress!.width).toBeGreaterThan(100);
    expect(await local.locator("#summary-totals").textContent()).toContain(`${total} / ${total}`);
    // A real captured machine shows its real DMI strings.
    const dell = local.locator(`.rows .row[data-mac="${realMacs[fixtureMachines().indexOf("vm-bios-dell")]}"]`);
    expect(await dell.locator(".col-vendor").textContent()).toMatch(/Dell/);
    expect(await local.locator("#access").textContent()).toContain("read-only");
    await shot(local, "fleet");
  });

  it("filters by search as you type", async () => {
    await local.fill("#search", "SN010004");
    await expect.poll(() => rowCount(local)).toBe(1);
    expect(await local.locator(".rows .row").getAttribute("data-mac")).toBe("52:54:00:01:00:04");
    await local.fill("#search", "node-02");
    await expect.poll(() => rowCount(local)).toBe(4);
    await shot(local, "search");
    await local.fill("#search", "");
    await expect.poll(() => rowCount(local)).toBe(fleet.length + realMacs.length);
  });

  it("flags the outliers in the table and explains them in the classes view", async () => {
    const row = local.locator('.rows .row[data-mac="52:54:00:01:00:02"]');
    expect(await row.getAttribute("class")).toContain("outlier-warning");
    expect(await row.locator(".col-outlier").textContent()).toBe("1 warning");
    // The failed disk is a health finding, not an outlier: marked in the Health column instead.
    const failedDisk = local.locator('.rows .row[data-mac="52:54:00:01:00:04"]');
    expect(await failedDisk.getAttribute("class")).not.toContain("outlier-");
    expect(await failedDisk.getAttribute("class")).toContain("health-critical");
    expect(await failedDisk.locator(".col-health").textContent()).toBe("1 critical");
    await local.check("#filter-outliers");
    const shownMacs = () => local.locator(".rows .row").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-mac")));
    // The filter applies on the next animation frame: wait for it to take the healthy rows out.
    await expect.poll(async () => (await shownMacs()).length).toBeLessThan(fleet.length + realMacs.length);
    const outlierMacs = await shownMacs();
    expect(outlierMacs).toEqual(expect.arrayContaining(["52:54:00:01:00:02", "52:54:00:01:00:03"]));
    expect(outlierMacs).not.toContain("52:54:00:01:00:04");
    await local.uncheck("#filter-outliers");
    await local.click('nav a[data-view="classes"]');
    const outlier = local.locator('#classes li[data-mac="52:54:00:01:00:02"]');
    await outlier.waitFor();
    expect(await outlier.textContent()).toMatch(/DIMM missing in slot DIMM_\w+ \(class has 16GiB\)/);
    expect(await local.locator('#classes li[data-mac="52:54:00:01:00:03"]').textContent()).toMatch(/BIOS firmware 1\.0\.0 is older than the class's/);
    await shot(local, "classes");
    await local.click('nav a[data-view="fleet"]');
    await local.waitForSelector(".rows .row");
  });

  it("groups two real dumps of one platform spelt two ways into ONE class, and shows the real SEL fault as a finding (#12)", async () => {
    await local.goto("http://127.0.0.1:8080/#/");
    await local.waitForSelector(".rows .row");
    const faulty = local.locator(`.rows .row[data-mac="${PAIR.faulty}"]`);
    const other = local.locator(`.rows .row[data-mac="${PAIR.other}"]`);
    // The firmware's own spellings are shown as they are.
    expect(await faulty.locator(".col-vendor").textContent()).toBe("Dell Inc. PowerEdge R730XD");
    expect(await other.locator(".col-vendor").textContent()).toBe("Dell Inc. PowerEdge R730xd");
    // Marked in the fleet view: a critical health finding, while it matches its class (no outlier).
    expect(await faulty.getAttribute("class")).toContain("health-critical");
    expect(await faulty.getAttribute("class")).not.toContain("outlier-");
    expect(await faulty.locator(".col-health").textContent()).toMatch(/^\d+ critical$/);
    expect(await other.getAttribute("class")).not.toContain("health-");
    expect(await local.locator("#summary-critical").textContent()).toMatch(/with critical findings/);
    await shot(local, "real-pair-fleet");

    // One class: filtering by the faulty node's class shows both, and nothing else.
    const classOf = async (mac: string) => {
      await local.goto(`http://127.0.0.1:8080/#/node/${mac.replace(/:/g, "-")}`);
      await local.waitForSelector("#node-detail");
      return (await local.locator("#node-detail .node-head a").textContent())!.replace(/^class /, "");
    };
    const faultyClass = await classOf(PAIR.faulty);
    // The node page: the finding with its evidence (the SEL line) and its time.
    const findings = local.locator("#findings");
    expect(await findings.textContent()).toMatch(/uncorrectable ECC memory error/i);
    expect(await findings.textContent()).toContain("Memory #0x08 | Uncorrectable ECC | Asserted");
    expect(await findings.textContent()).toContain("2025-03-11T16:34:51");
    expect(await findings.textContent()).toContain("raw/ipmitool-sel.txt");
    expect(await local.locator("#reasons").count()).toBe(0);
    await shot(local, "real-sel-finding");
    expect(await classOf(PAIR.other)).toBe(faultyClass);
    expect(await local.locator("#findings-none").textContent()).toBe("none");

    await local.goto("http://127.0.0.1:8080/#/");
    await local.waitForSelector(".rows .row");
    await local.selectOption("#filter-class", faultyClass);
    await expect.poll(() => rowCount(local)).toBe(2);
    expect(await local.locator(".rows .row").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-mac")).sort())).toEqual([PAIR.faulty, PAIR.other]);
    await local.selectOption("#filter-class", "");

    // The classes view: both spellings under one class, the finding beside its outliers.
    await local.goto(`http://127.0.0.1:8080/#/classes/${faultyClass}`);
    const section = local.locator(`#class-${faultyClass}`);
    await section.waitFor();
    expect(await section.locator("h3").textContent()).toMatch(/2 nodes, \d+ outliers\s*1 critical/);
    expect(await section.textContent()).toContain("Dell Inc. PowerEdge R730XD | Dell Inc. PowerEdge R730xd");
    expect(await section.locator(`ul.health li[data-mac="${PAIR.faulty}"]`).textContent()).toMatch(/critical: uncorrectable ECC memory error/);
    await shot(local, "real-pair-class");
    await local.goto("http://127.0.0.1:8080/#/");
    await local.waitForSelector(".rows .row");
  });

  it("shows storage controllers with the RAID tool's virtual drives, and the disk read through the controller (#12)", async () => {
    await local.goto(`http://127.0.0.1:8080/#/node/${RAID_NODE.replace(/:/g, "-")}`);
    await local.waitForSelector("#node-detail");
    const controllers = local.locator("#storage-controllers");
    await controllers.waitFor();
    const text = (await controllers.textContent()) ?? "";
    // lspci's own controller with its kernel driver, and storcli's controller with its RAID6 volume.
    expect(text).toContain("megaraid_sas");
    expect(text).toContain("ServeRAID M5015 SAS/SATA Controller");
    expect(text).toMatch(/0\/0 RAID6 .*Optl/);
    const disk = local.locator("table tr", { hasText: "bus/0:megaraid,1" });
    expect(await disk.textContent()).toContain("RAID (-d megaraid,1)");
    await controllers.scrollIntoViewIfNeeded();
    await shot(local, "real-raid-storage");
    await local.goto("http://127.0.0.1:8080/#/");
    await local.waitForSelector(".rows .row");
  });

  it("shows hostile DMI strings as text: no script runs, no markup appears", async () => {
    await local.fill("#search", "evil");
    await expect.poll(() => rowCount(local)).toBe(1);
    const row = local.locator(".rows .row");
    expect(await row.locator(".col-vendor").textContent()).toContain(`Evil ${HOSTILE_TEXT}`);
    await row.click();
    await local.waitForSelector("#node-detail");
    const detail = await local.locator("#node-detail").textContent();
    expect(detail).toContain(HOSTILE_TEXT);
    expect(detail).toContain("<img src=x onerror=alert(2)>");
    expect(detail).toContain("<b>bold</b>");
    await shot(local, "node-hostile");
    const dom = await local.evaluate(() => ({
      scripts: document.querySelectorAll("script").length,
      images: document.querySelectorAll("img").length,
      boldFromData: [...document.querySelectorAll("b")].filter((b) => b.textContent === "bold").length,
    }));
    expect(dom).toEqual({ scripts: 1, images: 0, boldFromData: 0 });
    expect(dialogs).toEqual([]);
    await local.goto("http://127.0.0.1:8080/#/");
    await local.fill("#search", "");
    await expect.poll(() => rowCount(local)).toBe(fleet.length + realMacs.length);
  });

  it("shows a node's detail: LLDP per NIC, raw outputs, power buttons behind a confirmation that asks for the token", async () => {
    await local.goto(`http://127.0.0.1:8080/#/node/${realMacs[0]!.replace(/:/g, "-")}`);
    await local.waitForSelector("#node-detail");
    expect(await local.locator("#node-detail h3", { hasText: "LLDP" }).count()).toBe(1);
    await local.click('button[data-action="off"]');
    const dialog = local.locator("dialog#confirm");
    await dialog.waitFor({ state: "visible" });
    expect(await local.locator("#confirm-text").textContent()).toContain(`Power off node ${realMacs[0]}`);
    expect(await local.locator("#confirm-token").inputValue()).toBe("");
    await shot(local, "power-confirm");
    // Confirmed with a wrong token: the power API refuses, the dialog says so and stays open.
    await local.fill("#confirm-token", "wrong-token-0000000000");
    await local.click("#confirm-ok");
    await expect.poll(() => local.locator("#confirm-error").textContent()).toContain("not valid");
    // With the admin token the request passes the access check (this master has no BMCs configured).
    await local.fill("#confirm-token", (await readFile(join(dataDir, "admin-token"), "utf8")).trim());
    await local.click("#confirm-ok");
    await expect.poll(() => local.locator("#confirm-error").textContent()).not.toMatch(/not valid|^$/);
    await local.click("#confirm-cancel");
    await dialog.waitFor({ state: "hidden" });
    expect(await local.locator("#power-result").textContent()).toBe("");
  });

  it("updates a node's boot progress live when a new event arrives", async () => {
    await local.goto("http://127.0.0.1:8080/#/");
    await local.waitForSelector("body[data-live=yes]");
    const before = fleet.length + realMacs.length;
    await expect.poll(() => rowCount(local)).toBe(before);
    const secret = await readFile(join(dataDir, "secret"));
    const token = issueToken(secret, LIVE_MAC, "browsertest");
    const path = LIVE_MAC.replace(/:/g, "-");
    const hello = await curl(lab!.ns, [
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "-X",
      "POST",
      "-H",
      `Authorization: Bearer ${token}`,
      `http://127.0.0.1:8080/api/v1/nodes/${path}/hello`,
    ]);
    expect(hello.stdout).toBe("204");
    const row = local.locator(`.rows .row[data-mac="${LIVE_MAC}"]`);
    await row.waitFor();
    expect(await row.locator(".col-phase").textContent()).toContain("agent");
    expect(await rowCount(local)).toBe(before + 1);
    // Then its inventory arrives: a real captured upload, normalized by the master's review.
    const tarball = join(work, "upload.tar.gz");
    await writeFile(tarball, await packFiles(join(work, "agent"), Object.fromEntries(readFixtureFiles("vm-bios-dell"))));
    const upload = await curl(lab!.ns, [
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "-X",
      "POST",
      "-H",
      `Authorization: Bearer ${token}`,
      "-H",
      "Content-Type: application/gzip",
      "--data-binary",
      `@${tarball}`,
      `http://127.0.0.1:8080/api/v1/nodes/${path}/inventory`,
    ]);
    expect(upload.stdout).toBe("201");
    await expect.poll(() => row.locator(".col-phase").textContent(), { timeout: 10_000 }).toContain("uploaded");
    await expect.poll(() => row.locator(".col-vendor").textContent(), { timeout: 15_000 }).toMatch(/Dell/);
    await shot(local, "live-update");
  });

  it("draws a node's boot timeline and the fleet's minutes as pictures, from the timeline the master serves (#14 item 3)", async () => {
    const dir = TIMELINE_NODE.replace(/:/g, "-");
    // The master serves it as `timeline` (open, boot state only): here from the lab network.
    const served = JSON.parse((await curl(admin.ns, [`http://${MASTER}:8080/api/v1/nodes/${dir}`])).stdout) as { timeline: TimelineEntry[] };
    // Every phase once, in order (no error in this boot).
    expect(served.timeline.map((e) => e.phase)).toEqual(TIMELINE_PHASES.filter((p) => p !== "error"));
    // The live node's real upload (previous test) put its collection between its hello and the upload.
    const live = JSON.parse((await curl(lab!.ns, [`http://127.0.0.1:8080/api/v1/nodes/${LIVE_MAC.replace(/:/g, "-")}`])).stdout) as {
      timeline: TimelineEntry[];
    };
    expect(live.timeline.map((e) => e.phase)).toEqual(["hello", "collected", "upload"]);

    await local.goto(`http://127.0.0.1:8080/#/node/${dir}`);
    const picture = local.locator("#node-timeline");
    await picture.waitFor();
    const segments = picture.locator("g.tl-seg");
    expect(await segments.evaluateAll((gs) => gs.map((g) => g.getAttribute("data-phase")))).toEqual(served.timeline.slice(1).map((e) => e.phase));
    // Widths by duration: the 50 s image download is wider than the 2 s kernel; its text has the bytes and rate.
    const box = async (phase: string) => (await picture.locator(`g.tl-seg[data-phase="${phase}"] rect`).boundingBox())!;
    expect((await box("image-end")).width).toBeGreaterThan(20 * (await box("kernel")).width);
    expect(await picture.locator('g.tl-seg[data-phase="image-end"] text').textContent()).toBe("image 50 s, 1.2 GiB at 24.0 MiB/s");
    expect(await picture.locator('g.tl-seg[data-phase="collected"] text').textContent()).toBe("collect 1 min 02 s");
    const legend = local.locator("#node-timeline-legend");
    for (const label of [
      "first stage 2.0 s",
      "script 4.0 s",
      "kernel 2.0 s",
      "initrd 4.0 s",
      "to image 8.0 s",
      "agent hello 25 s",
      "upload 3.0 s",
      "off 15 s",
    ]) {
      expect(await legend.textContent()).toContain(label);
    }
    await picture.scrollIntoViewIfNeeded();
    await shot(local, "node-timeline");

    await local.goto("http://127.0.0.1:8080/#/");
    const fleetPicture = local.locator("#fleet-timeline-picture");
    await fleetPicture.waitFor();
    expect(await fleetPicture.locator("g.tl-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-row")))).toEqual(["median", "longest"]);
    const longest = fleetPicture.locator('g.tl-row[data-row="longest"]');
    const phases = await longest.locator("g.tl-seg").evaluateAll((gs) => gs.map((g) => g.getAttribute("data-phase")));
    expect(phases).toEqual(expect.arrayContaining(["script", "kernel", "image-end", "hello", "collected", "upload", "off"]));
    // Two nodes have an image-end: this one (50 s) and the torrent node (torrentBoot: 16 s to its web seed's last byte).
    expect(await longest.locator('g.tl-seg[data-phase="image-end"] title').textContent()).toBe("image: longest 50 s over 2 nodes");
    expect(await longest.locator('g.tl-seg[data-phase="image-end"] text').textContent()).toBe("image 50 s");
    expect(await fleetPicture.locator(".tl-row-label").allTextContents()).toEqual([expect.stringMatching(/^median /), expect.stringMatching(/^longest /)]);
    expect(await local.locator('#fleet-timeline-legend li[data-phase="image-end"]').textContent()).toBe("image: median 33 s, longest 50 s (2 nodes)");
    await shot(local, "fleet-timeline");
  });

  it("shows the link budget on the fleet page: nodes × image ÷ the master's link per transport, peer sharing as an estimate (#14 item 4)", async () => {
    // A fresh fleet page: away (the panel goes), then back (it is drawn from a new answer).
    await local.goto("http://127.0.0.1:8080/#/classes");
    await local.locator("#link-budget").waitFor({ state: "detached" });
    await local.goto("http://127.0.0.1:8080/#/");
    const panel = local.locator("#link-budget");
    await panel.locator("#link-budget-table").waitFor();
    const api = await curl(lab!.ns, ["http://127.0.0.1:8080/api/v1/fleet/link-budget"]);
    const budget = JSON.parse(api.stdout) as LinkBudget;
    const rows = (JSON.parse((await curl(lab!.ns, ["http://127.0.0.1:8080/api/v1/fleet"])).stdout) as { rows: unknown[] }).rows.length;
    // The master hands over its own ISO (the test tree's 4 KiB test.iso) and its boot interface (a veth
    // in the lab namespace: its speed as sysfs says, or an assumed 1 Gbit/s where it says none).
    expect(budget.nodes).toEqual({ count: rows, source: "nodes known" });
    expect(budget.image).toEqual({ label: "test", isoBytes: 4096, source: "iso" });
    expect(budget.link.mbit).toBeGreaterThan(0);
    const inputs = (await panel.locator("#link-budget-inputs").textContent()) ?? "";
    expect(inputs).toMatch(new RegExp(`^${rows} nodes \\(nodes known\\) × test ISO 4 KiB ÷ \\S+ ${budget.link.mbit} Mbit/s \\((from sysfs|assumed)\\)$`));
    const bytesPerSecond = (budget.link.mbit * 1e6) / 8;
    const cells = async (transport: string) => panel.locator(`#link-budget-table tbody tr[data-transport="${transport}"] td`).allTextContents();
    /** "5 min 02 s" / "42 s" / "4.5 s" back to seconds. */
    const secondsOf = (text: string) => {
      const m = /^(?:(\d+) min (\d+)|([\d.]+)) s$/.exec(text);
      expect(m, text).not.toBeNull();
      return m![3] !== undefined ? Number(m![3]) : Number(m![1]) * 60 + Number(m![2]);
    };
    const http = await cells("http");
    const nbd = await cells("nbd");
    expect([http[0], nbd[0]]).toEqual(["http", "nbd"]);
    // Over the master's link: nodes × bytes at the link's rate, as the figures shown.
    expect(secondsOf(http[3]!)).toBeCloseTo((rows * budget.image!.isoBytes) / bytesPerSecond, -0.5);
    expect(secondsOf(nbd[3]!)).toBeCloseTo((rows * Math.round(budget.image!.isoBytes * 0.24)) / bytesPerSecond, -0.5);
    expect(secondsOf(http[4]!)).toBeCloseTo(budget.transports[0]!.peerSharingSeconds, -0.5);
    expect(await panel.locator("#link-budget-peer-sharing").textContent()).toBe(
      `* estimate: peers sharing the image (peer assist, off in the site config: distribution.peerAssist), ideally N / log2 N faster: ×${budget.peerSharing.speedup} for ${rows} nodes.`,
    );
    // Beside the estimate, what this fleet's torrent node really got (torrentBoot): 210 of its 240 MiB from peers.
    expect(budget.peerSharing).toMatchObject({
      enabled: false,
      measured: { torrentNodes: 1, arrivedNodes: 1, fromMasterBytes: 30 * 1024 * 1024, fromPeersBytes: 210 * 1024 * 1024 },
    });
    expect(await panel.locator("#link-budget-peer-measured").textContent()).toBe(
      "Measured: 1 node fetched the image by BitTorrent; of the 1 whose image arrived, 210 MiB came from other peers and 30 MiB from the master (88 % from peers).",
    );
    expect(await panel.locator(".assumed").count()).toBe(budget.link.source === "assumed" ? 1 : 0);
    await panel.scrollIntoViewIfNeeded();
    await shot(local, "fleet-link-budget");
  });

  it("shows how much a node got from peers: in the fleet table and on its page (#14 item 5)", async () => {
    await local.goto("http://127.0.0.1:8080/#/");
    await local.fill("#search", TORRENT_NODE);
    const row = local.locator(`.rows .row[data-mac="${TORRENT_NODE}"]`);
    await row.waitFor();
    expect(await row.locator(".col-phase .delivery").textContent()).toBe(" 88 % peers");
    expect(await row.locator(".col-phase .delivery").getAttribute("title")).toBe(
      "image by BitTorrent: 210 MiB from peers, 30 MiB from the master (its web seed)",
    );
    await shot(local, "fleet-image-delivery");
    // Another node's boot came over HTTP: no such mark.
    await local.fill("#search", TIMELINE_NODE);
    await local.locator(`.rows .row[data-mac="${TIMELINE_NODE}"]`).waitFor();
    expect(await local.locator(`.rows .row[data-mac="${TIMELINE_NODE}"] .col-phase .delivery`).count()).toBe(0);
    await local.fill("#search", "");
    await local.goto(`http://127.0.0.1:8080/#/node/${TORRENT_NODE.replace(/:/g, "-")}`);
    const said = local.locator("#node-image-delivery");
    await said.waitFor();
    expect(await said.getAttribute("data-via")).toBe("torrent");
    expect(await said.textContent()).toBe("Image by BitTorrent (peer assist): 210 MiB from other peers, 30 MiB from the master, of 240 MiB.");
    await shot(local, "node-image-delivery");
    await local.goto(`http://127.0.0.1:8080/#/node/${TIMELINE_NODE.replace(/:/g, "-")}`);
    await local.locator("#node-image-delivery").waitFor();
    expect(await local.locator("#node-image-delivery").textContent()).toBe("Image over HTTP: 1.2 GiB from the master.");
  });

  it("asks a network client for the admin token before showing anything, and keeps it only in an HttpOnly cookie", async () => {
    const unauthorized = await curl(admin.ns, ["-o", "/dev/null", "-w", "%{http_code}", `http://${MASTER}:8080/api/v1/fleet`]);
    expect(unauthorized.stdout).toBe("401");
    const page = await openPage(await browserIn(admin.ns), `http://${MASTER}:8080/`);
    await page.waitForSelector("#login");
    expect(await page.locator(".rows .row").count()).toBe(0);
    await page.fill("#login-token", "not-the-token-000000");
    await page.click("#login button[type=submit]");
    await expect.poll(() => page.locator("#login .error").textContent()).toContain("not valid");
    await shot(page, "network-login");
    await page.fill("#login-token", (await readFile(join(dataDir, "admin-token"), "utf8")).trim());
    await page.click("#login button[type=submit]");
    await page.waitForSelector("body[data-ready=yes]");
    expect(await page.locator(".rows .row").count()).toBeGreaterThan(fleet.length);
    const csv = await curl(admin.ns, ["-o", "/dev/null", "-w", "%{http_code}", `http://${MASTER}:8080/export/csv`]);
    expect(csv.stdout).toBe("401");
    expect(dialogs).toEqual([]);

    // The token lives only in the HttpOnly cookie: nothing a page script can read holds it.
    const token = (await readFile(join(dataDir, "admin-token"), "utf8")).trim();
    const readable = await page.evaluate(() => JSON.stringify({ session: { ...sessionStorage }, local: { ...localStorage }, cookie: document.cookie }));
    expect(readable).toBe(JSON.stringify({ session: {}, local: {}, cookie: "" }));
    const cookies = await page.context().cookies();
    expect(cookies.map((c) => ({ name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite, value: c.value === encodeURIComponent(token) }))).toEqual([
      { name: "recon_admin", httpOnly: true, sameSite: "Strict", value: true },
    ]);

    // A power action in this session: the dialog asks no token (the cookie carries it) and the
    // request passes the access check (this master has no BMCs configured, so the BMC lookup fails).
    await page.goto(`http://${MASTER}:8080/#/node/${realMacs[0]!.replace(/:/g, "-")}`);
    await page.waitForSelector("#node-detail");
    await page.click('button[data-action="off"]');
    await page.locator("dialog#confirm").waitFor({ state: "visible" });
    expect(await page.locator("#confirm-token").isVisible()).toBe(false);
    expect(await page.locator("#confirm-session").isVisible()).toBe(true);
    await page.click("#confirm-ok");
    await expect.poll(() => page.locator("#confirm-error").textContent()).toMatch(/no BMC/);
    await page.click("#confirm-cancel");
    // The same cookie without the UI's header cannot act (CSRF).
    const forged = await curl(admin.ns, [
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "-X",
      "POST",
      "-H",
      `Cookie: recon_admin=${encodeURIComponent(token)}`,
      "-H",
      "Content-Type: application/json",
      "--data",
      '{"action":"off"}',
      `http://${MASTER}:8080/api/v1/nodes/${realMacs[0]!.replace(/:/g, "-")}/power`,
    ]);
    expect(forged.stdout).toBe("401");
    expect(dialogs).toEqual([]);
  });

  it("answers `recon nodes` over HTTP from a lab host only with the admin token (taken from RECON_TOKEN)", async () => {
    const token = (await readFile(join(dataDir, "admin-token"), "utf8")).trim();
    const run = (args: string[], env: Record<string, string>) =>
      execa(
        "ip",
        [
          "netns",
          "exec",
          admin.ns,
          "env",
          ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
          reconBin,
          "nodes",
          ...args,
          "--master",
          `http://${MASTER}:8080`,
        ],
        { reject: false, cwd: repoRoot },
      );
    const refused = await run(["list"], {});
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain("needs the admin token");
    const listed = await run(["list", "--json"], { RECON_TOKEN: token });
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as { nodes: Array<{ mac: string }> }).nodes.map((n) => n.mac)).toContain(LIVE_MAC);
    const shown = await run(["show", "52:54:00:01:00:02"], { RECON_TOKEN: token });
    expect(shown.stdout).toMatch(/DIMM missing in slot/);
    const out = join(work, "remote-export");
    const exported = await run(["export", "--format", "netbox", "--out", out], { RECON_TOKEN: token });
    expect(exported.exitCode, exported.stderr).toBe(0);
    expect(await readFile(join(out, "netbox", "05-devices.csv"), "utf8")).toMatch(/^name,role,manufacturer,device_type,status,site,serial/);
    expect((await run(["show", "52:54:00:99:99:99"], { RECON_TOKEN: token })).exitCode).toBe(1);
  });
});
