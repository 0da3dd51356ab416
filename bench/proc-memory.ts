/**
 * Memory of the master's processes for bench/fleet-sim: VmHWM (the kernel's peak resident set
 * since the process started) and VmRSS from /proc/<pid>/status, for the master's node process
 * and, separately, its nginx (master and workers) and dnsmasq. A sampler adds the peak of the
 * sum, which the per-process peaks cannot give (they need not happen at the same time), and the
 * CPU time each group used while sampled (utime + stime from /proc/<pid>/stat), beside the whole
 * machine's busy time (/proc/stat): where a fleet's CPU goes on this 2-core host.
 * Pure parsers; the readers only read /proc, synchronously (microseconds each): an async read
 * waits for libuv's thread pool, which a busy bench can delay by seconds, and the first sample
 * must be taken when the sampler starts. Bounded: the sampler stops at its deadline.
 */
import { readFileSync, readdirSync } from "node:fs";

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

/** USER_HZ: the unit of /proc's CPU times (100 on Linux x86 and arm64). */
const TICKS_PER_S = 100;

/** /proc/<pid>/stat → utime + stime in ticks (pure); the name in parentheses may hold spaces. */
export function parseProcStatCpu(text: string): number | undefined {
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // After the name: state is field 3, utime 14 and stime 15 (proc(5)).
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? utime + stime : undefined;
}

/** /proc/stat's `cpu` line → busy and total ticks of all CPUs (pure); idle and iowait are not busy. */
export function parseMachineCpu(text: string): { busy: number; total: number } | undefined {
  const line = /^cpu\s+(.+)$/m.exec(text)?.[1];
  if (line === undefined) return undefined;
  // user nice system idle iowait irq softirq steal (guest and guest_nice are inside user and nice).
  const values = line.trim().split(/\s+/).slice(0, 8).map(Number);
  const total = values.reduce((sum, v) => sum + v, 0);
  return { busy: total - (values[3] ?? 0) - (values[4] ?? 0), total };
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function readCpuTicks(pid: number): number | undefined {
  const text = readProc(`/proc/${pid}/stat`);
  return text === undefined ? undefined : parseProcStatCpu(text);
}

export function readProcMemory(pid: number): ProcMemory | undefined {
  const text = readProc(`/proc/${pid}/status`);
  return text === undefined ? undefined : parseProcStatus(pid, text);
}

/** `pid` and its children (nginx's workers; dnsmasq's TCP forks), from /proc/<pid>/task/<tid>/children. */
export function withChildren(pid: number): number[] {
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const children = new Set<number>();
  for (const tid of tasks) {
    const text = readProc(`/proc/${pid}/task/${tid}/children`) ?? "";
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
  [group: string]: {
    processes: { pid: number; name: string; peakMB: number }[];
    peakMB: number;
    sampledPeakRssMB: number;
    cpuS: number;
    /**
     * The group's summed RSS, MB, the highest sample in each `timelineEveryMs` slice since the
     * sampler started; null: no sample in that slice (this process got no CPU in time: with 400
     * peer processes on 2 cores its timers ran up to ~70 s late). VmHWM is the kernel's and has no gaps.
     */
    rssTimelineMB: (number | null)[];
  };
}

/** CPU seconds while sampled: the whole machine's busy time, of all its cores together. */
export interface MachineCpu {
  wallS: number;
  busyCpuS: number;
  cores: number;
}

/**
 * Samples VmRSS of every group's processes every `everyMs` until stopped or `maxMs` passed;
 * `report()` reads VmHWM once more (call it while the processes still run).
 */
export function sampleMemory(groups: () => MemoryGroups, options: { everyMs: number; maxMs: number; timelineEveryMs: number }) {
  const sampledPeak = new Map<string, number>();
  const timeline = new Map<string, number[]>();
  // Ticks each PID had when first seen: a group's CPU is what its processes used since.
  const firstTicks = new Map<number, number>();
  const lastTicks = new Map<number, number>();
  const startedMs = Date.now();
  const machineAtStart = parseMachineCpu(readProc("/proc/stat") ?? "");
  let stopped = false;
  const deadline = Date.now() + options.maxMs;
  const sampleOnce = () => {
    for (const [group, pids] of Object.entries(groups())) {
      let sum = 0;
      for (const pid of pids) {
        sum += readProcMemory(pid)?.rssKiB ?? 0;
        const ticks = readCpuTicks(pid);
        if (ticks === undefined) continue;
        if (!firstTicks.has(pid)) firstTicks.set(pid, ticks);
        lastTicks.set(pid, ticks);
      }
      sampledPeak.set(group, Math.max(sampledPeak.get(group) ?? 0, sum));
      const slices = timeline.get(group) ?? [];
      const slice = Math.floor((Date.now() - startedMs) / options.timelineEveryMs);
      while (slices.length <= slice) slices.push(-1);
      slices[slice] = Math.max(slices[slice]!, sum);
      timeline.set(group, slices);
    }
  };
  sampleOnce();
  const loop = (async () => {
    while (!stopped && Date.now() < deadline) {
      sampleOnce();
      await new Promise((r) => setTimeout(r, options.everyMs));
    }
  })();
  return {
    async report(): Promise<{ groups: MemoryReport; machine: MachineCpu }> {
      stopped = true;
      await loop;
      sampleOnce();
      const start = machineAtStart;
      const stat = readProc("/proc/stat") ?? "";
      const end = parseMachineCpu(stat);
      const cores = stat.split("\n").filter((l) => /^cpu\d+ /.test(l)).length;
      const machine: MachineCpu = {
        wallS: Math.round((Date.now() - startedMs) / 100) / 10,
        busyCpuS: start && end ? Math.round((end.busy - start.busy) / (TICKS_PER_S / 10)) / 10 : NaN,
        cores,
      };
      const out: MemoryReport = {};
      for (const [group, pids] of Object.entries(groups())) {
        const processes = pids.map(readProcMemory).filter((p): p is ProcMemory => p !== undefined);
        out[group] = {
          processes: processes.map((p) => ({ pid: p.pid, name: p.name, peakMB: kibToMB(p.peakKiB) })),
          peakMB: kibToMB(processes.reduce((sum, p) => sum + p.peakKiB, 0)),
          sampledPeakRssMB: kibToMB(sampledPeak.get(group) ?? 0),
          rssTimelineMB: (timeline.get(group) ?? []).map((kib) => (kib < 0 ? null : kibToMB(kib))),
          cpuS: Math.round(pids.reduce((sum, pid) => sum + (lastTicks.get(pid) ?? 0) - (firstTicks.get(pid) ?? 0), 0) / (TICKS_PER_S / 10)) / 10,
        };
      }
      return { groups: out, machine };
    },
  };
}
