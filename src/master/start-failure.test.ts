import { describe, expect, it } from "vitest";
import { ReconError } from "../lib/errors.js";
import { classifyStartFailure, renderStartFailureBanner } from "./start-failure.js";

describe("start failure banner", () => {
  it("a store in use needs a person: exit 3 (no restart) and says what to do", () => {
    const error = new ReconError(
      "LOCKED",
      "another recon master is using the store /var/lib/recon: the store /var/lib/recon is locked by process 812 on recon (since 2026-12-01T20:00:00.000Z), still after 0 s (/var/lib/recon/master.lock)",
      {
        hint: "another recon master runs on this data directory right now: stop it first (master.lock names it), or give this one another --data-dir",
      },
    );
    const failure = classifyStartFailure(error);
    expect(failure).toMatchObject({ exitCode: 3, retried: false });
    expect(renderStartFailureBanner(failure).join("\n")).toBe(`${"=".repeat(72)}
RECON MASTER CANNOT START
what failed: another recon master is using the store /var/lib/recon: the store /var/lib/recon is locked by process 812 on recon (since 2026-12-01T20:00:00.000Z), still after 0 s (/var/lib/recon/master.lock)
what to do:  another recon master runs on this data directory right now: stop it first (master.lock names it), or give this one another --data-dir
recon will not retry by itself: this needs a person. After fixing it: systemctl restart recon
full log: journalctl -u recon -b
${"=".repeat(72)}`);
  });

  it("an unexpected failure is retried by systemd, boundedly, and says so", () => {
    const failure = classifyStartFailure(new Error("EIO: i/o error, write"));
    expect(failure).toEqual({ message: "EIO: i/o error, write", hint: undefined, exitCode: 1, retried: true });
    expect(renderStartFailureBanner(failure)[3]).toBe("what to do:  read the log (journalctl -u recon), fix the cause, then: systemctl restart recon");
    expect(renderStartFailureBanner(failure)[4]).toBe("recon.service tries again in 10 s, at most 3 times in 10 minutes; then it stays stopped.");
  });

  it("data partition and config problems need a person too", () => {
    expect(classifyStartFailure(new ReconError("DATA_PARTITION", "x")).exitCode).toBe(3);
    expect(classifyStartFailure(new ReconError("CONFIG_INVALID", "x")).exitCode).toBe(3);
    expect(classifyStartFailure(new ReconError("IO", "x")).exitCode).toBe(1);
  });
});
