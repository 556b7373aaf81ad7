// graph-layout.js: the two layered layouts graph.js chooses between, both top-down from
// customers (layer 0) to the network: ELK layered through cytoscape-elk, and a preset computed
// here from `layer` for what ELK is too slow for (see graph.js's header for the figures).
//
// Example
//   cy.layout(elkLayout(cy)).run();     // or cy.layout(presetLayout(cy)).run()

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

export function elkLayout(cy, extra = {}) {
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

export function presetLayout(cy) {
  const total = cy.nodes().length;
  const pos = presetPositions(cy, Math.max(1600, Math.sqrt(total) * COL_W * 1.8));
  return {
    name: 'preset', fit: true, padding: 20, animate: false,
    positions: (n) => pos.get(n.id()) || { x: 0, y: 0 },
  };
}

