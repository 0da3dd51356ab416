import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseTransactionLog, sumTransactionSummaries } from "./transaction-log.js";

const fixture = (name: string) => new URL(`../../../test/fixtures/nbd/${name}`, import.meta.url);

/** nbd-trdump's own text: READ requests' lengths summed, answered or not (its output has no pairing). */
function readsFromTrdump(text: string): { reads: number; bytes: number; disconnects: number } {
  let reads = 0;
  let bytes = 0;
  let disconnects = 0;
  for (const line of text.split("\n")) {
    const match = /^> H=\w+ C=0x\w+ \(\s*(\w+)\+\s*\w+\) O=\w+ L=([0-9a-f]+)/.exec(line);
    if (match?.[1] === "NBD_CMD_READ") {
      reads += 1;
      bytes += Number.parseInt(match[2] ?? "0", 16);
    }
    if (match?.[1] === "NBD_CMD_DISC") disconnects += 1;
  }
  return { reads, bytes, disconnects };
}

describe("parseTransactionLog", () => {
  it("reads a real nbd-server 3.24 log as nbd-trdump does: a whole 10 MiB export read once", () => {
    const log = readFileSync(fixture("nbdcopy-10MiB.trlog"));
    const trdump = readsFromTrdump(readFileSync(fixture("nbdcopy-10MiB.trdump.txt"), "utf8"));
    const summary = parseTransactionLog(log);
    expect(summary.reads).toBe(trdump.reads);
    expect(summary.readBytes).toBe(trdump.bytes);
    expect(summary.disconnects).toBe(trdump.disconnects);
    // nbdcopy read the whole export: its size, 10 MiB, is the furthest byte reached.
    expect(summary.highestReadEnd).toBe(10 * 1024 * 1024);
    expect(summary.readBytes).toBe(10 * 1024 * 1024);
    expect({ errors: summary.errors, writes: summary.writes, trailing: summary.trailingBytes }).toEqual({ errors: 0, writes: 0, trailing: 0 });
  });

  it("counts nothing of a cut record and says how many bytes it left", () => {
    const log = readFileSync(fixture("nbdcopy-10MiB.trlog"));
    const cut = parseTransactionLog(log.subarray(0, log.byteLength - 5));
    expect(cut.trailingBytes).toBeGreaterThan(0);
    expect(cut.readBytes).toBeLessThanOrEqual(10 * 1024 * 1024);
    expect(parseTransactionLog(new Uint8Array(0))).toMatchObject({ reads: 0, readBytes: 0, trailingBytes: 0 });
  });

  it("sums several clients' logs of one export (one file per client)", () => {
    const one = parseTransactionLog(readFileSync(fixture("nbdcopy-10MiB.trlog")));
    const total = sumTransactionSummaries([one, one, parseTransactionLog(new Uint8Array(0))]);
    expect(total).toMatchObject({ reads: 2 * one.reads, readBytes: 20 * 1024 * 1024, disconnects: 2 * one.disconnects, highestReadEnd: 10 * 1024 * 1024 });
  });
});
