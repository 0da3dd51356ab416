import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { EMBEDDED_PATH, readStaticFiles, renderEmbeddedModule } from "./embed.js";

describe("embedded UI", () => {
  it("embedded.ts matches static/ (run `npx tsx src/review/ui/embed.ts` after editing the UI)", async () => {
    expect(await readFile(EMBEDDED_PATH, "utf8")).toBe(renderEmbeddedModule(await readStaticFiles()));
  });

  it("the UI code never writes markup from data", async () => {
    const app = (await readStaticFiles()).get("app.js")!;
    // Comments may name the forbidden APIs; the code may not use them.
    const code = app.replace(/\/\/.*$/gm, "").replace(/\/\*[\s\S]*?\*\//g, "");
    for (const sink of ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"]) expect(code).not.toContain(sink);
  });
});
