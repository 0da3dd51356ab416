/**
 * An address from the site's DHCP server when nobody configured one (the usual case in a data
 * centre, where recon then serves proxyDHCP beside that server). ISC dhclient is on the image
 * (Debian's dracut-network needs it). recon's own script takes the address only: routes and
 * resolv.conf stay untouched.
 */
import { join } from "node:path";
import { chmod, readFile, writeFile } from "node:fs/promises";
import type { CommandRunner } from "../../lib/run.js";

export const DHCLIENT_SCRIPT = `#!/bin/sh
# recon: take the leased address only; routes and DNS stay as they are.
case "$reason" in
  BOUND|RENEW|REBIND|REBOOT)
    if [ -n "$old_ip_address" ] && [ "$old_ip_address" != "$new_ip_address" ]; then
      ip addr del "$old_ip_address/$old_subnet_mask" dev "$interface" 2>/dev/null
    fi
    ip addr replace "$new_ip_address/$new_subnet_mask" dev "$interface"
    ;;
  EXPIRE|FAIL|RELEASE|STOP)
    if [ -n "$old_ip_address" ]; then ip addr del "$old_ip_address/$old_subnet_mask" dev "$interface" 2>/dev/null; fi
    ;;
esac
exit 0
`;

/** dhclient.conf: answer within `timeoutS` or give up (the caller falls back to a default subnet). */
export function dhclientConf(timeoutS: number): string {
  return `timeout ${timeoutS};\nretry 60;\nrequest subnet-mask, broadcast-address;\n`;
}

export interface DhclientPaths {
  script: string;
  conf: string;
  pidFile: string;
  leaseFile: string;
}

export function dhclientPaths(runDir: string): DhclientPaths {
  return {
    script: join(runDir, "dhclient-script"),
    conf: join(runDir, "dhclient.conf"),
    pidFile: join(runDir, "dhclient.pid"),
    leaseFile: join(runDir, "dhclient.leases"),
  };
}

/** `-1`: one try, exit 2 without a lease; with one it stays in the background to renew it. */
export function dhclientArgs(paths: DhclientPaths, iface: string): string[] {
  return ["-1", "-v", "-sf", paths.script, "-cf", paths.conf, "-pf", paths.pidFile, "-lf", paths.leaseFile, iface];
}

export async function acquireLease(runner: CommandRunner, runDir: string, iface: string, timeoutS: number): Promise<boolean> {
  const paths = dhclientPaths(runDir);
  await writeFile(paths.script, DHCLIENT_SCRIPT);
  await chmod(paths.script, 0o755);
  await writeFile(paths.conf, dhclientConf(timeoutS));
  const result = await runner.run("dhclient", dhclientArgs(paths, iface), { timeoutMs: (timeoutS + 10) * 1000 });
  return result.exitCode === 0;
}

/** Stops the dhclient recon started (by the PID in its own pid file) and releases nothing. */
export async function stopDhclient(runDir: string): Promise<void> {
  const pid = Number((await readFile(dhclientPaths(runDir).pidFile, "utf8").catch(() => "")).trim());
  if (Number.isInteger(pid) && pid > 1) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
}
