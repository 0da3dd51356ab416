import { describe, expect, it } from "vitest";
import { decideHttpFront } from "./front.js";
import { nginxArgs, parseNginxAccessLine, renderNginxConf } from "./nginx.js";

const plan = {
  listenPort: 80,
  upstreamPort: 40123,
  httpRoot: "/run/recon/http",
  runDir: "/run/recon",
  workerUser: "nobody nogroup",
  maxBodyBytes: 32 * 1024 * 1024,
  accessLogPort: 51515,
};

describe("renderNginxConf", () => {
  it("renders the appliance config (full text)", async () => {
    await expect(renderNginxConf(plan)).toMatchFileSnapshot("__snapshots__/nginx.appliance.conf");
  });

  it("leaves the user out when nginx does not start as root", () => {
    expect(renderNginxConf({ ...plan, workerUser: undefined })).not.toMatch(/^user /m);
  });

  it("streams uploads and events to express instead of buffering them", () => {
    const conf = renderNginxConf(plan);
    expect(conf).toContain("proxy_request_buffering off;");
    expect(conf).toContain("proxy_buffering off;");
    // Only the static trees are served from disk; the rest (API, uploads, UI) is recon's.
    expect(conf.match(/try_files \$uri @recon;/g)).toHaveLength(2);
  });

  it("refuses a path that would break out of a quoted string", () => {
    expect(() => renderNginxConf({ ...plan, httpRoot: '/tmp/x"; include /etc/passwd; "' })).toThrow(/cannot be written into nginx.conf/);
  });

  it("runs with the given config file", () => {
    expect(nginxArgs("/run/recon/nginx.conf")).toEqual(["-c", "/run/recon/nginx.conf"]);
  });
});

describe("parseNginxAccessLine", () => {
  it("reads a syslog message carrying the JSON record", () => {
    const line = '<190>Nov 22 00:52:06 recon: {"remote":"10.78.0.195","status":"206","method":"GET","uri":"/isos/test.iso","bytes":"100","complete":"OK"}';
    expect(parseNginxAccessLine(line)).toEqual({ remote: "10.78.0.195", status: 206, method: "GET", uri: "/isos/test.iso", bytes: 100, complete: true });
  });

  it("marks a transfer the client cut off as incomplete", () => {
    const line = '{"remote":"10.0.0.9","status":"200","method":"GET","uri":"/install/x/linux","bytes":"4096","complete":""}';
    expect(parseNginxAccessLine(line)?.complete).toBe(false);
  });

  it.each([
    ["", "empty"],
    ["<190>Nov 22 00:52:06 recon: not json", "no record"],
    ['{"remote":"x","status":"abc","method":"GET","uri":"/","bytes":"1","complete":"OK"}', "bad status"],
    ['{"remote":"x","status":"200","method":"GET","bytes":"1"}', "missing uri"],
    ['{"remote":"x", broken', "broken JSON"],
  ])("ignores %j (%s)", (line) => {
    expect(parseNginxAccessLine(line)).toBeUndefined();
  });
});

describe("decideHttpFront", () => {
  it("takes nginx in auto mode when it is installed and can read the files", () => {
    expect(decideHttpFront({ wanted: "auto", nginxInstalled: true, rootReadableByWorkers: true })).toEqual({ server: "nginx" });
  });

  it("falls back to node in auto mode and says why", () => {
    expect(decideHttpFront({ wanted: "auto", nginxInstalled: false, rootReadableByWorkers: true })).toEqual({
      server: "node",
      reason: "nginx is not installed",
    });
    expect(decideHttpFront({ wanted: "auto", nginxInstalled: true, rootReadableByWorkers: false })).toMatchObject({
      server: "node",
      reason: expect.stringContaining("cannot read"),
    });
  });

  it("obeys node, and refuses an explicit nginx that cannot work", () => {
    expect(decideHttpFront({ wanted: "node", nginxInstalled: true, rootReadableByWorkers: true }).server).toBe("node");
    expect(() => decideHttpFront({ wanted: "nginx", nginxInstalled: false, rootReadableByWorkers: true })).toThrow(
      /http.server is nginx but nginx is not installed/,
    );
  });
});
