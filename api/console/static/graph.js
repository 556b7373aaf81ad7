// graph.js: draw an ImpactGraph (GET /api/v1/impact/graph) with cytoscape.
//
// Assumptions
// - The globals `cytoscape`, `ELK` and `cytoscapeElk` are loaded by classic <script> tags
//   (/console/vendor/...) before this module runs; cytoscape-elk is registered here once.
// - The payload is the ImpactGraph of console.md: nodes carry `layer` (0 = customers, at the
//   top), `state`, `path`, `parent` (the k-of-n group the member is drawn inside), `group`
//   ({k, n, out}) and `rollup`; edges run from the dependency (`from`) to the dependent (`to`).
// - Shapes carry the state as well as colours, so the picture reads without colour:
//   star = failed (root), hexagon = assumed down, octagon = down, diamond = degraded,
//   triangle = at risk, ellipse = no state (depends-on mode), star in blue = queried root.
//   Services and customers are larger, with a thick navy border and a bold label.
// - Above AUTO_COLLAPSE CIs the graph collapses each (layer, class) group, largest first,
//   into one aggregate node ("desktop ×1,234 — 1,200 down, 34 degraded") drawn with its
//   worst state, until at most AUTO_COLLAPSE nodes remain; failed, assumed-down and queried
//   CIs are never aggregated. Nothing larger than MAX_VISIBLE nodes is ever drawn: an expand
//   that would pass it is refused with a message, so a 10,000-node answer cannot hang the page.
// - Layout: ELK layered (direction UP, so a dependency sits below its dependents), the node's
//   layer as ELK partition, redundancy groups as compound nodes laid out as a box of members
//   (SEPARATE_CHILDREN: INCLUDE_CHILDREN drew a 14-desktop group as a 14-wide row). Above
//   ELK_MAX drawn nodes a layered preset computed from `layer` (barycentre ordering, groups as
//   grids, wrapped rows) is used instead. Measured in headless Chromium on 2 busy cores
//   (bench/bench_console.py): ELK took 1-3 s at 130 nodes and 8.5 s at 500, the preset 0.3 s
//   and 0.6 s, and the preset reads as well; the toolbar's layout select forces either.
//
// Controls (data-testid), for people and for the browser tests
//   graph-collapse-classes   collapse every (layer, class) group of 2+ CIs
//   graph-collapse-layers    collapse every layer into one aggregate
//   graph-expand-all         show every CI (refused above MAX_VISIBLE)
//   graph-layer-toggle       one button per layer (data-layer=N): collapse / expand that layer
//   graph-fit                fit the drawing to the view
//   graph-layout             select: auto | elk | preset (auto: ELK up to ELK_MAX drawn nodes)
//   export-svg, export-png   download the drawing
//   graph-details            side panel of the selected node; inside it:
//     graph-ci-link (link to #/ci/ID), graph-expand (on an aggregate),
//     graph-collapse-node-class, graph-collapse-node-layer
//   Double-clicking an aggregate expands it.
// Read-outs
//   [data-testid=impact-graph]  the cytoscape container; data-ready="1" once laid out,
//                               data-layout (elk|preset), data-layout-ms
//   [data-testid=graph-summary] data-total (CIs in the answer), data-visible (CIs drawn one by
//                               one), data-hidden (CIs inside aggregates), data-aggregates,
//                               data-omitted (left out by the server's max_nodes), and a sentence
//   [data-testid=graph-legend]
//   window.cmdbGraph = the cytoscape instance; node data: id, label, state, cls, layer,
//   rollup, aggregate (bool), members (aggregate: CI ids), count, path.
//
// Example (options.layout 'elk' | 'preset' | 'grid' forces one; bench/bench_console.py does)
//   import { renderGraph } from './graph.js';
//   const view = renderGraph(container, payload, { ciHref: (id) => `#/ci/${id}` });
//   view.collapseClasses(); view.expandAll(); view.toSvg();

export const AUTO_COLLAPSE = 350;
export const MAX_VISIBLE = 2500;
export const ELK_MAX = 100;
export const ELK_HARD_MAX = 800;

const STATES = {
  failed: { label: 'failed (root cause)', shape: 'star', fill: '#b71c1c', border: '#000000', rank: 6 },
  assumed_down: { label: 'assumed down', shape: 'hexagon', fill: '#757575', border: '#000000', rank: 5 },
  down: { label: 'down', shape: 'octagon', fill: '#e53935', border: '#7f0000', rank: 4 },
  degraded: { label: 'degraded', shape: 'diamond', fill: '#fb8c00', border: '#8d4300', rank: 3 },
  at_risk: { label: 'at risk', shape: 'triangle', fill: '#fdd835', border: '#8a7400', rank: 2 },
  root: { label: 'queried CI', shape: 'star', fill: '#1565c0', border: '#000000', rank: 1 },
  none: { label: 'dependency (no state)', shape: 'ellipse', fill: '#bbdefb', border: '#1565c0', rank: 0 },
};
const PINNED = new Set(['failed', 'assumed_down', 'root']);
const ROLLUP_BORDER = '#1a237e';
const PATH_COLOUR = '#1565c0';
const fmt = (n) => n.toLocaleString('en-US');

let registered = false;
let current = null; // the view drawn last: destroyed when another one is drawn
function ensureRegistered() {
  if (!registered && typeof cytoscapeElk !== 'undefined') {
    cytoscape.use(cytoscapeElk);
  }
  registered = true;
  // cytoscape injects a <style> unless an element with this id exists: the page's CSP
  // (default-src 'self') refuses inline styles, and graph.css gives the container its position
  const marker = '__________cytoscape_stylesheet';
  if (!document.getElementById(marker)) document.head.append(h('meta', { id: marker, name: 'cytoscape-style' }));
}

// ---- small DOM helper (graph.js does not depend on app.js) -------------------------------

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'class') node.className = value;
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// ---- the model: full payload, collapse state, what is drawn ------------------------------

function stateOf(node) {
  return node.state && STATES[node.state] ? node.state : 'none';
}

function worst(states) {
  let best = 'none';
  for (const s of states) if (STATES[s].rank > STATES[best].rank) best = s;
  return best;
}

function layerLabels(payload) {
  const labels = new Map();
  for (const l of payload.layers || []) {
    const prev = labels.get(l.layer);
    labels.set(l.layer, prev ? `${prev} / ${l.label}` : l.label);
  }
  for (const n of payload.nodes) if (!labels.has(n.layer)) labels.set(n.layer, `layer ${n.layer}`);
  return labels;
}

class Model {
  constructor(payload) {
    this.payload = payload;
    this.nodes = payload.nodes;
    this.byId = new Map(this.nodes.map((n) => [n.id, n]));
    this.edges = (payload.edges || []).filter((e) => this.byId.has(e.from) && this.byId.has(e.to));
    this.layers = layerLabels(payload);
    this.maxLayer = Math.max(0, ...this.nodes.map((n) => n.layer));
    this.collapsed = new Set(); // 'layer:L' or 'class:L:CLS'
  }

  pinned(n) {
    return PINNED.has(stateOf(n));
  }

  aggKey(n) {
    if (this.pinned(n)) return null;
    if (this.collapsed.has(`layer:${n.layer}`)) return `layer:${n.layer}`;
    const key = `class:${n.layer}:${n.class}`;
    return this.collapsed.has(key) ? key : null;
  }

  classGroups() {
    const groups = new Map();
    for (const n of this.nodes) {
      if (this.pinned(n)) continue;
      const key = `class:${n.layer}:${n.class}`;
      const g = groups.get(key) || { key, layer: n.layer, cls: n.class, size: 0, rollup: n.rollup };
      g.size += 1;
      groups.set(key, g);
    }
    return [...groups.values()];
  }

  counts() {
    let hidden = 0;
    const aggs = new Set();
    for (const n of this.nodes) {
      const key = this.aggKey(n);
      if (key) {
        hidden += 1;
        aggs.add(key);
      }
    }
    return { total: this.nodes.length, hidden, visible: this.nodes.length - hidden, aggs: aggs.size };
  }

  drawnCount() {
    const c = this.counts();
    return c.visible + c.aggs;
  }

  autoCollapse(limit = AUTO_COLLAPSE) {
    if (this.nodes.length <= limit) return;
    // services and customers last: they are what a reader looks for first
    const groups = this.classGroups().sort(
      (a, b) => (a.rollup ? 1 : 0) - (b.rollup ? 1 : 0) || b.size - a.size,
    );
    let drawn = this.nodes.length;
    for (const g of groups) {
      if (drawn <= limit) return;
      if (g.size < 2) continue;
      this.collapsed.add(g.key);
      drawn -= g.size - 1;
    }
    const layers = [...this.layers.keys()].sort((a, b) => b - a);
    for (const layer of layers) {
      if (this.drawnCount() <= limit) return;
      this.collapsed.add(`layer:${layer}`);
    }
  }

  aggregates() {
    const aggs = new Map();
    for (const n of this.nodes) {
      const key = this.aggKey(n);
      if (!key) continue;
      let a = aggs.get(key);
      if (!a) {
        const byLayer = key.startsWith('layer:');
        a = {
          key, id: `agg:${key}`, layer: n.layer, cls: byLayer ? null : n.class,
          title: byLayer ? this.layers.get(n.layer) : n.class, members: [], states: {},
        };
        aggs.set(key, a);
      }
      a.members.push(n.id);
      const s = stateOf(n);
      a.states[s] = (a.states[s] || 0) + 1;
    }
    return aggs;
  }

  // cytoscape elements for what is drawn now
  elements() {
    const aggs = this.aggregates();
    const drawnId = new Map();
    for (const n of this.nodes) {
      const key = this.aggKey(n);
      drawnId.set(n.id, key ? `agg:${key}` : n.id);
    }
    const els = [];
    // distinct start positions: no edge has overlapping ends before the layout answers
    const start = () => ({ x: (els.length % 100) * 40, y: Math.floor(els.length / 100) * 40 });
    for (const n of this.nodes) {
      if (drawnId.get(n.id) !== n.id) continue;
      const parentOk = n.parent && drawnId.get(n.parent) === n.parent;
      els.push({ group: 'nodes', data: nodeData(n, parentOk ? n.parent : undefined, this), position: start() });
    }
    for (const a of aggs.values()) {
      els.push({ group: 'nodes', data: aggData(a, this.maxLayer), position: start() });
    }
    const seen = new Map();
    for (const e of this.edges) {
      const s = drawnId.get(e.from);
      const t = drawnId.get(e.to);
      if (s === t) continue;
      if (isAncestor(this, s, t) || isAncestor(this, t, s)) continue; // member in its own group
      const id = `e:${s}->${t}`;
      const prev = seen.get(id);
      if (prev) {
        prev.data.count += 1;
        continue;
      }
      const edge = { group: 'edges', data: { id, source: s, target: t, type: e.type, count: 1 } };
      seen.set(id, edge);
      els.push(edge);
    }
    this.drawnId = drawnId;
    this.aggMap = aggs;
    return els;
  }
}

function isAncestor(model, maybeParent, child) {
  const n = model.byId.get(child);
  return Boolean(n && n.parent === maybeParent && model.drawnIdOf(child) === child);
}

Model.prototype.drawnIdOf = function drawnIdOf(id) {
  const n = this.byId.get(id);
  if (!n) return id;
  const key = this.aggKey(n);
  return key ? `agg:${key}` : id;
};

function groupLabel(n) {
  const g = n.group;
  const out = g.out ? ` (${g.out} down)` : '';
  return `${n.name || n.id} — ${g.k} of ${g.n}${out}`;
}

function nodeData(n, parent, model) {
  const state = stateOf(n);
  let label = n.group ? groupLabel(n) : n.name || n.id;
  if (n.rollup === 'service') label = `Service: ${label}`;
  if (n.rollup === 'customer') label = `Customer: ${label}`;
  return {
    id: n.id, parent, label, state, cls: n.class, category: n.category, layer: n.layer,
    partition: model.maxLayer - n.layer, rollup: n.rollup || '', group: n.group || null,
    path: n.path || [], aggregate: false, count: 1, stale: Boolean(n.stale),
  };
}

function aggData(a, maxLayer) {
  const parts = Object.entries(a.states)
    .sort((x, y) => STATES[y[0]].rank - STATES[x[0]].rank)
    .map(([s, c]) => `${fmt(c)} ${s === 'none' ? 'no state' : STATES[s].label}`);
  return {
    id: a.id, label: `${a.title} ×${fmt(a.members.length)} — ${parts.join(', ')}`,
    state: worst(Object.keys(a.states)), cls: a.cls || '', layer: a.layer, partition: maxLayer - a.layer,
    aggregate: true, key: a.key, members: a.members, count: a.members.length,
    states: a.states, rollup: '', path: [],
  };
}

// ---- style ---------------------------------------------------------------------------

function stylesheet() {
  const style = [
    {
      selector: 'node',
      style: {
        label: 'data(label)', 'font-size': 12, 'text-valign': 'bottom', 'text-halign': 'center',
        'text-margin-y': 3, 'text-wrap': 'ellipsis', 'text-max-width': 110, width: 28, height: 28,
        'border-width': 1.5, color: '#212121', 'min-zoomed-font-size': 5,
        'text-background-color': '#ffffff', 'text-background-opacity': 0.7,
      },
    },
  ];
  for (const [name, s] of Object.entries(STATES)) {
    style.push({
      selector: `node[state = "${name}"]`,
      style: { shape: s.shape, 'background-color': s.fill, 'border-color': s.border },
    });
  }
  style.push(
    { selector: 'node[state = "failed"]', style: { 'border-style': 'double', 'border-width': 5, width: 36, height: 36 } },
    { selector: 'node[state = "assumed_down"]', style: { 'border-style': 'dashed', 'border-width': 3 } },
    {
      selector: 'node[rollup != ""]',
      style: { width: 40, height: 40, 'border-width': 4, 'border-color': ROLLUP_BORDER, 'font-weight': 'bold', 'font-size': 11 },
    },
    {
      selector: 'node[?aggregate]',
      style: {
        width: 'mapData(count, 2, 2000, 34, 70)', height: 'mapData(count, 2, 2000, 34, 70)',
        'border-style': 'dashed', 'border-width': 3, 'border-color': '#263238', 'font-style': 'italic',
        'text-max-width': 220,
      },
    },
    {
      selector: ':parent',
      style: {
        shape: 'round-rectangle', 'background-color': '#eceff1', 'background-opacity': 0.6,
        'border-width': 2, 'border-style': 'solid', 'text-valign': 'top', 'text-halign': 'center',
        'text-margin-y': -3, 'font-weight': 'bold', padding: 10, 'font-size': 11,
        'text-wrap': 'wrap', 'text-max-width': 170,
      },
    },
    {
      selector: 'edge',
      style: {
        width: 1, 'line-color': '#9e9e9e', 'target-arrow-color': '#9e9e9e',
        'target-arrow-shape': 'triangle', 'arrow-scale': 0.7, 'curve-style': 'straight', opacity: 0.7,
      },
    },
    { selector: '.dim', style: { opacity: 0.45 } },
    {
      selector: 'node.on-path',
      style: { 'overlay-color': PATH_COLOUR, 'overlay-opacity': 0.18, 'overlay-padding': 6, 'z-index': 20 },
    },
    {
      selector: 'edge.on-path',
      style: {
        width: 4, 'line-color': PATH_COLOUR, 'target-arrow-color': PATH_COLOUR, opacity: 1, 'z-index': 30,
      },
    },
    { selector: 'node:selected', style: { 'overlay-color': '#000000', 'overlay-opacity': 0.25, 'overlay-padding': 8 } },
  );
  return style;
}

// ---- layout ---------------------------------------------------------------------------

const ELK_OPTIONS = {
  algorithm: 'layered',
  'elk.direction': 'UP',
  'elk.partitioning.activate': true,
  'elk.hierarchyHandling': 'SEPARATE_CHILDREN',
  'elk.layered.spacing.nodeNodeBetweenLayers': 50,
  'elk.spacing.nodeNode': 14,
  'elk.separateConnectedComponents': false,
  'elk.layered.crossingMinimization.thoroughness': 2,
  'elk.layered.nodePlacement.strategy': 'BRANDES_KOEPF',
  'elk.layered.layering.strategy': 'NETWORK_SIMPLEX',
  'elk.edgeRouting': 'POLYLINE',
  'elk.layered.wrapping.strategy': 'OFF',
};

// Groups are laid out on their own (SEPARATE_CHILDREN) as a compact box of members, then
// placed as one node of their layer: with INCLUDE_CHILDREN a 14-desktop group became a
// 14-wide row and the drawing a thin strip (measured on the demo: see bench/bench_console.py).
const GROUP_OPTIONS = {
  'elk.algorithm': 'box', 'elk.aspectRatio': 1.4, 'elk.spacing.nodeNode': 8,
  'elk.padding': '[top=40,left=10,bottom=10,right=10]',
};

function elkLayout(cy, extra = {}) {
  const elk = { ...ELK_OPTIONS, aspectRatio: 1.6, ...extra };
  const separate = elk['elk.hierarchyHandling'] !== 'INCLUDE_CHILDREN';
  return {
    name: 'elk', fit: true, padding: 20, animate: false, nodeDimensionsIncludeLabels: true, elk,
    nodeLayoutOptions: (n) => (n.isParent() && separate
      ? { ...GROUP_OPTIONS, 'elk.partitioning.partition': n.data('partition') }
      : { 'elk.partitioning.partition': n.data('partition') }),
  };
}

// Layered preset: one band per layer (top = layer 0). A unit is a top-level node or a group
// with its members in a small grid; units are ordered inside their band by the barycentre of
// their neighbours' positions (a top-down, a bottom-up and a top-down sweep) and wrapped into
// rows. Linear in nodes + edges per sweep: what the page uses where ELK is too slow.
const COL_W = 130;
const ROW_H = 64;
const BAND_GAP = 40;
const GROUP_PAD = 36;

function presetUnits(cy) {
  const units = [];
  const unitOf = new Map();
  cy.nodes().orphans().forEach((n) => {
    const members = n.isParent() ? n.descendants().filter((c) => !c.isParent()).toArray() : [];
    const cols = members.length ? Math.ceil(Math.sqrt(members.length)) : 1;
    const rows = members.length ? Math.ceil(members.length / cols) : 1;
    const unit = {
      node: n, members, cols, layer: n.data('layer'),
      w: members.length ? cols * COL_W + GROUP_PAD : COL_W,
      h: members.length ? rows * ROW_H + GROUP_PAD : ROW_H,
      x: 0, bary: 0,
    };
    units.push(unit);
    unitOf.set(n.id(), unit);
    for (const m of members) unitOf.set(m.id(), unit);
  });
  const links = new Map(units.map((u) => [u, new Set()]));
  cy.edges().forEach((e) => {
    const a = unitOf.get(e.source().id());
    const b = unitOf.get(e.target().id());
    if (a && b && a !== b) {
      links.get(a).add(b);
      links.get(b).add(a);
    }
  });
  return { units, links };
}

function presetPositions(cy, maxWidth) {
  const { units, links } = presetUnits(cy);
  const bands = new Map();
  for (const u of units) {
    if (!bands.has(u.layer)) bands.set(u.layer, []);
    bands.get(u.layer).push(u);
  }
  const order = [...bands.keys()].sort((a, b) => a - b);
  units.forEach((u, i) => { u.x = i; });
  const sweep = (layers) => {
    const placed = new Set();
    for (const l of layers) {
      const list = bands.get(l);
      for (const u of list) {
        let sum = 0;
        let cnt = 0;
        for (const v of links.get(u)) {
          if (placed.has(v.layer)) {
            sum += v.x;
            cnt += 1;
          }
        }
        u.bary = cnt ? sum / cnt : u.x;
      }
      list.sort((a, b) => a.bary - b.bary);
      let x = 0;
      for (const u of list) {
        u.x = x + u.w / 2;
        x += u.w;
      }
      for (const u of list) u.x -= x / 2;
      placed.add(l);
    }
  };
  sweep(order);
  sweep([...order].reverse());
  sweep(order);
  const pos = new Map();
  let top = 0;
  for (const l of order) {
    // wrap the band into rows no wider than maxWidth
    const rows = [[]];
    let width = 0;
    for (const u of bands.get(l)) {
      if (width + u.w > maxWidth && rows[rows.length - 1].length) {
        rows.push([]);
        width = 0;
      }
      rows[rows.length - 1].push(u);
      width += u.w;
    }
    for (const row of rows) {
      const rowW = row.reduce((acc, u) => acc + u.w, 0);
      const rowH = Math.max(...row.map((u) => u.h));
      let x = -rowW / 2;
      for (const u of row) {
        if (u.members.length) {
          u.members.forEach((m, i) => {
            pos.set(m.id(), {
              x: x + GROUP_PAD / 2 + ((i % u.cols) + 0.5) * COL_W,
              y: top + GROUP_PAD * 0.75 + (Math.floor(i / u.cols) + 0.5) * ROW_H,
            });
          });
        } else {
          pos.set(u.node.id(), { x: x + u.w / 2, y: top + ROW_H / 2 });
        }
        x += u.w;
      }
      top += rowH;
    }
    top += BAND_GAP;
  }
  return pos;
}

function presetLayout(cy) {
  const total = cy.nodes().length;
  const pos = presetPositions(cy, Math.max(1600, Math.sqrt(total) * COL_W * 1.8));
  return {
    name: 'preset', fit: true, padding: 20, animate: false,
    positions: (n) => pos.get(n.id()) || { x: 0, y: 0 },
  };
}

// ---- SVG export ------------------------------------------------------------------------

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function polygon(shape, cx, cy, w, h) {
  const rx = w / 2;
  const ry = h / 2;
  const pts = (list) => list.map(([px, py]) => `${(cx + px * rx).toFixed(1)},${(cy + py * ry).toFixed(1)}`).join(' ');
  const ring = (k, offset, radii = [1]) => Array.from({ length: k }, (_, i) => {
    const a = offset + (2 * Math.PI * i) / k;
    const r = radii[i % radii.length];
    return [r * Math.cos(a), r * Math.sin(a)];
  });
  switch (shape) {
    case 'octagon': return pts(ring(8, Math.PI / 8));
    case 'hexagon': return pts(ring(6, 0));
    case 'diamond': return pts([[0, -1], [1, 0], [0, 1], [-1, 0]]);
    case 'triangle': return pts([[0, -1], [1, 1], [-1, 1]]);
    case 'star': return pts(ring(10, -Math.PI / 2, [1, 0.45]));
    default: return null;
  }
}

function svgColour(value) {
  return value || '#000000';
}

function nodeSvg(n) {
  const p = n.position();
  const w = n.width();
  const hgt = n.height();
  const fill = svgColour(n.style('background-color'));
  const stroke = svgColour(n.style('border-color'));
  const sw = parseFloat(n.style('border-width')) || 1;
  const dash = n.style('border-style') === 'dashed' ? ' stroke-dasharray="5,3"' : '';
  const id = esc(n.id());
  const attrs = `fill="${fill}" stroke="${stroke}" stroke-width="${sw}"${dash}`;
  let shape;
  let labelY;
  if (n.isParent()) {
    shape = `<rect x="${(p.x - w / 2).toFixed(1)}" y="${(p.y - hgt / 2).toFixed(1)}" width="${w.toFixed(1)}" height="${hgt.toFixed(1)}" rx="8" fill-opacity="0.6" ${attrs}/>`;
    labelY = p.y - hgt / 2 - 5;
  } else {
    const pts = polygon(n.style('shape'), p.x, p.y, w, hgt);
    shape = pts
      ? `<polygon points="${pts}" ${attrs}/>`
      : `<ellipse cx="${p.x.toFixed(1)}" cy="${p.y.toFixed(1)}" rx="${(w / 2).toFixed(1)}" ry="${(hgt / 2).toFixed(1)}" ${attrs}/>`;
    labelY = p.y + hgt / 2 + 12;
  }
  const weight = n.style('font-weight') === 'bold' ? ' font-weight="bold"' : '';
  const label = `<text x="${p.x.toFixed(1)}" y="${labelY.toFixed(1)}" text-anchor="middle"${weight}>${esc(n.data('label'))}</text>`;
  return `<g class="node" data-id="${id}" data-state="${esc(n.data('state'))}">${shape}${label}</g>`;
}

function edgeSvg(e) {
  const s = e.sourceEndpoint();
  const t = e.targetEndpoint();
  const colour = svgColour(e.style('line-color'));
  const width = parseFloat(e.style('width')) || 1;
  return `<line class="edge" x1="${s.x.toFixed(1)}" y1="${s.y.toFixed(1)}" x2="${t.x.toFixed(1)}" y2="${t.y.toFixed(1)}" stroke="${colour}" stroke-width="${width}" marker-end="url(#arrow)"/>`;
}

/** The drawing as a standalone SVG document (one <g class="node"> per drawn node). */
export function toSvg(cy) {
  const bb = cy.elements().boundingBox({ includeLabels: true });
  const pad = 20;
  const x0 = bb.x1 - pad;
  const y0 = bb.y1 - pad;
  const w = bb.w + 2 * pad;
  const hgt = bb.h + 2 * pad;
  const depth = (n) => n.ancestors().length;
  const nodes = cy.nodes().toArray().sort((a, b) => depth(a) - depth(b));
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="${x0.toFixed(1)} ${y0.toFixed(1)} ${w.toFixed(1)} ${hgt.toFixed(1)}" width="${w.toFixed(0)}" height="${hgt.toFixed(0)}" font-family="sans-serif" font-size="10">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#9e9e9e"/></marker></defs>',
    `<rect x="${x0.toFixed(1)}" y="${y0.toFixed(1)}" width="${w.toFixed(1)}" height="${hgt.toFixed(1)}" fill="#ffffff"/>`,
    ...nodes.filter((n) => n.isParent()).map(nodeSvg),
    ...cy.edges().map(edgeSvg),
    ...nodes.filter((n) => !n.isParent()).map(nodeSvg),
    '</svg>',
  ].join('\n');
}

function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// ---- the legend -----------------------------------------------------------------------

function legend(mode) {
  const wanted = mode === 'depends' ? ['root', 'none'] : ['failed', 'assumed_down', 'down', 'degraded', 'at_risk'];
  const swatch = (s) => h('span', { class: `graph-swatch shape-${STATES[s].shape}`, 'data-state': s });
  return h('div', { class: 'graph-legend', 'data-testid': 'graph-legend' },
    ...wanted.map((s) => h('span', { class: 'graph-legend-item' }, swatch(s), `${STATES[s].label} (${STATES[s].shape})`)),
    h('span', { class: 'graph-legend-item' }, h('span', { class: 'graph-swatch rollup' }), 'service / customer (large, navy border)'),
    h('span', { class: 'graph-legend-item' }, h('span', { class: 'graph-swatch group' }), 'redundancy group: k of n needed (out down)'),
    h('span', { class: 'graph-legend-item' }, h('span', { class: 'graph-swatch aggregate' }), 'collapsed CIs (×count; worst state; double-click to expand)'),
    h('span', { class: 'graph-legend-item' }, h('span', { class: 'graph-swatch path' }), 'explanation path of the selected CI'),
  );
}

// ---- the view -------------------------------------------------------------------------

/**
 * Render `payload` into `container`. Options: ciHref(id) -> link for a CI page (default
 * `#/ci/ID`), autoCollapse (threshold, default AUTO_COLLAPSE), layout ('auto'|'elk'|'preset').
 * Returns a controller {cy, model, collapseClasses, collapseLayers, expandAll, toggleLayer,
 * expand(key), collapseKey(key), select(id), toSvg(), destroy(), ready: Promise of the layout
 * stats}. Sets window.cmdbGraph; drawing another graph destroys this one.
 */
export function renderGraph(container, payload, options = {}) {
  ensureRegistered();
  const ciHref = options.ciHref || ((id) => `#/ci/${encodeURIComponent(id)}`);
  const model = new Model(payload);
  model.autoCollapse(options.autoCollapse ?? AUTO_COLLAPSE);

  const summary = h('p', { class: 'graph-summary', 'data-testid': 'graph-summary', 'aria-live': 'polite' });
  const notice = h('p', { class: 'graph-notice', 'data-testid': 'graph-notice', hidden: true });
  const details = h('aside', { class: 'graph-details', 'data-testid': 'graph-details' },
    h('p', { class: 'muted' }, 'Select a node to see its details and explanation path.'));
  const canvas = h('div', {
    class: 'graph-canvas', 'data-testid': 'impact-graph', 'data-ready': '0', role: 'img',
    'aria-label': `Impact graph of ${(payload.roots || []).join(', ')}: see the summary above`,
  });
  const layerBar = h('div', { class: 'graph-layers' });
  let layoutChoice = options.layout || 'auto';
  const layoutSelect = h('select', {
    'data-testid': 'graph-layout', title: 'Layout: auto = ELK up to '
      + `${ELK_MAX} drawn nodes, the layered preset above`,
    onchange: (ev) => {
      layoutChoice = ev.target.value;
      view.relayout();
    },
  }, ...[['auto', 'layout: auto'], ['elk', 'layout: ELK layered'], ['preset', 'layout: layered preset']]
    .map(([value, text]) => h('option', { value }, text)));
  layoutSelect.value = ['auto', 'elk', 'preset'].includes(layoutChoice) ? layoutChoice : 'auto';
  const button = (testid, text, onclick, title) => h('button', { type: 'button', 'data-testid': testid, onclick, title }, text);
  const toolbar = h('div', { class: 'graph-toolbar', 'data-testid': 'graph-toolbar' },
    button('graph-collapse-classes', 'Collapse by class', () => view.collapseClasses(), 'One node per class within each layer'),
    button('graph-collapse-layers', 'Collapse by layer', () => view.collapseLayers(), 'One node per layer'),
    button('graph-expand-all', 'Expand all', () => view.expandAll()),
    button('graph-fit', 'Fit', () => cy.fit(undefined, 20)),
    layoutSelect,
    button('export-svg', 'Export SVG', () => download(new Blob([toSvg(cy)], { type: 'image/svg+xml' }), 'blast-radius.svg')),
    button('export-png', 'Export PNG', () => download(cy.png({ full: true, output: 'blob', bg: '#ffffff', scale: 2, maxWidth: 8000, maxHeight: 8000 }), 'blast-radius.png')),
  );
  container.replaceChildren(
    h('div', { class: 'graph-view' }, toolbar, layerBar, summary, notice,
      h('div', { class: 'graph-main' }, canvas, details), legend(payload.mode)),
  );

  if (current) current.destroy();
  const cy = cytoscape({
    container: canvas, style: stylesheet(), elements: [],
    minZoom: 0.02, maxZoom: 4, hideEdgesOnViewport: true,
  });
  window.cmdbGraph = cy;
  let selected = null;

  function say(text) {
    notice.textContent = text || '';
    notice.hidden = !text;
  }

  function updateSummary() {
    const c = model.counts();
    summary.dataset.total = c.total;
    summary.dataset.visible = c.visible;
    summary.dataset.hidden = c.hidden;
    summary.dataset.aggregates = c.aggs;
    summary.dataset.omitted = payload.omitted || 0;
    const parts = [`Showing ${fmt(c.visible)} of ${fmt(c.total)} CIs one by one.`];
    if (c.hidden) {
      const aggs = [...model.aggMap.values()].sort((a, b) => b.members.length - a.members.length);
      const names = aggs.slice(0, 6).map((a) => `${a.title} ×${fmt(a.members.length)} (${model.layers.get(a.layer)})`);
      const more = aggs.length > 6 ? `, and ${aggs.length - 6} more groups` : '';
      parts.push(`${fmt(c.hidden)} hidden in ${c.aggs} collapsed group${c.aggs === 1 ? '' : 's'}: ${names.join(', ')}${more}.`);
    } else {
      parts.push('Nothing collapsed.');
    }
    if (payload.omitted) parts.push(`${fmt(payload.omitted)} more CIs left out by the server (max_nodes).`);
    summary.textContent = parts.join(' ');
    layerBar.replaceChildren(h('span', { class: 'muted' }, 'Layers:'),
      ...[...model.layers.entries()].sort((a, b) => a[0] - b[0]).map(([layer, label]) => {
        const on = model.collapsed.has(`layer:${layer}`);
        return h('button', {
          type: 'button', 'data-testid': 'graph-layer-toggle', 'data-layer': layer,
          'aria-pressed': on ? 'true' : 'false', onclick: () => view.toggleLayer(layer),
          title: on ? 'Expand this layer' : 'Collapse this layer into one node',
        }, `${on ? '⊞' : '⊟'} ${label}`);
      }));
  }

  let readyResolve;
  function relayout() {
    canvas.dataset.ready = '0';
    const els = model.elements();
    cy.batch(() => {
      cy.elements().remove();
      cy.add(els);
    });
    updateSummary();
    const drawn = cy.nodes().length;
    let engine = ['elk', 'preset', 'grid'].includes(layoutChoice)
      ? layoutChoice : (drawn <= ELK_MAX ? 'elk' : 'preset');
    if (engine === 'elk' && drawn > ELK_HARD_MAX) {
      engine = 'preset';
      say(`ELK is too slow above ${fmt(ELK_HARD_MAX)} nodes: drawn with the layered preset.`);
    }
    const started = performance.now();
    const ready = new Promise((resolve) => { readyResolve = resolve; });
    view.ready = ready; // the latest layout's
    let done = false;
    const finish = (used) => {
      if (done) return;
      done = true;
      const ms = Math.round(performance.now() - started);
      canvas.dataset.layout = used;
      canvas.dataset.layoutMs = ms;
      canvas.dataset.ready = '1';
      window.cmdbGraphStats = { layout: used, layoutMs: ms, drawn, edges: cy.edges().length };
      if (selected && cy.getElementById(selected).nonempty()) select(cy.getElementById(selected));
      readyResolve(window.cmdbGraphStats);
    };
    const spec = { elk: () => elkLayout(cy, options.elk), preset: () => presetLayout(cy),
      grid: () => ({ name: 'grid', fit: true, animate: false }) }; // grid: the bench's baseline
    const layout = cy.layout(spec[engine]());
    layout.one('layoutstop', () => finish(engine));
    if (engine === 'elk') {
      // cytoscape-elk swallows ELK's errors: fall back to the preset if it never answers
      setTimeout(() => {
        if (!done && !cy.destroyed()) {
          say('The layered layout took too long; drawn with the fast preset instead.');
          const fallback = cy.layout(presetLayout(cy));
          fallback.one('layoutstop', () => finish('preset'));
          fallback.run();
        }
      }, options.elkTimeoutMs ?? 8000);
    }
    layout.run();
    return ready;
  }

  function clearPath() {
    cy.elements().removeClass('on-path dim');
  }

  function highlightPath(ids) {
    clearPath();
    const drawn = [];
    for (const id of ids) {
      const d = model.drawnIdOf(id);
      if (drawn[drawn.length - 1] !== d) drawn.push(d);
    }
    const nodes = cy.collection();
    for (const id of drawn) nodes.merge(cy.getElementById(id));
    const edges = cy.collection();
    for (let i = 0; i + 1 < drawn.length; i += 1) {
      edges.merge(cy.getElementById(`e:${drawn[i]}->${drawn[i + 1]}`));
      edges.merge(cy.getElementById(`e:${drawn[i + 1]}->${drawn[i]}`));
    }
    if (nodes.empty()) return;
    cy.elements().not(nodes).not(edges).not(nodes.ancestors()).addClass('dim');
    nodes.addClass('on-path');
    edges.addClass('on-path');
  }

  function ciLinkEl(id, text) {
    return h('a', { href: ciHref(id), 'data-testid': 'graph-ci-link' }, text || id);
  }

  function detailsFor(node) {
    const d = node.data();
    const rows = (pairs) => h('dl', {}, ...pairs.filter(([, v]) => v !== undefined && v !== null && v !== '')
      .flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
    if (d.aggregate) {
      const states = Object.entries(d.states).map(([s, c]) => `${fmt(c)} ${s === 'none' ? 'no state' : STATES[s].label}`).join(', ');
      const first = d.members.slice(0, 25);
      return [
        h('h3', {}, d.label),
        rows([['layer', model.layers.get(d.layer)], ['class', d.cls || 'all classes'], ['CIs', fmt(d.count)], ['states', states]]),
        h('button', { type: 'button', 'data-testid': 'graph-expand', onclick: () => view.expand(d.key) }, `Expand (${fmt(d.count)} CIs)`),
        h('ul', { class: 'graph-members' }, ...first.map((id) => h('li', {}, ciLinkEl(id)))),
        d.members.length > first.length ? h('p', { class: 'muted' }, `and ${fmt(d.members.length - first.length)} more`) : null,
      ];
    }
    const n = model.byId.get(d.id);
    const path = n.path || [];
    return [
      h('h3', {}, n.name || n.id),
      h('p', {}, ciLinkEl(n.id, `Open CI page: ${n.id}`)),
      rows([
        ['state', d.state === 'none' ? 'no state' : STATES[d.state].label],
        ['class', n.class], ['layer', model.layers.get(n.layer)], ['criticality', n.criticality],
        ['rollup', n.rollup], ['stale', n.stale ? 'yes (not seen recently)' : ''],
        ['redundancy', n.group ? `${n.group.k} of ${n.group.n} needed, ${n.group.out} down` : ''],
        ['group', n.parent || ''],
      ]),
      path.length ? h('div', { class: 'graph-path', 'data-testid': 'graph-path' },
        h('h4', {}, 'Explanation path'),
        h('ol', {}, ...path.map((id) => h('li', {}, ciLinkEl(id, model.byId.get(id)?.name || id))))) : null,
      h('div', { class: 'graph-node-actions' },
        h('button', { type: 'button', 'data-testid': 'graph-collapse-node-class', disabled: model.pinned(n), onclick: () => view.collapseKey(`class:${n.layer}:${n.class}`) }, `Collapse ${n.class} in this layer`),
        h('button', { type: 'button', 'data-testid': 'graph-collapse-node-layer', disabled: model.pinned(n), onclick: () => view.collapseKey(`layer:${n.layer}`) }, 'Collapse this layer')),
    ];
  }

  function select(node) {
    selected = node.id();
    highlightPath(node.data('aggregate') ? [] : node.data('path'));
    details.replaceChildren(...detailsFor(node).filter(Boolean));
  }

  cy.on('tap', 'node', (evt) => select(evt.target));
  cy.on('tap', (evt) => {
    if (evt.target === cy) {
      selected = null;
      clearPath();
    }
  });
  cy.on('dbltap', 'node[?aggregate]', (evt) => view.expand(evt.target.data('key')));

  function tryChange(change) {
    if (canvas.dataset.ready !== '1') {
      say('Still laying out the graph: try again in a moment.');
      return Promise.resolve(null);
    }
    const before = new Set(model.collapsed);
    change();
    if (model.drawnCount() > MAX_VISIBLE) {
      model.collapsed = before;
      say(`That would draw more than ${fmt(MAX_VISIBLE)} nodes: collapse something else first, or narrow the query.`);
      return Promise.resolve(null);
    }
    say('');
    return relayout();
  }

  const view = {
    cy, model, toSvg: () => toSvg(cy),
    collapseClasses: () => tryChange(() => {
      for (const g of model.classGroups()) if (g.size >= 2) model.collapsed.add(g.key);
    }),
    collapseLayers: () => tryChange(() => {
      for (const layer of model.layers.keys()) model.collapsed.add(`layer:${layer}`);
    }),
    collapseKey: (key) => tryChange(() => model.collapsed.add(key)),
    expandAll: () => tryChange(() => model.collapsed.clear()),
    expand: (key) => tryChange(() => {
      model.collapsed.delete(key);
      if (key.startsWith('layer:')) {
        // expanding a layer shows its classes, still collapsed when large
        const layer = Number(key.split(':')[1]);
        for (const k of [...model.collapsed]) if (k.startsWith(`class:${layer}:`)) model.collapsed.delete(k);
      }
    }),
    relayout: () => tryChange(() => {}),
    toggleLayer: (layer) => (model.collapsed.has(`layer:${layer}`)
      ? view.expand(`layer:${layer}`) : view.collapseKey(`layer:${layer}`)),
    select: (id) => {
      const node = cy.getElementById(model.drawnIdOf(id));
      if (node.nonempty()) {
        cy.$(':selected').unselect();
        node.select();
        select(node);
      }
    },
  };
  // destroy once any running layout has answered (cytoscape-elk writes positions when ELK
  // resolves, which must not meet a destroyed instance)
  view.destroy = () => {
    if (current === view) current = null;
    if (window.cmdbGraph === cy) window.cmdbGraph = null;
    const gone = () => { if (!cy.destroyed()) cy.destroy(); };
    if (canvas.dataset.ready === '1') gone();
    else view.ready.then(gone);
  };
  current = view;
  relayout();
  return view;
}
