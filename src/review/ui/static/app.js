// recon review UI: one ES module, no framework, no build step (docs/decisions.md says why).
//
// Safety rule: every string that came from a machine is untrusted (DMI strings can hold
// anything). This file never uses innerHTML, outerHTML, insertAdjacentHTML or document.write:
// all text goes through `el()` as text nodes, attributes through setAttribute with values we
// build. The server adds a CSP that forbids inline script as a second line of defence.

import { formatSeconds, labelOf, layoutFleetTimeline, layoutNodeTimeline } from "./timeline-picture.js";

const PHASES = ["leased", "ipxe", "kernel", "image", "agent", "uploaded", "off"];
const ROW_HEIGHT = 30;
const OVERSCAN = 12;

const state = {
  access: { local: false, token: false },
  rows: new Map(), // mac -> row
  classes: [],
  filtered: [],
  search: "",
  phase: "",
  classId: "",
  outliersOnly: false,
  healthOnly: false,
  sort: { key: "mac", dir: 1 },
  view: "fleet",
  renderQueued: false,
  refetchTimer: undefined,
  events: undefined,
};

// ---- DOM helpers (text only) ---------------------------------------------------------------
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "onclick" || name === "oninput" || name === "onchange" || name === "onsubmit") node.addEventListener(name.slice(2), value);
    // Through CSSOM: the CSP (style-src 'self') blocks style attributes, not style properties.
    else if (name === "style") Object.assign(node.style, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function text(value) {
  return value === null || value === undefined || value === "" ? "—" : String(value);
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

/** An SVG element; like el(), text only ever as text nodes. */
function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs ?? {})) if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  append(node, children);
  return node;
}

const $ = (id) => document.getElementById(id);
const macDir = (mac) => mac.replace(/:/g, "-");

function bytes(n, unit = 1024) {
  if (n === null || n === undefined) return "—";
  const names = unit === 1024 ? ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] : ["B", "kB", "MB", "GB", "TB", "PB"];
  let i = 0;
  let value = n;
  while (value >= unit && i < names.length - 1) {
    value /= unit;
    i += 1;
  }
  return `${value >= 100 || Number.isInteger(value) ? Math.round(value) : value.toFixed(1)} ${names[i]}`;
}

// ---- API -----------------------------------------------------------------------------------
// The admin token is never kept by this page: POST /api/v1/session turns it into an HttpOnly
// cookie (no script can read it, so an injected one could not steal it), and /api/v1/access says
// whether this browser holds a valid one (docs/ui.md, "Access").
function hasSession() {
  return state.access.token === true;
}

async function api(path, options = {}) {
  const headers = { accept: "application/json", ...(options.headers ?? {}) };
  const response = await fetch(path, { ...options, headers, credentials: "same-origin" });
  if (response.status === 401) {
    const body = await response.json().catch(() => ({}));
    const error = new Error(body.message ?? "unauthorized");
    error.status = 401;
    throw error;
  }
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    const error = new Error(body.message ?? `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return response.status === 204 ? undefined : response.json();
}

async function login(value) {
  await api("/api/v1/session", { method: "POST", headers: { authorization: `Bearer ${value}` } });
}

// ---- rows ----------------------------------------------------------------------------------
function haystack(row) {
  return [
    row.mac,
    row.name,
    row.ip,
    row.vendor,
    row.model,
    row.serial,
    row.cpu,
    row.memory,
    row.disks,
    row.nics,
    row.bmc_address,
    row.phase,
    row.class_id,
    row.bios_version,
    row.boot,
    row.baseboard,
    row.health,
    ...row.reasons.map((r) => r.kind),
    ...row.health_messages,
  ]
    .filter((v) => v !== null && v !== undefined)
    .join(" ")
    .toLowerCase();
}

function putRow(row) {
  const old = state.rows.get(row.mac);
  // Events may arrive out of order with the initial fetch: keep the newest boot state.
  if (old && old.last_seen && row.last_seen && row.last_seen < old.last_seen && row.has_inventory === old.has_inventory) return;
  row._text = haystack(row);
  state.rows.set(row.mac, row);
}

const COLUMNS = [
  { key: "mac", label: "MAC", value: (r) => r.mac },
  { key: "name", label: "Name", value: (r) => r.name },
  { key: "vendor", label: "Vendor / model", value: (r) => [r.vendor, r.model].filter(Boolean).join(" ") || null },
  { key: "serial", label: "Serial", value: (r) => r.serial },
  { key: "cpu", label: "CPU", value: (r) => (r.cpu ? `${r.cpu_sockets ?? "?"}× ${r.cpu}` : null) },
  { key: "memory_bytes", label: "Memory", value: (r) => (r.memory_bytes === null ? null : `${bytes(r.memory_bytes)}${r.memory ? ` (${r.memory})` : ""}`) },
  { key: "disk_bytes", label: "Disks", value: (r) => (r.disk_count ? `${r.disk_count}: ${r.disks}` : null) },
  { key: "nic_count", label: "NICs", value: (r) => (r.nic_count ? `${r.nic_count}: ${r.nics}` : null) },
  { key: "bmc_address", label: "BMC", value: (r) => r.bmc_address },
  { key: "boot", label: "Boot", value: (r) => r.boot },
  { key: "phase", label: "State", value: (r) => r.phase },
  { key: "outlier", label: "Outlier", value: (r) => r.outlier },
  { key: "health", label: "Health", value: (r) => r.health },
];

const PHASE_RANK = Object.fromEntries([...PHASES, "error", "unknown"].map((p, i) => [p, i]));
const SEVERITY_RANK = { error: 0, critical: 0, warning: 1, info: 2 };

function compare(key) {
  if (key === "phase") return (a, b) => PHASE_RANK[a.phase] - PHASE_RANK[b.phase];
  if (key === "outlier" || key === "health") return (a, b) => (SEVERITY_RANK[a[key]] ?? 9) - (SEVERITY_RANK[b[key]] ?? 9);
  if (["memory_bytes", "disk_bytes", "nic_count"].includes(key)) return (a, b) => (a[key] ?? -1) - (b[key] ?? -1);
  const column = COLUMNS.find((c) => c.key === key);
  return (a, b) => String(column.value(a) ?? "\uffff").localeCompare(String(column.value(b) ?? "\uffff"));
}

function applyFilter() {
  const terms = state.search.toLowerCase().split(/\s+/).filter(Boolean);
  const out = [];
  for (const row of state.rows.values()) {
    if (state.phase && row.phase !== state.phase) continue;
    if (state.classId && row.class_id !== state.classId) continue;
    if (state.outliersOnly && row.outlier === null) continue;
    if (state.healthOnly && row.health === null) continue;
    if (terms.length && !terms.every((t) => row._text.includes(t))) continue;
    out.push(row);
  }
  const cmp = compare(state.sort.key);
  const mac = compare("mac");
  out.sort((a, b) => cmp(a, b) * state.sort.dir || mac(a, b));
  state.filtered = out;
}

// ---- summary -------------------------------------------------------------------------------
function renderSummary() {
  const counts = Object.fromEntries([...PHASES, "error", "unknown"].map((p) => [p, 0]));
  let outliers = 0;
  let critical = 0;
  for (const row of state.rows.values()) {
    counts[row.phase] = (counts[row.phase] ?? 0) + 1;
    if (row.outlier) outliers += 1;
    if (row.health === "critical") critical += 1;
  }
  const total = state.rows.size;
  const done = counts.uploaded + counts.off;
  const summary = $("summary");
  clear(summary);
  const bar = el("div", { class: "progress", role: "img", "aria-label": `${done} of ${total} nodes reported` });
  for (const phase of [...PHASES, "error"]) {
    if (!counts[phase]) continue;
    bar.append(el("span", { class: `seg phase-${phase}`, style: { flexGrow: String(counts[phase]) }, title: `${phase}: ${counts[phase]}` }));
  }
  summary.append(
    el(
      "div",
      { class: "totals", id: "summary-totals" },
      el("strong", {}, `${done} / ${total}`),
      " nodes reported",
      outliers ? el("span", { class: "badge warning", id: "summary-outliers" }, `${outliers} outliers`) : null,
      critical ? el("span", { class: "badge error", id: "summary-critical" }, `${critical} with critical findings`) : null,
    ),
    bar,
    el(
      "ul",
      { class: "phases", id: "summary-phases" },
      [...PHASES, "error", "unknown"]
        .filter((p) => counts[p])
        .map((p) => el("li", { class: `phase-${p}`, "data-phase": p }, `${p} `, el("b", {}, String(counts[p])))),
    ),
  );
}

// ---- fleet view ----------------------------------------------------------------------------
let fleetDom;

function phaseCell(row) {
  const cell = el("span", {
    class: `state phase-${row.phase}`,
    title:
      row.last_error ??
      Object.entries(row.phases)
        .map(([p, at]) => `${p} ${at}`)
        .join("\n"),
  });
  const steps = el("span", { class: "steps", "aria-hidden": "true" });
  const rank = PHASES.indexOf(row.phase);
  PHASES.forEach((p, i) => steps.append(el("i", { class: i <= rank ? "on" : row.phases[p] ? "on" : "" })));
  cell.append(steps, el("span", { class: "label" }, row.phase === "error" ? `error: ${row.last_error ?? ""}` : row.phase));
  // Which image this boot booted (the master may serve several).
  if (row.image) cell.append(el("span", { class: "image", title: "image booted" }, ` ${row.image}`));
  // Peer assist: how much of it came from other peers (known once the node's agent said hello).
  if (row.image_via === "torrent") cell.append(el("span", { class: "delivery", title: deliveryTitle(row) }, ` ${deliveryShort(row)}`));
  return cell;
}

/** "87 % peers" (or "by torrent" while the image is still on its way); the title says more. */
function deliveryShort(row) {
  if (row.image_from_peers_bytes === null) return "by torrent";
  const total = row.image_from_peers_bytes + row.image_from_master_bytes;
  return `${total > 0 ? Math.round((100 * row.image_from_peers_bytes) / total) : 0} % peers`;
}

function deliveryTitle(row) {
  if (row.image_from_peers_bytes === null) return `fetching by BitTorrent: ${bytes(row.image_from_master_bytes)} from the master so far`;
  return `image by BitTorrent: ${bytes(row.image_from_peers_bytes)} from peers, ${bytes(row.image_from_master_bytes)} from the master (its web seed)`;
}

function findingsCell(row) {
  if (!row.outlier) return "";
  return el("span", { class: `badge ${row.outlier}`, title: row.reasons.map((r) => r.message).join("\n") }, `${row.reasons.length} ${row.outlier}`);
}

/** Health findings (what is broken) beside the outlier cell (how it differs from its class). */
function healthCell(row) {
  if (!row.health) return "";
  const count = row.findings_critical + row.findings_warning;
  return el("span", { class: `badge ${row.health === "critical" ? "error" : "warning"}`, title: row.health_messages.join("\n") }, `${count} ${row.health}`);
}

function buildFleetView() {
  const main = $("main");
  clear(main);
  const phaseSelect = el(
    "select",
    {
      id: "filter-phase",
      "aria-label": "phase",
      onchange: (e) => {
        state.phase = e.target.value;
        scheduleRender(true);
      },
    },
    el("option", { value: "" }, "all states"),
    [...PHASES, "error", "unknown"].map((p) => el("option", { value: p }, p)),
  );
  phaseSelect.value = state.phase;
  const classSelect = el(
    "select",
    {
      id: "filter-class",
      "aria-label": "class",
      onchange: (e) => {
        state.classId = e.target.value;
        scheduleRender(true);
      },
    },
    el("option", { value: "" }, "all classes"),
  );
  for (const c of state.classes) classSelect.append(el("option", { value: c.id }, `${c.id} ${c.signature.product_name ?? "?"} (${c.members.length})`));
  classSelect.value = state.classId;
  const search = el("input", {
    id: "search",
    type: "search",
    placeholder: "Search MAC, name, serial, model, CPU…",
    value: state.search,
    "aria-label": "search",
    oninput: (e) => {
      state.search = e.target.value;
      scheduleRender(true);
    },
  });
  const toggle = (id, key) => {
    const box = el("input", {
      id,
      type: "checkbox",
      onchange: (e) => {
        state[key] = e.target.checked;
        scheduleRender(true);
      },
    });
    box.checked = state[key];
    return box;
  };
  const outliers = toggle("filter-outliers", "outliersOnly");
  const health = toggle("filter-health", "healthOnly");
  const count = el("span", { class: "count", id: "row-count" });
  const header = el("div", { class: "row head", role: "row" });
  for (const column of COLUMNS) {
    const arrow = state.sort.key === column.key ? (state.sort.dir > 0 ? " ▲" : " ▼") : "";
    header.append(
      el(
        "button",
        {
          class: `cell col-${column.key}`,
          role: "columnheader",
          "data-key": column.key,
          onclick: () => {
            state.sort = { key: column.key, dir: state.sort.key === column.key ? -state.sort.dir : 1 };
            buildFleetView();
            scheduleRender(true);
          },
        },
        column.label + arrow,
      ),
    );
  }
  const spacer = el("div", { class: "spacer" });
  const body = el("div", { class: "rows", role: "rowgroup", id: "rows" });
  const viewport = el("div", { class: "viewport", id: "viewport" }, spacer, body);
  viewport.addEventListener("scroll", () => scheduleRender(false), { passive: true });
  const minutes = el("div", { id: "fleet-timeline-body" }, el("p", { class: "loading" }, "Loading…"));
  void loadPanel(minutes, "/api/v1/fleet/timeline", fleetTimelinePicture, "timeline");
  const budget = el("div", { id: "link-budget-body" }, el("p", { class: "loading" }, "Loading…"));
  void loadPanel(budget, "/api/v1/fleet/link-budget", linkBudgetPanel, "link budget");
  main.append(
    el("details", { class: "fleet-timeline", id: "fleet-timeline", open: true }, el("summary", {}, "Where the minutes go"), minutes),
    el("details", { class: "fleet-timeline", id: "link-budget", open: true }, el("summary", {}, "Link budget (estimate)"), budget),
    el(
      "div",
      { class: "controls" },
      search,
      phaseSelect,
      classSelect,
      el("label", { title: "differs from its hardware class" }, outliers, " outliers only"),
      el("label", { title: "the BMC, SMART, EDAC or burn-in says something is broken" }, health, " health findings only"),
      count,
    ),
    el("div", { class: "table", role: "table", "aria-label": "fleet" }, header, viewport),
  );
  fleetDom = { viewport, spacer, body, count, first: -1, last: -1 };
}

// ---- timeline pictures (geometry in timeline-picture.js) -------------------------------------
function drawBars(bars) {
  return bars.map((bar) =>
    svg(
      "g",
      { class: `tl-seg phase-${bar.phase}`, "data-phase": bar.phase },
      svg("title", {}, bar.title),
      svg("rect", { x: bar.x, y: bar.y, width: bar.width, height: bar.height }),
      bar.text ? svg("text", { x: bar.x + 4, y: bar.y + bar.height / 2 + 4 }, bar.text) : null,
    ),
  );
}

function drawTicks(ticks) {
  return ticks.map((t) =>
    svg(
      "g",
      { class: "tl-tick" },
      svg("line", { x1: t.x, x2: t.x, y1: t.y - 12, y2: t.y - 8 }),
      svg("text", { x: t.x, y: t.y, "text-anchor": t.anchor }, t.text),
    ),
  );
}

/** One node's boot: segments with their durations, the image's bytes and rate, and a legend. */
function nodeTimelinePicture(segments) {
  if (!segments.length) return el("p", { id: "node-timeline-none", class: "hint" }, "no timeline for this boot yet");
  const picture = layoutNodeTimeline(segments, { width: 960 });
  const image = svg(
    "svg",
    { id: "node-timeline", class: "timeline", width: picture.width, height: picture.height, viewBox: `0 0 ${picture.width} ${picture.height}`, role: "img" },
    svg("title", {}, `boot timeline, ${picture.bars.length} phases`),
    drawBars(picture.bars),
    drawTicks(picture.ticks),
  );
  const legend = el(
    "ol",
    { class: "tl-legend", id: "node-timeline-legend" },
    picture.bars.map((bar) => el("li", { "data-phase": bar.phase }, el("i", { class: `phase-${bar.phase}` }), bar.title)),
  );
  return el("div", { class: "timeline-box" }, image, legend);
}

/** The fleet: median and longest wait per phase, stacked on one time scale. */
function fleetTimelinePicture(summary) {
  if (!summary.phases.length) return el("p", { class: "hint", id: "fleet-timeline-none" }, "no node has a timeline yet");
  const picture = layoutFleetTimeline(summary, { width: 1100 });
  return el(
    "div",
    { class: "timeline-box" },
    svg(
      "svg",
      {
        id: "fleet-timeline-picture",
        class: "timeline",
        width: picture.width,
        height: picture.height,
        viewBox: `0 0 ${picture.width} ${picture.height}`,
        role: "img",
      },
      svg("title", {}, `where the minutes go over ${summary.nodes} nodes`),
      picture.rows.map((row) =>
        svg("g", { class: "tl-row", "data-row": row.name }, svg("text", { class: "tl-row-label", x: 0, y: row.y + 16 }, row.label), drawBars(row.bars)),
      ),
      drawTicks(picture.ticks),
    ),
    el(
      "ol",
      { class: "tl-legend", id: "fleet-timeline-legend" },
      summary.phases.map((p) =>
        el(
          "li",
          { "data-phase": p.phase, title: `longest: ${p.max_mac}` },
          el("i", { class: `phase-${p.phase}` }),
          `${labelOf(p.phase)}: median ${formatSeconds(p.median_seconds)}, longest ${formatSeconds(p.max_seconds)} (${p.nodes} node${p.nodes === 1 ? "" : "s"})`,
        ),
      ),
    ),
    el(
      "p",
      { class: "hint" },
      `${summary.nodes} nodes. Each phase is the wait for it; "longest" stacks each phase's slowest node, so it is the worst case, not one node's boot.`,
    ),
  );
}

/** Fills a fleet-page panel from one API answer; a failure is said in the panel. */
async function loadPanel(box, path, render, what) {
  try {
    const answer = await api(path);
    clear(box);
    box.append(render(answer));
  } catch (error) {
    clear(box);
    box.append(el("p", { class: "error" }, `${what}: ${error.message}`));
  }
}

/** nodes × image ÷ the master's link, per transport, and the peer-sharing ideal (GET /api/v1/fleet/link-budget). */
function linkBudgetPanel(budget) {
  const link = `${budget.link.interface ?? "the boot interface"} ${budget.link.mbit} Mbit/s`;
  const inputs = el(
    "p",
    { id: "link-budget-inputs" },
    `${budget.nodes.count} node${budget.nodes.count === 1 ? "" : "s"} (${budget.nodes.source}) × `,
    budget.image === null ? "image size unknown" : `${budget.image.label} ISO ${bytes(budget.image.isoBytes)}`,
    " ÷ ",
    budget.link.source === "assumed" ? el("span", { class: "assumed", title: budget.link.note }, `${link} (assumed)`) : `${link} (from sysfs)`,
  );
  const notes = el(
    "ul",
    { class: "hint", id: "link-budget-notes" },
    budget.notes.map((note) => el("li", {}, note)),
  );
  if (budget.transports.length === 0)
    return el("div", { class: "timeline-box" }, inputs, el("p", { class: "hint", id: "link-budget-none" }, "no figures"), notes);
  const rows = budget.transports.map((t) => [
    el("span", { title: t.what }, t.transport),
    bytes(t.bytesPerNode),
    bytes(t.fleetBytes),
    formatSeconds(t.seconds),
    formatSeconds(t.peerSharingSeconds),
  ]);
  const figures = table(["root transport", "per node", "whole fleet", "over the master's link", "ideal with peer sharing *"], rows, "link-budget-table");
  figures.querySelectorAll("tbody tr").forEach((tr, i) => tr.setAttribute("data-transport", budget.transports[i].transport));
  return el(
    "div",
    { class: "timeline-box" },
    inputs,
    figures,
    el("p", { class: "hint", id: "link-budget-peer-sharing" }, `* ${budget.peerSharing.note}: ×${budget.peerSharing.speedup} for ${budget.nodes.count} nodes.`),
    peerSharingMeasured(budget.peerSharing.measured),
    notes,
  );
}

/** What this fleet's torrent nodes really got: from the master (its web seed) and from other peers. */
function peerSharingMeasured(measured) {
  if (!measured || measured.torrentNodes === 0)
    return el("p", { class: "hint", id: "link-budget-peer-measured" }, "No node of this fleet fetched its image by BitTorrent yet.");
  const total = measured.fromMasterBytes + measured.fromPeersBytes;
  const share = total > 0 ? Math.round((100 * measured.fromPeersBytes) / total) : 0;
  return el(
    "p",
    { id: "link-budget-peer-measured" },
    `Measured: ${measured.torrentNodes} node${measured.torrentNodes === 1 ? "" : "s"} fetched the image by BitTorrent; of the ${measured.arrivedNodes} whose image arrived, `,
    el("b", {}, `${bytes(measured.fromPeersBytes)} came from other peers`),
    ` and ${bytes(measured.fromMasterBytes)} from the master (${share} % from peers).`,
  );
}

function renderRows(force) {
  if (!fleetDom) return;
  const { viewport, spacer, body, count } = fleetDom;
  const total = state.filtered.length;
  spacer.style.height = `${total * ROW_HEIGHT}px`;
  count.textContent = `${total} of ${state.rows.size} nodes`;
  const first = Math.max(0, Math.floor(viewport.scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(total, Math.ceil((viewport.scrollTop + viewport.clientHeight) / ROW_HEIGHT) + OVERSCAN);
  if (!force && first === fleetDom.first && last === fleetDom.last) return;
  fleetDom.first = first;
  fleetDom.last = last;
  // Only the visible rows exist in the DOM (5,000 nodes stay smooth).
  const fragment = document.createDocumentFragment();
  for (let i = first; i < last; i++) {
    const row = state.filtered[i];
    const line = el("a", {
      class: `row${row.outlier ? ` outlier-${row.outlier}` : ""}${row.health ? ` health-${row.health}` : ""}`,
      role: "row",
      href: `#/node/${macDir(row.mac)}`,
      "data-mac": row.mac,
      style: { transform: `translateY(${i * ROW_HEIGHT}px)` },
    });
    for (const column of COLUMNS) {
      let content;
      if (column.key === "phase") content = phaseCell(row);
      else if (column.key === "outlier") content = findingsCell(row);
      else if (column.key === "health") content = healthCell(row);
      else content = text(column.value(row));
      const cell = el("span", { class: `cell col-${column.key}`, role: "cell" }, content);
      if (typeof content === "string") cell.title = content;
      line.append(cell);
    }
    fragment.append(line);
  }
  clear(body);
  body.append(fragment);
}

function scheduleRender(refilter) {
  if (refilter) state.needFilter = true;
  if (state.renderQueued) return;
  state.renderQueued = true;
  requestAnimationFrame(() => {
    state.renderQueued = false;
    const refiltered = state.needFilter;
    if (state.needFilter) {
      applyFilter();
      state.needFilter = false;
    }
    renderSummary();
    if (state.view === "fleet") renderRows(refiltered);
  });
}

// ---- node detail ---------------------------------------------------------------------------
function table(headers, rows, id) {
  return el(
    "table",
    id ? { id } : {},
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        headers.map((h) => el("th", {}, h)),
      ),
    ),
    el(
      "tbody",
      {},
      rows.map((r) =>
        el(
          "tr",
          {},
          r.map((c) => el("td", {}, c instanceof Node ? c : text(c))),
        ),
      ),
    ),
  );
}

function fields(object) {
  return el(
    "dl",
    { class: "fields" },
    Object.entries(object).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, tree(v))]),
  );
}

/** Every field of the inventory, generically: nothing normalized is hidden. */
function tree(value) {
  if (value === null || value === undefined) return el("span", { class: "null" }, "null");
  if (Array.isArray(value)) {
    if (value.length === 0) return el("span", { class: "null" }, "[]");
    if (value.every((v) => typeof v !== "object" || v === null)) return value.join(", ");
    return el(
      "ol",
      { class: "tree" },
      value.map((v) => el("li", {}, tree(v))),
    );
  }
  if (typeof value === "object") return fields(value);
  return String(value);
}

async function powerAction(mac, action) {
  const dialog = $("confirm");
  $("confirm-text").textContent = `Power ${action} node ${mac}? This acts on the machine's BMC.`;
  $("confirm-error").textContent = "";
  // With a session the cookie carries the token; without one (the master's local console) the
  // admin types it for this one action.
  const typed = !hasSession();
  $("confirm-token").value = "";
  $("confirm-token").required = typed;
  $("confirm-token-label").hidden = !typed;
  $("confirm-session").hidden = typed;
  dialog.showModal();
  // Until cancelled or done: a refused token or a BMC error is shown and the admin may retry.
  for (;;) {
    const confirmed = await new Promise((resolve) => {
      $("confirm-cancel").onclick = () => resolve(false);
      dialog.oncancel = () => resolve(false);
      $("confirm-form").onsubmit = (event) => {
        event.preventDefault();
        resolve(true);
      };
    });
    if (!confirmed) {
      dialog.close();
      return;
    }
    // X-Recon-UI: a page on another origin cannot send a custom header without a CORS preflight
    // the master never grants, so the session cookie alone cannot make it act (CSRF).
    const headers = { "content-type": "application/json", "x-recon-ui": "1" };
    if (typed) headers.authorization = `Bearer ${$("confirm-token").value.trim()}`;
    try {
      const result = await api(`/api/v1/nodes/${macDir(mac)}/power`, { method: "POST", headers, body: JSON.stringify({ action }) });
      dialog.close();
      const answer = result && result.answer !== undefined ? result.answer : "done";
      $("power-result").textContent =
        `power ${action} via BMC ${result && result.bmc ? result.bmc : "?"}: ${typeof answer === "string" ? answer : JSON.stringify(answer)}`;
      return;
    } catch (error) {
      $("confirm-error").textContent = error.message;
    }
  }
}

async function showNode(dir) {
  const main = $("main");
  clear(main);
  fleetDom = undefined;
  main.append(el("p", { class: "loading" }, "Loading…"));
  let detail;
  let boot;
  try {
    // The boot timeline comes with the node's boot state (open route); a failure there only loses the picture.
    [detail, boot] = await Promise.all([
      api(`/api/v1/nodes/${encodeURIComponent(dir)}/inventory`),
      api(`/api/v1/nodes/${encodeURIComponent(dir)}`).catch(() => undefined),
    ]);
  } catch (error) {
    clear(main);
    main.append(el("p", { class: "error" }, error.message), el("a", { href: "#/" }, "back to the fleet"));
    return;
  }
  clear(main);
  const inv = detail.inventory;
  const row = detail.row;
  const sections = [];
  sections.push(
    el("h2", {}, el("a", { href: "#/" }, "Fleet"), " / ", row.name ?? row.mac, " ", el("code", {}, row.mac)),
    el(
      "div",
      { class: "node-head" },
      phaseCell(row),
      row.ip ? el("span", {}, `IP ${row.ip}`) : null,
      detail.class ? el("a", { href: `#/classes/${detail.class.id}` }, `class ${detail.class.id}`) : null,
    ),
  );
  const delivery = boot?.image_delivery;
  if (delivery && delivery.via)
    sections.push(
      el(
        "p",
        { id: "node-image-delivery", "data-via": delivery.via },
        delivery.via === "http"
          ? `Image over HTTP: ${bytes(delivery.from_master_bytes)} from the master.`
          : delivery.from_peers_bytes === null
            ? `Image by BitTorrent (peer assist), on its way: ${bytes(delivery.from_master_bytes)} of ${bytes(delivery.iso_bytes)} from the master so far.`
            : `Image by BitTorrent (peer assist): ${bytes(delivery.from_peers_bytes)} from other peers, ${bytes(delivery.from_master_bytes)} from the master, of ${bytes(delivery.iso_bytes)}.`,
      ),
    );
  sections.push(el("h3", {}, "Timeline of this boot"), nodeTimelinePicture(boot?.timeline_segments ?? []));
  // Outliers and findings are different things: a node can match its class and still have a failed PSU.
  const findings = inv ? inv.findings : [];
  sections.push(
    el("h3", {}, `Health findings (${findings.length})`),
    el("p", { class: "hint" }, "What the BMC's event log and sensors, SMART, EDAC or burn-in say is broken, whatever the class."),
    findings.length
      ? table(
          ["severity", "category", "component", "message", "time", "source", "evidence"],
          findings.map((f) => [
            el("b", { class: f.severity === "critical" ? "error" : "warning" }, f.severity),
            f.category,
            f.component,
            f.message,
            f.at,
            el("code", {}, f.source),
            el("code", {}, f.evidence),
          ]),
          "findings",
        )
      : el("p", { id: "findings-none" }, "none"),
  );
  if (detail.reasons.length) {
    sections.push(
      el("h3", {}, "Outlier: differs from its class"),
      el(
        "ul",
        { class: "reasons", id: "reasons" },
        detail.reasons.map((r) => el("li", { class: r.severity }, el("b", {}, r.severity), " ", r.message)),
      ),
    );
  }
  sections.push(
    el("h3", {}, "Power"),
    el(
      "div",
      { class: "power" },
      ["on", "off", "cycle", "reset"].map((action) =>
        el("button", { type: "button", "data-action": action, onclick: () => powerAction(row.mac, action) }, `Power ${action}`),
      ),
      el("span", { id: "power-result" }),
    ),
  );
  if (detail.inventory_problem) sections.push(el("p", { class: "error" }, `inventory.json is not usable: ${detail.inventory_problem}`));
  if (inv) {
    sections.push(
      el("h3", {}, "System"),
      el(
        "div",
        { class: "cards" },
        el("section", {}, el("h4", {}, "system_vendor"), fields(inv.system_vendor)),
        el("section", {}, el("h4", {}, "firmware"), fields(inv.firmware)),
        el("section", {}, el("h4", {}, "boot"), fields(inv.boot)),
        el("section", {}, el("h4", {}, "bmc"), fields(inv.bmc)),
        el("section", { id: "baseboard" }, el("h4", {}, "baseboard"), fields(inv.baseboard)),
        el("section", { id: "chassis" }, el("h4", {}, "chassis"), fields(inv.chassis)),
      ),
      el("h3", {}, `Power supplies (${inv.power_supplies.length})`),
      inv.power_supplies.length
        ? table(
            ["name", "status", "manufacturer", "model", "serial", "max W", "source"],
            inv.power_supplies.map((p) => [
              p.name,
              p.status === "failed" ? el("b", { class: "error" }, "failed") : p.status,
              p.manufacturer,
              p.model,
              p.serial_number,
              p.max_power_w,
              p.source,
            ]),
            "power-supplies",
          )
        : el("p", {}, "none reported"),
      el("h3", {}, "CPU"),
      fields({ ...inv.cpu, flags: `${inv.cpu.flags.length} flags` }),
      el(
        "h3",
        { id: "memory-head" },
        `Memory — ${bytes(inv.memory.total_bytes)} (${text(inv.memory.physical_mb)} MiB DRAM installed` +
          `${inv.memory.physical_mb_complete === false ? ", incomplete: a module's size is unknown" : ""}` +
          `${inv.memory.persistent_mb !== null ? `; ${inv.memory.persistent_mb} MiB persistent memory` : ""})`,
      ),
      table(
        ["slot", "kind", "size", "persistent", "type", "speed MT/s", "configured MT/s", "manufacturer", "part number", "serial"],
        inv.memory.dimms.map((d) => [
          d.slot,
          d.kind,
          bytes(d.size_bytes),
          bytes(d.non_volatile_size_bytes),
          d.type,
          d.speed_mts,
          d.configured_speed_mts,
          d.manufacturer,
          d.part_number,
          d.serial_number,
        ]),
      ),
      el("h3", {}, `Storage controllers (${inv.storage_controllers.length})`),
      inv.storage_controllers.length
        ? table(
            ["PCI", "product", "driver", "model (RAID tool)", "firmware", "serial", "virtual drives"],
            inv.storage_controllers.map((c) => [
              c.pci_slot,
              c.product,
              c.driver,
              c.model,
              c.firmware_version,
              c.serial_number,
              c.virtual_drives.length
                ? el(
                    "div",
                    {},
                    c.virtual_drives.map((v) => {
                      const words = `${v.id} ${v.raid_level ?? ""} ${bytes(v.size_bytes)} ${v.state ?? ""}`;
                      return v.health === "ok" || v.health === null ? el("div", {}, words) : el("div", {}, el("b", { class: "error" }, words));
                    }),
                  )
                : c.tool === null && c.class_id === "0104"
                  ? "(no RAID tool in the workload)"
                  : null,
            ]),
            "storage-controllers",
          )
        : el("p", {}, "none reported"),
      el("h3", {}, "Disks"),
      table(
        ["name", "kind", "size", "model", "vendor", "serial", "wwn", "SMART", "by-path", "behind"],
        inv.disks.map((d) => [
          d.name,
          d.kind,
          bytes(d.size_bytes, 1000),
          d.model,
          d.vendor,
          d.serial,
          d.wwn,
          d.smart_passed === null ? null : d.smart_passed ? "passed" : el("b", { class: "error" }, "FAILED"),
          d.by_path,
          d.smartctl_device === null ? null : `RAID (-d ${d.smartctl_device})`,
        ]),
      ),
      el("h3", {}, "Network interfaces and LLDP neighbours"),
      table(
        ["name", "MAC", "driver", "firmware", "speed Mb/s", "link", "IPv4", "switch", "port", "VLAN"],
        inv.interfaces.map((n) => [
          n.name,
          n.mac_address,
          n.driver,
          n.firmware_version,
          n.speed_mbps,
          n.link === null ? null : n.link ? "up" : "down",
          n.ipv4_address,
          n.lldp ? (n.lldp.system_name ?? n.lldp.chassis_id) : null,
          n.lldp ? [n.lldp.port_id, n.lldp.port_description].filter(Boolean).join(" — ") : null,
          n.lldp ? n.lldp.vlan : null,
        ]),
      ),
    );
    if (inv.gpus.length)
      sections.push(
        el("h3", {}, "GPUs"),
        table(
          ["vendor", "product", "PCI", "driver", "memory"],
          inv.gpus.map((g) => [g.vendor, g.product, g.pci_slot, g.driver, bytes(g.memory_bytes)]),
        ),
      );
    sections.push(
      el("h3", {}, `Collector errors (${inv.errors.length})`),
      inv.errors.length
        ? el(
            "ul",
            { class: "collector-errors" },
            inv.errors.map((e) =>
              el(
                "li",
                { class: e.kind === "blocked" ? "blocked" : null },
                e.kind === "blocked" ? el("span", { class: "badge warning" }, "blocked") : null,
                el("code", {}, e.source),
                " ",
                e.message,
              ),
            ),
          )
        : el("p", {}, "none"),
      el("h3", {}, `PCI devices (${inv.pci_devices.length})`),
      table(
        ["slot", "vendor", "product", "class", "driver"],
        inv.pci_devices.map((p) => [p.slot, p.vendor ?? p.vendor_id, p.product ?? p.product_id, p.class ?? p.class_id, p.driver]),
      ),
    );
  }
  sections.push(el("h3", {}, "Raw uploads"));
  if (detail.uploads.length === 0) sections.push(el("p", {}, "none"));
  for (const upload of [...detail.uploads].reverse()) {
    const base = `/nodes/${macDir(detail.mac)}/${encodeURIComponent(upload.id)}`;
    sections.push(
      el(
        "details",
        { class: "upload", open: upload === detail.uploads[detail.uploads.length - 1] },
        el(
          "summary",
          {},
          `${upload.id} — ${upload.receivedAt ?? "?"} — `,
          el("a", { href: `${base}/raw.tar.gz`, download: true }, `raw.tar.gz (${bytes(upload.rawBytes)})`),
        ),
        el(
          "ul",
          { class: "files" },
          upload.files.map((f) =>
            el(
              "li",
              {},
              el("a", { href: `${base}/files/${f.path.split("/").map(encodeURIComponent).join("/")}`, target: "_blank", rel: "noopener" }, f.path),
              ` ${bytes(f.size)}`,
            ),
          ),
        ),
      ),
    );
  }
  if (inv) sections.push(el("details", { class: "all-fields" }, el("summary", {}, "Every normalized field"), tree(inv)));
  main.append(el("article", { class: "node", id: "node-detail" }, sections));
}

// ---- classes -------------------------------------------------------------------------------
/** Members with health findings, apart from the outliers: a node can match its class and be broken. */
function healthRows(c) {
  const rows = [...c.findings.critical, ...c.findings.warning].map((mac) => state.rows.get(mac)).filter(Boolean);
  if (!rows.length) return null;
  return el(
    "ul",
    { class: "health" },
    rows.map((row) =>
      el(
        "li",
        { "data-mac": row.mac, "data-health": row.health },
        el("a", { href: `#/node/${macDir(row.mac)}` }, row.name ?? row.mac),
        " ",
        el("code", {}, row.mac),
        " health: ",
        el(
          "ul",
          {},
          row.health_messages.map((m) => el("li", { class: m.startsWith("critical") ? "error" : "warning" }, m)),
        ),
      ),
    ),
  );
}

function showClasses(focus) {
  const main = $("main");
  clear(main);
  fleetDom = undefined;
  const list = el("div", { class: "classes", id: "classes" });
  for (const c of state.classes) {
    const s = c.signature;
    const outlierRows = c.outliers.map((mac) => state.rows.get(mac)).filter(Boolean);
    list.append(
      el(
        "section",
        { class: `class${focus === c.id ? " focus" : ""}`, id: `class-${c.id}` },
        el(
          "h3",
          {},
          `${text(s.manufacturer)} ${text(s.product_name)} `,
          el("code", {}, c.id),
          el("span", { class: "count" }, ` ${c.members.length} nodes, ${c.outliers.length} outliers`),
          c.findings.critical.length ? el("span", { class: "badge error" }, `${c.findings.critical.length} critical`) : null,
          c.findings.warning.length ? el("span", { class: "badge warning" }, `${c.findings.warning.length} warning`) : null,
        ),
        fields({
          "firmware names": s.spellings.join(" | ") || "—",
          cpu: `${text(s.cpu_sockets)}× ${text(s.cpu_model)}`,
          memory: s.memory || "—",
          disks: s.disks || "—",
          nics: s.nics || "—",
          firmware: Object.entries(s.firmware)
            .map(([k, v]) => `${k} ${text(v)}`)
            .join(", "),
        }),
        outlierRows.length
          ? el(
              "ul",
              { class: "outliers" },
              outlierRows.map((row) =>
                el(
                  "li",
                  { "data-mac": row.mac },
                  el("a", { href: `#/node/${macDir(row.mac)}` }, row.name ?? row.mac),
                  " ",
                  el("code", {}, row.mac),
                  el(
                    "ul",
                    {},
                    row.reasons.map((r) => el("li", { class: r.severity }, r.message)),
                  ),
                ),
              ),
            )
          : el("p", {}, "no outliers"),
        healthRows(c),
      ),
    );
  }
  main.append(el("h2", {}, `${state.classes.length} hardware classes`), list);
  if (focus) $(`class-${focus}`)?.scrollIntoView();
}

async function showNetbox() {
  const main = $("main");
  clear(main);
  fleetDom = undefined;
  const index = await api("/export/netbox");
  main.append(
    el("h2", {}, "NetBox import files"),
    el("p", {}, "Import them in this order, each on its NetBox import page (NetBox 4.2 or later)."),
    el(
      "ol",
      { id: "netbox-files" },
      index.files.map((f) => el("li", {}, el("a", { href: f.url, download: true }, f.name))),
    ),
  );
}

// ---- routing, live updates, start ----------------------------------------------------------
async function route() {
  const hash = location.hash || "#/";
  document
    .querySelectorAll("nav a")
    .forEach((a) =>
      a.classList.toggle(
        "active",
        (hash.startsWith("#/classes") && a.dataset.view === "classes") || ((hash === "#/" || hash === "#") && a.dataset.view === "fleet"),
      ),
    );
  const node = /^#\/node\/([0-9a-fA-F-]{17})$/.exec(hash);
  const klass = /^#\/classes(?:\/(c-[0-9a-f]+))?$/.exec(hash);
  if (node) {
    state.view = "node";
    await showNode(node[1]);
  } else if (klass) {
    state.view = "classes";
    showClasses(klass[1]);
  } else if (hash === "#/netbox") {
    state.view = "netbox";
    await showNetbox();
  } else {
    state.view = "fleet";
    buildFleetView();
    scheduleRender(true);
  }
}

async function loadFleet() {
  const fleet = await api("/api/v1/fleet");
  state.classes = fleet.classes;
  for (const row of fleet.rows) putRow(row);
  scheduleRender(true);
}

function connectEvents() {
  const events = new EventSource("/api/v1/events");
  state.events = events;
  events.addEventListener("node", (message) => {
    const data = JSON.parse(message.data);
    putRow(data.row);
    scheduleRender(true);
  });
  events.addEventListener("inventory", (message) => {
    const data = JSON.parse(message.data);
    for (const row of data.rows) putRow(row);
    scheduleRender(true);
    // Classes may have shifted: reload the whole picture, at most every 10 s.
    if (state.refetchTimer === undefined) {
      state.refetchTimer = setTimeout(() => {
        state.refetchTimer = undefined;
        loadFleet().catch(() => undefined);
      }, 10_000);
    }
  });
  events.addEventListener("ready", () => document.body.setAttribute("data-live", "yes"));
  events.onerror = () => document.body.setAttribute("data-live", "no");
}

function renderAccess() {
  const box = $("access");
  clear(box);
  const via = hasSession() ? "admin token" : state.access.local ? "local console (read-only)" : "";
  box.append(el("span", { class: "badge" }, via));
  if (hasSession())
    box.append(
      el(
        "button",
        {
          type: "button",
          onclick: async () => {
            await api("/api/v1/session", { method: "DELETE" });
            location.reload();
          },
        },
        "Forget token",
      ),
    );
}

function showLogin(message) {
  const main = $("main");
  clear(main);
  const input = el("input", { type: "password", id: "login-token", autocomplete: "off", "aria-label": "admin token", required: true });
  const error = el("p", { class: "error" }, message ?? "");
  main.append(
    el(
      "form",
      {
        class: "login",
        id: "login",
        onsubmit: async (event) => {
          event.preventDefault();
          try {
            await login(input.value.trim());
            await start();
          } catch (e) {
            error.textContent = e.message;
          }
        },
      },
      el("h2", {}, "Admin token"),
      el("p", {}, "From the network the review needs the admin token the master printed on its console (also in <data dir>/admin-token on the stick)."),
      input,
      el("button", { type: "submit" }, "Open the review"),
      error,
    ),
  );
}

async function start() {
  state.access = await api("/api/v1/access");
  if (!state.access.local && !state.access.token) {
    showLogin();
    return;
  }
  renderAccess();
  $("exports").hidden = false;
  try {
    await loadFleet();
  } catch (error) {
    if (error.status === 401) return showLogin(error.message);
    throw error;
  }
  if (!state.events) connectEvents();
  window.addEventListener("hashchange", () => void route());
  await route();
  document.body.setAttribute("data-ready", "yes");
}

start().catch((error) => {
  const main = $("main");
  clear(main);
  main.append(el("p", { class: "error" }, `The review could not load: ${error.message}`));
});
