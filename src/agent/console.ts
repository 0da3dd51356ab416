/**
 * Status lines for the people in front of the machine. stdout goes to the journal and to
 * /dev/console (recon.service: StandardOutput=journal+console), which is only the *last*
 * `console=` of the kernel command line — usually the serial port. The other of tty1 and ttyS0
 * gets a copy here, so the screen and the serial line both show what the agent is doing.
 */
import { closeSync, constants, openSync, writeSync } from "node:fs";
import { cmdlineValue } from "../model/kernel-cmdline.js";

const CONSOLES = ["tty1", "ttyS0"];

/** The device /dev/console writes to: the last console= (tty0 = the foreground VT, tty1 at boot). */
export function preferredConsole(args: Map<string, string[]>): string | undefined {
  const value = cmdlineValue(args, "console");
  if (value === undefined) return undefined;
  const name = value.split(",")[0]!;
  return name === "tty0" ? "tty1" : name;
}

/** Devices to copy status lines to: tty1 and ttyS0, except the one stdout reaches already. */
export function mirrorConsoles(args: Map<string, string[]>): string[] {
  const preferred = preferredConsole(args);
  // No console= at all: the kernel's default console is the VT, which /dev/console reaches.
  const already = preferred ?? "tty1";
  return CONSOLES.filter((name) => name !== already).map((name) => `/dev/${name}`);
}

/** A status writer: stdout plus each mirror device; a device that cannot be written is dropped. */
export function createStatusWriter(writeStdout: (line: string) => void, mirrors: string[]): (line: string) => void {
  const live = new Set(mirrors);
  return (line: string) => {
    writeStdout(line);
    for (const device of [...live]) {
      try {
        // O_NOCTTY: the service is a session leader without a terminal; opening a tty without it
        // would make that tty ours, and getty's hangup of tty1 would then SIGHUP the agent.
        // O_NONBLOCK: a serial line held by flow control must not stall the agent.
        const fd = openSync(device, constants.O_WRONLY | constants.O_APPEND | constants.O_NOCTTY | constants.O_NONBLOCK);
        try {
          // \r\n: a raw serial line or VT may not translate a lone \n.
          writeSync(fd, `${line}\r\n`);
        } finally {
          closeSync(fd);
        }
      } catch {
        live.delete(device);
      }
    }
  };
}
