import { describe, expect, it } from "vitest";
import { createLogger } from "../../lib/log.js";
import type { CommandRunner, RunOptions, RunResult } from "../../lib/run.js";
import { DnsmasqStartError, dnsmasqArgs, explainDnsmasqFailure, restartDelayMs, superviseDnsmasq, type SupervisorEvent } from "./supervisor.js";

/** A scripted dnsmasq: each run prints its lines, then exits with `exitCode` or waits for abort. */
type Script = { lines: string[]; exitCode?: number };

function fakeRunner(scripts: Script[]): CommandRunner & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    async run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
      calls.push([command, ...args]);
      const script = scripts.shift() ?? { lines: [], exitCode: 5 };
      await new Promise((r) => setTimeout(r, 1));
      for (const line of script.lines) options.onLine?.(line, "stderr");
      if (script.exitCode === undefined) {
        await new Promise<void>((resolve) => {
          if (options.signal?.aborted) resolve();
          options.signal?.addEventListener("abort", () => resolve(), { once: true });
        });
        return { command, args, exitCode: 127, stdout: "", stderr: "Command was canceled\n" };
      }
      return { command, args, exitCode: script.exitCode, stdout: "", stderr: "" };
    },
  };
}

const STARTED = "dnsmasq[42]: started, version 2.90 DNS disabled";
const ACK = "dnsmasq-dhcp[42]: 2983732258 DHCPACK(rcnbr0) 10.77.0.185 52:54:00:aa:00:01 ";
const quiet = () => {
  const lines: string[] = [];
  return { lines, logger: createLogger({}, { level: "debug", write: (line) => lines.push(line) }) };
};

describe("dnsmasqArgs", () => {
  it("keeps dnsmasq in the foreground and logs to stderr", () => {
    expect(dnsmasqArgs("/run/recon/dnsmasq.conf")).toEqual(["--keep-in-foreground", "--log-facility=-", "--conf-file=/run/recon/dnsmasq.conf"]);
  });
});

describe("restartDelayMs", () => {
  it.each([
    [1, 500],
    [2, 1000],
    [3, 2000],
    [7, 30_000],
    [50, 30_000],
  ])("failure %i → %i ms", (failures, delay) => {
    expect(restartDelayMs(failures, { initialMs: 500, maxMs: 30_000 })).toBe(delay);
  });
});

describe("explainDnsmasqFailure (dnsmasq 2.90's own messages, seen in the lab)", () => {
  it.each([
    [2, "dnsmasq: failed to bind DHCP server socket: Address already in use", "port-in-use"],
    [2, "dnsmasq: failed to create listening socket for 10.77.0.1: Address already in use", "port-in-use"],
    [1, "dnsmasq: bad option at line 2 of d/bad.conf", "bad-config"],
    [2, "dnsmasq: unknown interface nosuch0", "unknown-interface"],
    [3, "dnsmasq: cannot read /nonexistent: No such file or directory", "file"],
  ] as const)("exit %i %s → %s", (exitCode, line, kind) => {
    expect(explainDnsmasqFailure(exitCode, ["", line, ""], "/x.conf")).toMatchObject({ kind, cause: line });
  });
  it("names the TFTP directory nobody can enter, not the last line (bench/lab.ts's run under a 0700 mkdtemp)", () => {
    // dnsmasq 2.90's two lines, as the master logged them.
    const lines = [
      "dnsmasq[2143]: TFTP directory /var/tmp/recon-bench-lab-BIuZC2/busybox/run/tftp inaccessible: Permission denied",
      "dnsmasq[2143]: FAILED to start up",
    ];
    const failure = explainDnsmasqFailure(3, lines, "/x.conf");
    expect(failure).toMatchObject({ kind: "file", cause: "TFTP directory /var/tmp/recon-bench-lab-BIuZC2/busybox/run/tftp inaccessible: Permission denied" });
    expect(failure.hint).toMatch(/o\+x/);
  });
});

describe("superviseDnsmasq", () => {
  it("fails fast with the cause when dnsmasq exits before it starts", async () => {
    const runner = fakeRunner([{ lines: ["", "dnsmasq: failed to bind DHCP server socket: Address already in use"], exitCode: 2 }]);
    const { logger } = quiet();
    const error = await superviseDnsmasq({ runner, confFile: "/c", logger, signal: new AbortController().signal }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DnsmasqStartError);
    expect(error).toMatchObject({ kind: "port-in-use", message: expect.stringContaining("Address already in use") });
  });

  it("fails fast when `started` never comes", async () => {
    const runner = fakeRunner([{ lines: ["something else"] }]);
    const error = await superviseDnsmasq({ runner, confFile: "/c", logger: quiet().logger, signal: new AbortController().signal, startTimeoutMs: 20 }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ message: expect.stringContaining('no "started" line') });
  });

  it("emits typed events and logfmt lines, runs under the wrapper, stops on abort", async () => {
    const runner = fakeRunner([{ lines: [STARTED, ACK, "dnsmasq-dhcp[42]: not a known line"] }]);
    const { lines, logger } = quiet();
    const events: SupervisorEvent[] = [];
    const stop = new AbortController();
    const supervisor = await superviseDnsmasq({
      runner,
      confFile: "/c",
      logger,
      signal: stop.signal,
      wrapper: ["ip", "netns", "exec", "rcn-x"],
      onEvent: (e) => events.push(e),
    });
    await new Promise((r) => setTimeout(r, 5));
    stop.abort();
    await supervisor.done;
    expect(runner.calls[0]).toEqual(["ip", "netns", "exec", "rcn-x", "dnsmasq", ...dnsmasqArgs("/c")]);
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(["started", "dnsmasq"]));
    const ack = events.find((e) => e.type === "dnsmasq");
    expect(ack).toMatchObject({ event: { kind: "dhcp", message: "ACK", mac: "52:54:00:aa:00:01", ip: "10.77.0.185" } });
    expect(lines.some((l) => /level=info component=dnsmasq msg=dhcp event=dhcp message=ACK .*ip=10\.77\.0\.185/.test(l))).toBe(true);
    expect(lines.some((l) => /level=debug .*line="dnsmasq-dhcp\[42\]: not a known line"/.test(l))).toBe(true);
    expect(supervisor.starts()).toBe(1);
  });

  it("survives a listener that throws", async () => {
    const runner = fakeRunner([{ lines: [STARTED, ACK, ACK] }]);
    const stop = new AbortController();
    const supervisor = await superviseDnsmasq({
      runner,
      confFile: "/c",
      logger: quiet().logger,
      signal: stop.signal,
      onEvent: () => {
        throw new Error("bad listener");
      },
    });
    stop.abort();
    await expect(supervisor.done).resolves.toBeUndefined();
  });

  it("restarts with backoff after dnsmasq dies", async () => {
    const runner = fakeRunner([{ lines: [STARTED], exitCode: 5 }, { lines: [STARTED] }]);
    const events: SupervisorEvent[] = [];
    const stop = new AbortController();
    const supervisor = await superviseDnsmasq({
      runner,
      confFile: "/c",
      logger: quiet().logger,
      signal: stop.signal,
      onEvent: (e) => events.push(e),
      backoff: { initialMs: 10 },
    });
    for (let i = 0; i < 100 && supervisor.starts() < 2; i += 1) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 10));
    stop.abort();
    await supervisor.done;
    expect(supervisor.starts()).toBe(2);
    expect(events.filter((e) => e.type === "started")).toHaveLength(2);
    expect(events.find((e) => e.type === "exited")).toMatchObject({ exitCode: 5, restartInMs: 10 });
  });

  it("gives up after maxRestarts consecutive failures", async () => {
    const runner = fakeRunner(Array.from({ length: 5 }, () => ({ lines: [STARTED, "dnsmasq: something broke"], exitCode: 5 })));
    const events: SupervisorEvent[] = [];
    const supervisor = await superviseDnsmasq({
      runner,
      confFile: "/c",
      logger: quiet().logger,
      signal: new AbortController().signal,
      onEvent: (e) => events.push(e),
      backoff: { initialMs: 1, maxRestarts: 2 },
    });
    await expect(supervisor.done).rejects.toThrow(/keeps exiting \(3 runs, last: dnsmasq: something broke\)/);
    expect(events.at(-1)).toMatchObject({ type: "gave-up", runs: 3 });
  });
});
