import { describe, expect, it } from "vitest";
import { curlProbeArgs, parseCurlProbe, repositoryProbeUrl, unreachableRepositoryError } from "./repository-reach.js";
import type { ResolvedRepository } from "./render-config-xml.js";
import { recipeSchema } from "./recipe.js";

const repo = (over: Partial<ResolvedRepository>): ResolvedRepository =>
  ({ alias: "leap-15.1-oss", type: "rpm-md", source: "x", url: "http://127.0.0.1:9/distribution/leap/15.1/repo/oss/", useForBootstrap: false, gpgcheck: true, signingKeys: [], ...over });

describe("repositoryProbeUrl", () => {
  it("probes rpm-md metadata below the repository URL, with or without its trailing slash", () => {
    expect(repositoryProbeUrl(repo({}))).toBe("http://127.0.0.1:9/distribution/leap/15.1/repo/oss/repodata/repomd.xml");
    expect(repositoryProbeUrl(repo({ url: "https://m.example/oss" }))).toBe("https://m.example/oss/repodata/repomd.xml");
  });

  it("leaves apt and non-http repositories to kiwi", () => {
    expect(repositoryProbeUrl(repo({ type: "apt-deb", url: "http://deb.debian.org/debian" }))).toBeUndefined();
    expect(repositoryProbeUrl(repo({ url: "obs://openSUSE:Leap:15.6/standard" }))).toBeUndefined();
    expect(repositoryProbeUrl(repo({ url: "dir:///srv/repo" }))).toBeUndefined();
  });
});

describe("curlProbeArgs", () => {
  it("bounds the probe, follows redirects and prints only the status", () => {
    expect(curlProbeArgs("http://h/r/repodata/repomd.xml", 10)).toEqual([
      "--silent", "--show-error", "--location", "--connect-timeout", "5", "--max-time", "10",
      "--output", "/dev/null", "--write-out", "%{http_code}", "http://h/r/repodata/repomd.xml",
    ]);
  });
});

describe("parseCurlProbe", () => {
  // stdout/stderr as curl 7.88 (Debian 12) printed them here.
  it("accepts a 2xx", () => {
    expect(parseCurlProbe({ exitCode: 0, stdout: "200", stderr: "" })).toEqual({ ok: true });
  });
  it("reports an HTTP error status (a moved EOL repository answers 404)", () => {
    expect(parseCurlProbe({ exitCode: 0, stdout: "404", stderr: "" })).toEqual({ ok: false, reason: "HTTP 404" });
  });
  it("reports curl's own message without its prefix", () => {
    expect(
      parseCurlProbe({ exitCode: 7, stdout: "000", stderr: "curl: (7) Failed to connect to 127.0.0.1 port 9 after 0 ms: Couldn't connect to server\n" }),
    ).toEqual({ ok: false, reason: "Failed to connect to 127.0.0.1 port 9 after 0 ms: Couldn't connect to server" });
    expect(parseCurlProbe({ exitCode: 127, stdout: "", stderr: "" })).toEqual({ ok: false, reason: "curl exited with 127" });
  });
});

describe("unreachableRepositoryError", () => {
  it("names every URL and the override, exit 1", () => {
    const recipe = recipeSchema.parse({
      name: "r", summary: "s", distribution: { family: "suse", release: "leap-15.1", version: "15.1" }, packageManager: "zypper",
      imageVersion: "1.0.0", volumeId: "RECON", kernelArgs: [], bootstrapPackages: ["udev"], imagePackages: ["kernel-default"],
      repositories: [{ alias: "a", type: "rpm-md", source: "http://download.example/a/" }], mirrorBase: "http://download.example/",
    });
    const error = unreachableRepositoryError(recipe, [{ alias: "a", url: "http://127.0.0.1:9/a/", reason: "HTTP 404" }], "stage 'prepare'");
    expect(error.code).toBe("REPOSITORY_UNREACHABLE");
    expect(error.exitCode).toBe(1);
    expect(error.message).toBe("stage 'prepare': a package repository of recipe r cannot be reached:\n  a: http://127.0.0.1:9/a/ (HTTP 404)");
    expect(error.hint).toContain("RECON_ZYPPER_MIRROR=http://<mirror>/<path> to a mirror of http://download.example/");
  });
});
