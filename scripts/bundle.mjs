// Bundles src/cli.ts into one ESM file for the image's Node.js 18 (dist/recon.mjs).
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outfile = process.argv[2] ?? join(root, "dist", "recon.mjs");
await build({
  entryPoints: [join(root, "src", "cli.ts")],
  outfile,
  bundle: true,
  platform: "node",
  target: "node18",
  format: "esm",
  minify: false,
  legalComments: "none",
  // CommonJS dependencies (xml2js, express) call require() for Node built-ins.
  banner: { js: "import { createRequire as __reconRequire } from 'node:module';\nconst require = __reconRequire(import.meta.url);" },
  logLevel: "warning",
});
console.log(outfile);
