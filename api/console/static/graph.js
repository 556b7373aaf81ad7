// graph.js: draw an ImpactGraph (GET /api/v1/impact/graph) with cytoscape: the toolbar,
// summary, legend, side panel and the cytoscape instance. Its helpers: graph-model.js
// (collapse into aggregates, the elements drawn), graph-layout.js (ELK and the layered
// preset), graph-svg.js (SVG export).
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
//   graph-find               input: a CI id or name; selects it (or its aggregate) and centres
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

import { AUTO_COLLAPSE, Model, STATES, fmt } from './graph-model.js';
import { elkLayout, presetLayout } from './graph-layout.js';
import { toSvg } from './graph-svg.js';

export { AUTO_COLLAPSE, toSvg };
export const MAX_VISIBLE = 2500;
export const ELK_MAX = 100;
export const ELK_HARD_MAX = 800;
const FIND_OPTIONS = 3000; // datalist entries: enough to browse, cheap to build

const ROLLUP_BORDER = '#1a237e';
const PATH_COLOUR = '#1565c0';

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
    { selector: 'node[?stale][state != "failed"]', style: { 'border-style': 'dotted', 'border-width': 3, 'border-color': '#37474f' } },
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
      style: {
        'overlay-color': PATH_COLOUR, 'overlay-opacity': 0.18, 'overlay-padding': 6, 'z-index': 20,
        'font-size': 18, 'font-weight': 'bold', 'text-max-width': 260, 'text-background-opacity': 0.9,
        'min-zoomed-font-size': 0,
      },
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
    h('span', { class: 'graph-legend-item' }, h('span', { class: 'graph-swatch stale' }), 'stale: not seen recently (dotted border)'),
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
  const fileName = `${payload.mode === 'depends' ? 'depends-on' : 'blast-radius'}-${(payload.roots || []).join('_')}`
    .replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 120);
  const button = (testid, text, onclick, title) => h('button', { type: 'button', 'data-testid': testid, onclick, title }, text);
  // find a CI by id or name: selects it, or the aggregate that holds it, and centres on it
  const listId = `graph-find-list-${Math.random().toString(36).slice(2, 8)}`;
  const findList = h('datalist', { id: listId },
    ...model.nodes.slice(0, FIND_OPTIONS).map((n) => h('option', { value: n.id }, n.name || '')));
  const find = h('input', {
    type: 'search', 'data-testid': 'graph-find', list: listId, placeholder: 'Find a CI in the graph',
    'aria-label': 'Find a CI in the graph', size: 22,
    onchange: (ev) => {
      const text = ev.target.value.trim().toLowerCase();
      if (!text) return;
      const hit = model.nodes.find((n) => n.id.toLowerCase() === text)
        || model.nodes.find((n) => (n.name || '').toLowerCase() === text)
        || model.nodes.find((n) => n.id.toLowerCase().includes(text) || (n.name || '').toLowerCase().includes(text));
      if (hit) {
        say('');
        view.select(hit.id);
      } else say(`No CI matching “${ev.target.value}” in this graph.`);
    },
  });
  const toolbar = h('div', { class: 'graph-toolbar', 'data-testid': 'graph-toolbar' }, find, findList,
    button('graph-collapse-classes', 'Collapse by class', () => view.collapseClasses(), 'One node per class within each layer'),
    button('graph-collapse-layers', 'Collapse by layer', () => view.collapseLayers(), 'One node per layer'),
    button('graph-expand-all', 'Expand all', () => view.expandAll()),
    button('graph-fit', 'Fit', () => cy.fit(undefined, 20)),
    layoutSelect,
    button('export-svg', 'Export SVG', () => download(new Blob([toSvg(cy)], { type: 'image/svg+xml' }), `${fileName}.svg`)),
    button('export-png', 'Export PNG', () => download(cy.png({ full: true, output: 'blob', bg: '#ffffff', scale: 2, maxWidth: 8000, maxHeight: 8000 }), `${fileName}.png`)),
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
      else if (selected) {
        selected = null;
        details.replaceChildren(h('p', { class: 'muted' }, 'Select a node to see its details and explanation path.'));
      }
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
        h('button', {
          type: 'button', 'data-testid': 'graph-expand', onclick: () => view.expand(d.key),
          disabled: model.drawnCount() + d.count - 1 > MAX_VISIBLE,
          title: `At most ${fmt(MAX_VISIBLE)} nodes are drawn at once: open a CI below, or narrow the query`,
        }, `Expand (${fmt(d.count)} CIs)`),
        model.drawnCount() + d.count - 1 > MAX_VISIBLE
          ? h('p', { class: 'muted' }, `Too many to draw at once (at most ${fmt(MAX_VISIBLE)} nodes): open a CI below, or narrow the query.`)
          : null,
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
        cy.animate({ center: { eles: node }, duration: 200 });
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
