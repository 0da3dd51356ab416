// The layer rule (docs/architecture.md "Layers", README "Layout"): a file under src/
// imports only its own layer or lower ones; roles never import each other, except that the master
// mounts the review (a lower layer anyway) and the lab, a test rig, may use any role. Tests
// (*.test.ts, test/, bench/) may import anything, so they are not cruised. `make lint-layers`
// runs this; src/layers.test.ts checks the rule on small wrong and right trees.
/** Lowest first. A layer may import itself and the layers before it. */
const LAYERS = [
  ["lib"],
  ["model"],
  ["boot", "inventory"],
  ["ipmi", "review"],
  ["build", "agent", "master", "lab"],
];
const ROLES = LAYERS[LAYERS.length - 1];
const alt = (names) => `(${names.join("|")})`;
const KNOWN = LAYERS.flat();

/** One rule per layer: nothing above it (and nothing outside the known folders) may be imported. */
const layerRules = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer.join("-")}`,
  comment: `src/${alt(layer)}/ imports only ${alt(LAYERS.slice(0, i + 1).flat())} (lower layers)`,
  severity: "error",
  from: { path: `^src/${alt(layer)}/` },
  to: { path: "^src/", pathNot: `^src/${alt(LAYERS.slice(0, i + 1).flat())}/` },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: "roles-stay-apart",
      comment: "a role (build, agent, master) does not import another role; the lab may use any",
      severity: "error",
      from: { path: `^src/${alt(ROLES.filter((r) => r !== "lab"))}/` },
      to: { path: `^src/${alt(ROLES)}/`, pathNot: "^src/$1/" },
    },
    {
      name: "only-the-cli-is-top",
      comment: "nothing imports src/cli.ts, the composition root",
      severity: "error",
      from: {},
      to: { path: "^src/cli\\.ts$" },
    },
    {
      name: "outside-the-layers",
      comment: `every file under src/ belongs to a layer: ${KNOWN.join(", ")} or cli.ts`,
      severity: "error",
      from: { path: "^src/", pathNot: `^src/(${alt(KNOWN)}/|cli\\.ts$)` },
      to: {},
    },
    {
      name: "outside-the-layers-target",
      comment: `an import under src/ points into a layer: ${KNOWN.join(", ")}`,
      severity: "error",
      from: {},
      to: { path: "^src/", pathNot: `^src/(${alt(KNOWN)}/|cli\\.ts$)` },
    },
    {
      name: "model-is-pure",
      comment: "src/model/ is pure: no file system, no sockets or processes, no express",
      severity: "error",
      from: { path: "^src/model/" },
      to: {
        path: [
          "^(node:)?(fs|fs/promises|net|dgram|http|https|http2|tls|dns|child_process|worker_threads)$",
          "(^|/)node_modules/(@types/)?(express|execa|tar)/",
          "^(express|execa|tar)$",
        ],
      },
    },
    {
      name: "review-has-no-express",
      comment: "src/review/ is a library the master mounts: no express there",
      severity: "error",
      from: { path: "^src/review/" },
      to: { path: ["(^|/)node_modules/(@types/)?express/", "^express$"] },
    },
    {
      name: "no-circular",
      comment: "no import cycles under src/",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
  ],
  options: {
    // Tests may import anything (fixtures, helpers, several roles at once).
    exclude: { path: "\\.test\\.ts$" },
    doNotFollow: { path: "(^|/)node_modules/" },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: [".ts", ".js", ".mjs", ".cjs", ".d.ts", ".json"] },
    // `./x.js` in source means `./x.ts` (NodeNext); the tsconfig tells the resolver so.
    tsConfig: { fileName: "tsconfig.json" },
  },
};
