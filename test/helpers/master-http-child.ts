/**
 * The master HTTP service as its own process, for tests and benchmarks that must kill it
 * (`kill -9`) or keep its CPU apart from the client's. Run:
 *   node --import tsx test/helpers/master-http-child.ts <storeDir> <httpRoot> [maxConcurrentUploads]
 * Prints one JSON line `{"port":…,"pid":…,"recovery":{…}}` on stdout once listening on
 * 127.0.0.1. No secret on argv: the store creates it; the parent reads <storeDir>/secret.
 */
import { makeHttpTree, startTestMaster } from "./master-app.js";
import { existsSync } from "node:fs";
import { join } from "node:path";

const [storeDir, httpRoot, concurrency] = process.argv.slice(2);
if (storeDir === undefined || httpRoot === undefined) {
  process.stderr.write("usage: master-http-child.ts <storeDir> <httpRoot> [maxConcurrentUploads]\n");
  process.exit(2);
}
if (!existsSync(join(httpRoot, "isos"))) await makeHttpTree(httpRoot, 1024 * 1024);
const master = await startTestMaster({
  storeDir,
  httpRoot,
  ...(concurrency !== undefined && { limits: { maxConcurrentUploads: Number(concurrency) } }),
});
process.stdout.write(`${JSON.stringify({ port: master.port, pid: process.pid, recovery: master.store.recovery })}\n`);
process.on("SIGTERM", () => {
  void master.close().then(() => process.exit(0));
});
