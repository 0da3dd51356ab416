/**
 * Memory of the master's processes for bench/fleet-sim: VmHWM (the kernel's peak resident set
 * since the process started) and VmRSS from /proc/<pid>/status, for the master's node process
 * and, separately, its nginx (master and workers) and dnsmasq. A sampler adds the peak of the
 * sum, which the per-process peaks cannot give (they need not happen at the same time).
 * Pure parser; the readers only read /proc. Bounded: the sampler stops at its deadline.
 */
import { readFile, readdir } from "node:fs/promises";

export interface ProcMemory {
  pid: number;
  name: string;
  /** Peak resident set (VmHWM), KiB. */
  peakKiB: number;
  /** Resident set now (VmRSS), KiB. */
  rssKiB: number;
}

/** /proc/<pid>/status → name, VmHWM, VmRSS (pure); undefined when a field is missing (kernel thread, zombie). */
export function parseProcStatus(pid: number, text: string): ProcMemory | undefined {
  const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, "m").exec(text)?.[1]?.trim();
  const kib = (name: string) => {
    const match = /^(\d+) kB$/.exec(field(name) ?? "");
    return match ? Number(match[1]) : undefined;
  };
  const name = field("Name");
  const peakKiB = kib("VmHWM");
  const rssKiB = kib("VmRSS");
  if (name === undefined || peakKiB === undefined || rssKiB === undefined) return undefined;
  return { pid, name, peakKiB, rssKiB };
}

export async function readProcMemory(pid: number): Promise<ProcMemory | undefined> {
  const text = await readFile(`/proc/${pid}/status`, "utf8").catch(() => undefined);
  return text === undefined ? undefined : parseProcStatus(pid, text);
}

/** `pid` and its children (nginx's workers; dnsmasq's TCP forks), from /proc/<pid>/task/<tid>/children. */
export async function withChildren(pid: number): Promise<number[]> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  const children = new Set<number>();
  for (const tid of tasks) {
    const text = await readFile(`/proc/${pid}/task/${tid}/children`, "utf8").catch(() => "");
    for (const child of text.split(/\s+/).filter(Boolean)) children.add(Number(child));
  }
  return [pid, ...children];
}

/** KiB → MB (10^6 bytes), one decimal. */
export function kibToMB(kib: number): number {
  return Math.round((kib * 1024) / 1e5) / 10;
}

export interface MemoryGroups {
  [group: string]: number[];
}

/** Peak (VmHWM) per process and per group, plus the sampler's peak of each group's summed RSS. */
export interface MemoryReport {
  [group: string]: { processes: { pid: number; name: string; peakMB: number }[]; peakMB: number; sampledPeakRssMB: number };
}

/**
 * Samples VmRSS of every group's processes every `everyMs` until stopped or `maxMs` passed;
 * `report()` reads VmHWM once more (call it while the processes still run).
 */
export function sampleMemory(groups: () => Promise<MemoryGroups>, options: { everyMs: number; maxMs: number }) {
  const sampledPeak = new Map<string, number>();
  let stopped = false;
  const deadline = Date.now() + options.maxMs;
  const sampleOnce = async () => {
    for (const [group, pids] of Object.entries(await groups())) {
      let sum = 0;
      for (const pid of pids) sum += (await readProcMemory(pid))?.rssKiB ?? 0;
      sampledPeak.set(group, Math.max(sampledPeak.get(group) ?? 0, sum));
    }
  };
  const loop = (async () => {
    while (!stopped && Date.now() < deadline) {
      await sampleOnce();
      await new Promise((r) => setTimeout(r, options.everyMs));
    }
  })();
  return {
    async report(): Promise<MemoryReport> {
      stopped = true;
      await loop;
      await sampleOnce();
      const out: MemoryReport = {};
      for (const [group, pids] of Object.entries(await groups())) {
        const processes = (await Promise.all(pids.map(readProcMemory))).filter((p): p is ProcMemory => p !== undefined);
        out[group] = {
          processes: processes.map((p) => ({ pid: p.pid, name: p.name, peakMB: kibToMB(p.peakKiB) })),
          peakMB: kibToMB(processes.reduce((sum, p) => sum + p.peakKiB, 0)),
          sampledPeakRssMB: kibToMB(sampledPeak.get(group) ?? 0),
        };
      }
      return out;
    },
  };
}
