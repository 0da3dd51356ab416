import { describe, expect, it } from "vitest";
import { parseSiteConfig } from "../model/site-config.js";
import { DEFAULT_EXPECTED_NODES, expectedNodes, neighbourSysctls, planScale } from "./scale.js";

describe("planScale", () => {
  it("never goes below the tools' own defaults for a small fleet", () => {
    expect(planScale(3)).toEqual({
      dhcpLeaseMax: 1000,
      tftpMax: 50,
      neighbour: { gcThresh1: 128, gcThresh2: 512, gcThresh3: 1024 },
      nginxWorkerConnections: 4096,
    });
  });

  it("grows every limit with a large fleet: 900 nodes may all fetch their first stage at once", () => {
    const limits = planScale(900);
    expect(limits).toEqual({
      dhcpLeaseMax: 1800,
      tftpMax: 910,
      neighbour: { gcThresh1: 1800, gcThresh2: 3600, gcThresh3: 7200 },
      nginxWorkerConnections: 7200,
    });
    expect(neighbourSysctls(limits)).toEqual([
      { path: "net/ipv4/neigh/default/gc_thresh1", value: "1800" },
      { path: "net/ipv4/neigh/default/gc_thresh2", value: "3600" },
      { path: "net/ipv4/neigh/default/gc_thresh3", value: "7200" },
    ]);
  });

  it("takes the fleet from the site config, else from the pool, else the default", () => {
    expect(expectedNodes(parseSiteConfig("fleet: { expectedNodes: 600 }\n").fleet)).toBe(600);
    expect(expectedNodes({}, { start: "10.20.0.100", end: "10.20.0.199" })).toBe(100);
    expect(expectedNodes({})).toBe(DEFAULT_EXPECTED_NODES);
  });
});
