import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { CommandRunner, RunOptions, RunResult } from "../lib/run.js";
import { classifyIpmitoolResult, createIpmiClient, ipmitoolArgs, ipmitoolDiagnostic, IpmiError, type BmcTarget } from "./ipmitool.js";

const fixture = (name: string) => readFileSync(join(import.meta.dirname, "../../test/fixtures/ipmi", name), "utf8");
const secret = (value: string) => ({ reveal: () => value, toString: () => "[redacted]" });
const bmc: BmcTarget = { address: "10.77.0.201", username: "admin", password: secret("s3cret-pw"), name: "peer1" };

describe("ipmitoolArgs", () => {
  it("builds lanplus with the suite, -E and the password only in the environment", () => {
    const { args, env } = ipmitoolArgs(bmc, ["chassis", "power", "status"], { cipherSuite: 17 });
    expect(args).toEqual(["-I", "lanplus", "-H", "10.77.0.201", "-U", "admin", "-E", "-C", "17", "-N", "2", "-R", "2", "-v", "chassis", "power", "status"]);
    expect(env).toEqual({ IPMI_PASSWORD: "s3cret-pw" });
    expect(args.join(" ")).not.toContain("s3cret");
  });

  it("uses -f for a password file and a non-default port", () => {
    const { args, env } = ipmitoolArgs({ address: "bmc-1.example", port: 6230, username: "root", passwordFile: "/etc/recon/bmc.pw" }, ["mc", "info"], {
      cipherSuite: 3,
      requestTimeoutS: 1,
      requestRetries: 0,
    });
    expect(args).toEqual([
      "-I",
      "lanplus",
      "-H",
      "bmc-1.example",
      "-p",
      "6230",
      "-U",
      "root",
      "-f",
      "/etc/recon/bmc.pw",
      "-C",
      "3",
      "-N",
      "1",
      "-R",
      "0",
      "-v",
      "mc",
      "info",
    ]);
    expect(env).toEqual({});
  });

  it("refuses a target without a password, with both, or with an address that could be an option", () => {
    expect(() => ipmitoolArgs({ address: "10.0.0.1", username: "a" }, ["mc", "info"], { cipherSuite: 3 })).toThrow(/no password or passwordFile/);
    expect(() => ipmitoolArgs({ ...bmc, passwordFile: "/x" }, ["mc", "info"], { cipherSuite: 3 })).toThrow(/not both/);
    expect(() => ipmitoolArgs({ ...bmc, address: "-H x" }, ["mc", "info"], { cipherSuite: 3 })).toThrow(/not a host name/);
    expect(() => ipmitoolArgs({ ...bmc, username: "has space" }, ["mc", "info"], { cipherSuite: 3 })).toThrow(/username/);
  });
});

describe("classifyIpmitoolResult on real stderr", () => {
  const failed = (stderr: string, exitCode = 1) => classifyIpmitoolResult({ exitCode, stderr, stdout: "" });
  it.each([
    ["ipmi-sim.wrong-password.stderr.txt", "AUTH"],
    ["ipmi-sim.unknown-user.stderr.txt", "AUTH"],
    ["ipmi-sim.cipher-17.stderr.txt", "CIPHER"],
    ["unreachable.stderr.txt", "UNREACHABLE"],
    ["no-route.stderr.txt", "UNREACHABLE"],
    ["unknown-host.stderr.txt", "UNREACHABLE"],
  ])("%s → %s", (name, expected) => {
    expect(failed(fixture(name))).toBe(expected);
  });

  it("exit 0 with a failed boot parameter is UNSUPPORTED; exit 0 with -v chatter is success", () => {
    expect(failed(fixture("ipmi-sim.bootdev-pxe-unsupported.stderr.txt"), 0)).toBe("UNSUPPORTED");
    expect(
      classifyIpmitoolResult({
        exitCode: 0,
        stdout: "Chassis Power is on\n",
        stderr: "Loading IANA PEN Registry...\nInvalid completion code received: Invalid command\n",
      }),
    ).toBeUndefined();
  });

  it("a runner timeout is TIMEOUT; an unknown message is FAILED", () => {
    expect(failed("Command timed out after 20000 milliseconds: ipmitool …\n", 124)).toBe("TIMEOUT");
    expect(failed("something new\n")).toBe("FAILED");
  });

  it("the diagnostic drops -v chatter", () => {
    expect(ipmitoolDiagnostic(fixture("ipmi-sim.wrong-password.stderr.txt"))).toBe(
      "RAKP 2 HMAC is invalid; Error: Unable to establish IPMI v2 / RMCP+ session",
    );
  });
});

/** Answers from a script of results keyed by the `-C` suite; records every call. */
function scriptedRunner(answer: (suite: string, args: string[]) => Partial<RunResult>) {
  const calls: Array<{ args: string[]; options: RunOptions | undefined }> = [];
  const runner: CommandRunner = {
    async run(command, args, options) {
      calls.push({ args: [command, ...args], options });
      const suite = args[args.indexOf("-C") + 1]!;
      return { command, args, exitCode: 0, stdout: "", stderr: "", ...answer(suite, args) };
    },
  };
  return { runner, calls };
}

describe("createIpmiClient (pure logic, scripted runner)", () => {
  it("falls back from suite 17 to 3 when 17 is refused, then remembers 3", async () => {
    const { runner, calls } = scriptedRunner((suite) =>
      suite === "17" ? { exitCode: 1, stderr: fixture("ipmi-sim.cipher-17.stderr.txt") } : { stdout: fixture("ipmi-sim.power-status-on.txt") },
    );
    const client = createIpmiClient({ runner });
    expect(await client.powerStatus(bmc)).toBe("on");
    expect(await client.powerStatus(bmc)).toBe("on");
    expect(calls.map((c) => c.args[c.args.indexOf("-C") + 1])).toEqual(["17", "3", "3"]);
    expect(calls[0]!.options?.env).toEqual({ IPMI_PASSWORD: "s3cret-pw" });
  });

  it("does not retry bad credentials, and names the BMC and the class", async () => {
    const { runner, calls } = scriptedRunner(() => ({ exitCode: 1, stderr: fixture("ipmi-sim.wrong-password.stderr.txt") }));
    const error = await createIpmiClient({ runner })
      .power(bmc, "on")
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IpmiError);
    expect((error as IpmiError).failure).toBe("AUTH");
    expect((error as IpmiError).message).toBe(
      "BMC peer1 (10.77.0.201): chassis power on failed (AUTH): RAKP 2 HMAC is invalid; Error: Unable to establish IPMI v2 / RMCP+ session",
    );
    expect(calls).toHaveLength(1);
  });

  it("retries silence a bounded number of times per suite", async () => {
    const { runner, calls } = scriptedRunner(() => ({ exitCode: 1, stderr: fixture("unreachable.stderr.txt") }));
    const error = await createIpmiClient({ runner, attempts: 3, retryDelayMs: 1 })
      .powerStatus(bmc)
      .catch((e: unknown) => e);
    expect((error as IpmiError).failure).toBe("UNREACHABLE");
    expect(calls).toHaveLength(3);
  });

  it("bootdev pxe on a BMC without it is UNSUPPORTED", async () => {
    const { runner } = scriptedRunner(() => ({ exitCode: 0, stderr: fixture("ipmi-sim.bootdev-pxe-unsupported.stderr.txt") }));
    const error = await createIpmiClient({ runner })
      .bootdevPxe(bmc)
      .catch((e: unknown) => e);
    expect((error as IpmiError).failure).toBe("UNSUPPORTED");
    expect((error as IpmiError).httpStatus).toBe(501);
  });
});
