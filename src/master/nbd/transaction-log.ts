/**
 * nbd-server's binary transaction log (`transactionlog =` in its config), parsed: how many bytes
 * an export really sent. Records are nbd.h's wire structs, big-endian (nbd-trdump.c reads the same):
 * a request (magic 0x25609513, type, handle[8], from u64, len u32: 28 bytes), a reply (magic
 * 0x67446698, error u32, handle[8]: 16 bytes) and a trace option (magic 0x25609514, request-shaped).
 * No data is logged unless the export's datalog flag is set (recon never sets it).
 *
 * nbd-server opens the log without O_APPEND or O_TRUNC for every client, so recon's prerun gives
 * each client a file of its own (nbd-config.ts) and an export's figures are the sum over them.
 */
const REQUEST_MAGIC = 0x25609513;
const REPLY_MAGIC = 0x67446698;
const TRACELOG_MAGIC = 0x25609514;
const REQUEST_BYTES = 28;
const REPLY_BYTES = 16;
/** nbd.h NBD_CMD_*; the upper 16 bits of type are flags (FUA, …). */
const CMD_READ = 0;
const CMD_WRITE = 1;
const CMD_DISC = 2;

export interface TransactionSummary {
  /** READ requests and the bytes they asked for (what the server sent as payload, when answered without error). */
  reads: number;
  readBytes: number;
  writes: number;
  writeBytes: number;
  /** Replies with a non-zero error. */
  errors: number;
  /** Bytes of READ requests answered with an error (not sent). */
  failedReadBytes: number;
  disconnects: number;
  /** The furthest byte any READ reached: how much of the export was touched at most. */
  highestReadEnd: number;
  /** Bytes at the end that are no whole record (a log being written, or cut). */
  trailingBytes: number;
}

function emptySummary(): TransactionSummary {
  return {
    reads: 0,
    readBytes: 0,
    writes: 0,
    writeBytes: 0,
    errors: 0,
    failedReadBytes: 0,
    disconnects: 0,
    highestReadEnd: 0,
    trailingBytes: 0,
  };
}

export function parseTransactionLog(log: Uint8Array): TransactionSummary {
  const view = new DataView(log.buffer, log.byteOffset, log.byteLength);
  const summary = emptySummary();
  // READ requests waiting for their reply, by handle: a read counts as sent once answered with error 0.
  const pendingReads = new Map<string, number>();
  const handleAt = (offset: number) => Buffer.from(log.subarray(offset, offset + 8)).toString("hex");
  let at = 0;
  while (at + 4 <= log.byteLength) {
    const magic = view.getUint32(at);
    if ((magic === REQUEST_MAGIC || magic === TRACELOG_MAGIC) && at + REQUEST_BYTES <= log.byteLength) {
      if (magic === REQUEST_MAGIC) {
        const command = view.getUint32(at + 4) & 0xffff;
        const from = Number(view.getBigUint64(at + 16));
        const length = view.getUint32(at + 24);
        if (command === CMD_READ) {
          summary.reads += 1;
          pendingReads.set(handleAt(at + 8), length);
          summary.highestReadEnd = Math.max(summary.highestReadEnd, from + length);
        } else if (command === CMD_WRITE) {
          summary.writes += 1;
          summary.writeBytes += length;
        } else if (command === CMD_DISC) {
          summary.disconnects += 1;
        }
      }
      at += REQUEST_BYTES;
    } else if (magic === REPLY_MAGIC && at + REPLY_BYTES <= log.byteLength) {
      const error = view.getUint32(at + 4);
      const handle = handleAt(at + 8);
      const length = pendingReads.get(handle);
      if (error !== 0) summary.errors += 1;
      if (length !== undefined) {
        pendingReads.delete(handle);
        if (error === 0) summary.readBytes += length;
        else summary.failedReadBytes += length;
      }
      at += REPLY_BYTES;
    } else {
      break;
    }
  }
  summary.trailingBytes = log.byteLength - at;
  return summary;
}

/** The figures of several clients' logs together (one export). */
export function sumTransactionSummaries(summaries: readonly TransactionSummary[]): TransactionSummary {
  const total = emptySummary();
  for (const s of summaries) {
    for (const key of ["reads", "readBytes", "writes", "writeBytes", "errors", "failedReadBytes", "disconnects", "trailingBytes"] as const) {
      total[key] += s[key];
    }
    total.highestReadEnd = Math.max(total.highestReadEnd, s.highestReadEnd);
  }
  return total;
}
