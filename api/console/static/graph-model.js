// graph-model.js: the impact graph's model for graph.js: the full payload, which (layer,
// class) groups or layers are collapsed into aggregate nodes, and the cytoscape elements of
// what is drawn. No DOM, no cytoscape: plain data in, plain element definitions out.
//
// Assumptions: the payload is an ImpactGraph (console.md); a node's `state` is one of STATES
// (null: no state, depends-on mode); failed, assumed-down and queried CIs are never aggregated;
// a member is drawn inside its group only when both are drawn one by one, and an edge between
// a member and its own group is then left out (the box says it).
//
// Example
//   const model = new Model(payload);
//   model.autoCollapse(350);            // collapse the largest classes first
//   model.collapsed.add('layer:8');     // or a whole layer
//   cy.add(model.elements());           // nodes (aggregates: data.aggregate) and edges

export const AUTO_COLLAPSE = 350;

export const STATES = {
  failed: { label: 'failed (root cause)', shape: 'star', fill: '#b71c1c', border: '#000000', rank: 6 },
  assumed_down: { label: 'assumed down', shape: 'hexagon', fill: '#757575', border: '#000000', rank: 5 },
  down: { label: 'down', shape: 'octagon', fill: '#e53935', border: '#7f0000', rank: 4 },
  degraded: { label: 'degraded', shape: 'diamond', fill: '#fb8c00', border: '#8d4300', rank: 3 },
  at_risk: { label: 'at risk', shape: 'triangle', fill: '#fdd835', border: '#8a7400', rank: 2 },
  root: { label: 'queried CI', shape: 'star', fill: '#1565c0', border: '#000000', rank: 1 },
  none: { label: 'dependency (no state)', shape: 'ellipse', fill: '#bbdefb', border: '#1565c0', rank: 0 },
};
export const PINNED = new Set(['failed', 'assumed_down', 'root']);
export const fmt = (n) => n.toLocaleString('en-US');

export function stateOf(node) {
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

export class Model {
  constructor(payload) {
    this.payload = payload;
    this.nodes = payload.nodes;
    this.byId = new Map(this.nodes.map((n) => [n.id, n]));
    this.edges = (payload.edges || []).filter((e) => this.byId.has(e.from) && this.byId.has(e.to));
    this.layers = layerLabels(payload);
    this.maxLayer = this.nodes.reduce((m, n) => Math.max(m, n.layer), 0); // no spread: 100k
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

