import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createLogger } from "../lib/log.js";
import { EMPTY_FLEET } from "../model/node-state.js";
import { adminTokenFingerprint } from "../review/access.js";
import { createReviewService } from "./review-service.js";

describe("review service start", () => {
  it("shows the admin token on the console device only, logs its fingerprint, keeps it across restarts", async () => {
    const dir = await mkdtemp(join(tmpdir(), "recon-review-service-"));
    try {
      const consoleFile = join(dir, "console");
      await writeFile(consoleFile, "");
      const lines: string[] = [];
      const log = createLogger({}, { write: (line) => lines.push(line) });
      const first = await createReviewService({ dataDir: dir, fleet: () => EMPTY_FLEET, log, announce: consoleFile, url: "http://10.0.0.1/" });
      first.close();
      const token = (await readFile(join(dir, "admin-token"), "utf8")).trim();
      const shown = await readFile(consoleFile, "utf8");
      expect(shown).toContain(token);
      expect(shown).toContain("http://10.0.0.1/");
      expect(lines.join("\n")).not.toContain(token);
      expect(lines.join("\n")).toContain(`fingerprint=${adminTokenFingerprint(token)}`);
      expect(lines.join("\n")).toContain('msg="admin token created"');
      const again = await createReviewService({ dataDir: dir, fleet: () => EMPTY_FLEET, log, announce: "none" });
      again.close();
      expect((await readFile(join(dir, "admin-token"), "utf8")).trim()).toBe(token);
      expect(lines.at(-1)).toContain('msg="admin token loaded"');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
