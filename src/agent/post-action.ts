/**
 * What a peer does once the master has acknowledged its upload (and never before): power off
 * (in-band through the BMC when /dev/ipmi0 exists, else a clean systemd poweroff), reboot, or
 * stay. The plan is pure; the runner is injected so tests observe it instead of acting, and the
 * real runner refuses to act outside the recon image.
 */
import type { PostAction } from "../model/peer-contract.js";
import type { CommandRunner } from "../lib/run.js";

export interface PostActionStep {
  argv: string[];
  description: string;
}

/** The commands to try in order (a later one only when the earlier failed); [] for stay. */
export function planPostAction(action: PostAction, facts: { ipmiDevice: boolean }): PostActionStep[] {
  switch (action) {
    case "stay":
      return [];
    case "reboot":
      return [{ argv: ["systemctl", "reboot"], description: "rebooting" }];
    case "poweroff": {
      const systemd = { argv: ["systemctl", "poweroff"], description: "powering off" };
      // The live system has nothing to flush: cutting power through the BMC is safe, and it is
      // the path that also works when the OS's ACPI poweroff is broken on a board.
      return facts.ipmiDevice
        ? [{ argv: ["ipmitool", "chassis", "power", "off"], description: "powering off through the BMC (ipmitool chassis power off)" }, systemd]
        : [systemd];
    }
  }
}

export interface ActionRunner {
  /** Runs one step; resolves true when it succeeded. */
  run(step: PostActionStep): Promise<boolean>;
}

/**
 * The real runner. `insideImage` must come from /etc/recon/build.json existing (only the recon
 * image has it): anywhere else the steps are reported and not run, so a developer or a test
 * running `recon agent` on a host never powers that host off.
 */
export function systemActionRunner(runner: CommandRunner, insideImage: boolean, report: (line: string) => void): ActionRunner {
  return {
    async run(step) {
      if (!insideImage) {
        report(`not inside the recon image (no /etc/recon/build.json): would run '${step.argv.join(" ")}', skipped`);
        return true;
      }
      const [command, ...args] = step.argv;
      const result = await runner.run(command!, args, { timeoutMs: 60_000 });
      if (result.exitCode !== 0)
        report(`'${step.argv.join(" ")}' failed (exit ${result.exitCode}): ${(result.stderr || result.stdout).trim().split("\n").slice(-3).join(" | ")}`);
      return result.exitCode === 0;
    },
  };
}

/** Runs the plan: each step until one succeeds. Returns the step that did, if any. */
export async function runPostAction(steps: PostActionStep[], runner: ActionRunner, report: (line: string) => void): Promise<PostActionStep | undefined> {
  for (const step of steps) {
    report(step.description);
    if (await runner.run(step)) return step;
  }
  return undefined;
}
