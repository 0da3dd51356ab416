import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { aria2cArgs } from "../lib/aria2c.js";
import { createServer, type Server } from "node:http";
import type { CommandRunner, RunOptions } from "../lib/run.js";
import { askSwarmDone, copyLabel, findTorrentCopy, seederArgs, startSeeding } from "./seed.js";

const HANDLER = join(import.meta.dirname, "../../overlay/usr/lib/dracut/modules.d/95recon-torrent/recon-torrent-lib.sh");

describe("the node's seeder", () => {
  it("seeds the initrd's RAM copy as it is, bounded by recon.seed", () => {
    const copy = {
      dir: "/run/initramfs/recon-torrent",
      torrentPath: "/run/initramfs/recon-torrent/image.torrent",
      isoPath: "/run/initramfs/recon-torrent/debian-12.iso",
    };
    expect(seederArgs(copy, { timeS: 90, ratio: 3 }).join(" ")).toBe(
      "--dir=/run/initramfs/recon-torrent --seed-time=1.500 --seed-ratio=3 --bt-tracker-interval=5 --listen-port=6881 --enable-dht=false " +
        "--enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false --file-allocation=none --summary-interval=0 --enable-color=false " +
        "--on-bt-download-complete=/bin/echo --console-log-level=notice --download-result=hide --bt-stop-timeout=0 --bt-seed-unverified=true " +
        "/run/initramfs/recon-torrent/image.torrent",
    );
  });

  it("finds the torrent copy only when both the torrent and an ISO are there", async () => {
    const dir = await mkdtemp(join(tmpdir(), "recon-seed-"));
    try {
      expect(await findTorrentCopy(join(dir, "absent"))).toBeUndefined();
      await writeFile(join(dir, "image.torrent"), "d4:infod6:lengthi1eee");
      expect(await findTorrentCopy(dir)).toBeUndefined();
      await writeFile(join(dir, "debian-12.iso"), "x");
      expect(await findTorrentCopy(dir)).toEqual({ dir, torrentPath: join(dir, "image.torrent"), isoPath: join(dir, "debian-12.iso") });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("until the swarm is done", () => {
  /** A stand-in master on loopback answering GET /api/v1/swarm/<label> with `reply`. */
  async function master(reply: (url: string) => { status: number; body: string } | "hang"): Promise<{ url: string; server: Server; asked: string[] }> {
    const asked: string[] = [];
    const server = createServer((req, res) => {
      asked.push(req.url ?? "");
      const answer = reply(req.url ?? "");
      if (answer === "hang") return;
      res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address() as { port: number };
    return { url: `http://127.0.0.1:${address.port}`, server, asked };
  }

  it("askSwarmDone is true only for a 200 whose JSON says done: true; false for anything else, never throws", async () => {
    let answer: { status: number; body: string } | "hang" = { status: 200, body: '{"image":"debian-12","done":true}' };
    const m = await master(() => answer);
    try {
      expect(await askSwarmDone(m.url, "debian-12")).toBe(true);
      expect(m.asked).toEqual(["/api/v1/swarm/debian-12"]);
      answer = { status: 200, body: '{"done":false}' };
      expect(await askSwarmDone(m.url, "debian-12")).toBe(false);
      answer = { status: 200, body: '{"done":"true"}' };
      expect(await askSwarmDone(m.url, "debian-12")).toBe(false);
      answer = { status: 404, body: '{"done":true}' };
      expect(await askSwarmDone(m.url, "debian-12")).toBe(false);
      answer = { status: 200, body: "not json" };
      expect(await askSwarmDone(m.url, "debian-12")).toBe(false);
      answer = "hang";
      expect(await askSwarmDone(m.url, "debian-12", 300)).toBe(false);
    } finally {
      m.server.closeAllConnections();
      m.server.close();
    }
    // No master at all.
    expect(await askSwarmDone("http://127.0.0.1:9", "debian-12")).toBe(false);
    expect(copyLabel({ dir: "/d", torrentPath: "/d/image.torrent", isoPath: "/d/debian-12.iso" })).toBe("debian-12");
  });

  /** A runner whose "aria2c" runs until its signal aborts or `endAfterMs` passes (then exit 0, "Seeding is over"). */
  const fakeAria2c = (endAfterMs: number): CommandRunner => ({
    run: (command: string, args: string[], options?: RunOptions) =>
      new Promise((resolve) => {
        const timer = setTimeout(() => {
          options?.onLine?.("[NOTICE] Seeding is over.", "stdout");
          resolve({ command, args, exitCode: 0, stdout: "", stderr: "" });
        }, endAfterMs);
        options?.signal?.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve({ command, args, exitCode: 143, stdout: "", stderr: "" });
        });
      }),
  });
  const copy = { dir: "/d", torrentPath: "/d/image.torrent", isoPath: "/d/debian-12.iso" };

  it("ends seeding after two 'done' answers in a row and the minimum, not on one; the bound still holds without answers", async () => {
    const answers = [false, true, false, true, true, true];
    const lines: string[] = [];
    const started = Date.now();
    const outcome = await startSeeding(fakeAria2c(5000), copy, { timeS: 60, ratio: 4 }, (l) => lines.push(l), undefined, {
      isDone: async () => answers.shift() ?? true,
      everyMs: 50,
      minMs: 100,
    });
    expect(outcome.how).toBe("swarm-done");
    // The 5th answer is the second "done" in a row: about 5 × 50 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(lines.at(-1)).toMatch(/^seeding over after \d+ s: the master says no node still needs the image \(the swarm is done\)$/);
    // A master that never answers (isDone rejects): aria2c's own end stands.
    const failing = await startSeeding(fakeAria2c(300), copy, { timeS: 60, ratio: 4 }, () => undefined, undefined, {
      isDone: () => Promise.reject(new Error("no route")),
      everyMs: 20,
      minMs: 0,
    });
    expect(failing.how).toBe("over");
    // The agent's stop wins over the watch.
    const agentStop = new AbortController();
    setTimeout(() => agentStop.abort(), 50);
    const stopped = await startSeeding(fakeAria2c(5000), copy, { timeS: 60, ratio: 4 }, () => undefined, agentStop.signal, {
      isDone: async () => false,
      everyMs: 20,
      minMs: 0,
    });
    expect(stopped.how).toBe("stopped");
  });
});

describe("the initrd's handler (95recon-torrent)", () => {
  it("runs aria2c with aria2cArgs' options, except those a download-only fetch in the initrd sets otherwise", async () => {
    const script = await readFile(HANDLER, "utf8");
    const call = /\n\s*aria2c (.*?)"\$dir\/image\.torrent"/s.exec(script)?.[1];
    expect(call, "the aria2c call in recon-torrent-lib.sh").toBeDefined();
    const shell = new Map(
      call!
        .replace(/\\\n/g, " ")
        .trim()
        .split(/\s+/)
        .map((option) => option.split("=", 2) as [string, string]),
    );
    const node = new Map(
      aria2cArgs({ torrentPath: "t", dir: `"$dir"`, seedTimeS: 0, seedRatio: 0, stallTimeoutS: 120 })
        .slice(0, -1)
        .map((option) => option.split("=", 2) as [string, string]),
    );
    // Download only: no completion hook (aria2c exits when done); a progress line every 10 s on the console.
    const differs = { "--summary-interval": "10", "--on-bt-download-complete": undefined, "--seed-time": "0" };
    for (const [name, value] of node) {
      const expected = name in differs ? differs[name as keyof typeof differs] : value;
      expect(shell.get(name), name).toBe(expected);
    }
    expect([...shell.keys()].filter((name) => !node.has(name))).toEqual([]);
  });
});
