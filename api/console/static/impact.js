// #/impact?ci=a,b&mode=blast|depends&assume_down=x,y&open_incidents=1: the blast radius (or
// the depends-on graph) of one or more CIs, drawn by graph.js.
//
// Calls: GET /impact/graph (nodes, edges, counts: the drawing and the counts), and in blast
// mode GET /impact/blast-radius?limit=1 beside it, only for the SLAs of the affected services
// (the graph names services and customers; the report also their SLAs). The form is bound to
// the hash: submitting it navigates, and the route renders the answer, so a link or a reload
// shows the same picture.
//
// Test ids: impact-form (#impact-ci, #impact-mode, #impact-assume-down,
// #impact-open-incidents, #impact-submit), impact-counts (li[data-count=down|degraded|
// at_risk|services|customers|total] with data-value), impact-affected (services, customers,
// SLAs), and graph.js's (impact-graph, graph-summary, graph-legend, export-svg, export-png).
import { api, ciLink, el, loading, navigate, registerView, showError } from './app.js';
import { renderGraph } from './graph.js';

const fmt = (n) => Number(n || 0).toLocaleString('en-US');
const list = (value) => (value || '').split(',').map((s) => s.trim()).filter(Boolean);

function form(params) {
  const ci = el('input', { id: 'impact-ci', name: 'ci', value: params.get('ci') || '', placeholder: 'sw-dc-acc-05, dbi-core-rac-1', required: true, size: 32 });
  const mode = el('select', { id: 'impact-mode', name: 'mode' },
    el('option', { value: 'blast' }, 'blast radius (what fails with it)'),
    el('option', { value: 'depends' }, 'depends on (what it needs)'));
  mode.value = params.get('mode') === 'depends' ? 'depends' : 'blast';
  const assume = el('input', { id: 'impact-assume-down', name: 'assume_down', value: params.get('assume_down') || '', placeholder: 'CIs already out', size: 24 });
  const incidents = el('input', { id: 'impact-open-incidents', type: 'checkbox', name: 'open_incidents' });
  incidents.checked = ['1', 'true'].includes(params.get('open_incidents'));
  const f = el('form', { class: 'impact-form', 'data-testid': 'impact-form' },
    el('label', {}, 'CIs (comma-separated)', ci),
    el('label', {}, 'Mode', mode),
    el('label', {}, 'Assume down', assume),
    el('label', { class: 'inline' }, incidents, 'CIs with open incidents are down'),
    el('button', { id: 'impact-submit', type: 'submit', class: 'primary' }, 'Show'));
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    q.set('ci', list(ci.value).join(','));
    if (mode.value !== 'blast') q.set('mode', mode.value);
    if (list(assume.value).length) q.set('assume_down', list(assume.value).join(','));
    if (incidents.checked) q.set('open_incidents', '1');
    navigate(`#/impact?${q.toString()}`);
  });
  return f;
}

function counts(graph) {
  const c = graph.counts || {};
  const rollups = (kind) => graph.nodes.filter((n) => n.rollup === kind).length;
  const items = graph.mode === 'depends'
    ? [['total', 'dependencies', c.total ?? graph.nodes.length - graph.roots.length]]
    : [
      ['down', 'down', c.down], ['degraded', 'degraded', c.degraded], ['at_risk', 'at risk', c.at_risk],
      ['services', 'services', c.services ?? rollups('service')],
      ['customers', 'customers', c.customers ?? rollups('customer')],
    ];
  return el('ul', { class: 'impact-counts', 'data-testid': 'impact-counts' },
    items.map(([key, label, value]) => el('li', { 'data-count': key, 'data-value': value ?? 0 },
      el('strong', {}, fmt(value)), ` ${label}`)));
}

function stateBadge(state) {
  return state ? el('span', { class: `state state-${state}` }, state.replace('_', ' ')) : null;
}

function affected(graph, report) {
  const rolled = (kind) => graph.nodes.filter((n) => n.rollup === kind);
  const column = (title, nodes) => el('div', {},
    el('h3', {}, `${title} (${nodes.length})`),
    nodes.length
      ? el('ul', {}, nodes.map((n) => el('li', {}, ciLink(n.id, n.name || n.id), ' ', stateBadge(n.state))))
      : el('p', { class: 'muted' }, 'none'));
  const slas = report && report.slas ? report.slas : null;
  return el('div', { class: 'impact-affected', 'data-testid': 'impact-affected' },
    column('Services', rolled('service')),
    column('Customers', rolled('customer')),
    slas === null ? null : el('div', {},
      el('h3', {}, `SLAs (${slas.length})`),
      slas.length
        ? el('ul', {}, slas.map((s) => el('li', {}, ciLink(s.id, s.name || s.id),
          s.availability_target ? ` — target ${(s.availability_target * 100).toFixed(2)} %` : '',
          s.covers && s.covers.length ? el('span', { class: 'muted' }, ` (covers ${s.covers.join(', ')})`) : null)))
        : el('p', { class: 'muted' }, 'none')));
}

function title(graph) {
  const what = graph.mode === 'depends' ? 'Depends on' : 'Blast radius';
  const assumed = graph.assume_down && graph.assume_down.length
    ? ` (assumed down: ${graph.assume_down.join(', ')})` : '';
  return el('h1', {}, `${what}: ${graph.roots.join(', ')}${assumed}`);
}

async function render(box, params) {
  const cis = list(params.get('ci'));
  box.append(el('h1', {}, 'Impact'), form(params));
  if (!cis.length) {
    box.append(el('p', { class: 'muted' }, 'Name one or more CIs to see what their failure takes down (blast radius), or what they need (depends on). Assume-down CIs and open incidents count toward redundancy.'));
    return undefined;
  }
  const mode = params.get('mode') === 'depends' ? 'depends' : 'blast';
  const query = { ci: cis.join(','), mode };
  if (mode === 'blast') {
    if (params.get('assume_down')) query.assume_down = list(params.get('assume_down')).join(',');
    if (['1', 'true'].includes(params.get('open_incidents'))) query.open_incidents = true;
  }
  const wait = loading('Computing the impact…');
  box.append(wait);
  let graph;
  let report = null;
  try {
    const slas = mode === 'blast'
      ? api.get('/impact/blast-radius', { ...query, mode: undefined, limit: 1 }).catch(() => null)
      : Promise.resolve(null);
    [graph, report] = await Promise.all([api.get('/impact/graph', query), slas]);
  } catch (err) {
    wait.remove();
    showError(box, err);
    return undefined;
  }
  wait.remove();
  const holder = el('div', { class: 'impact-graph-holder' });
  box.replaceChildren(title(graph), form(params), counts(graph), holder, affected(graph, report));
  const view = renderGraph(holder, graph, { ciHref: (id) => ciLink(id).getAttribute('href') });
  return () => view.destroy();
}

registerView('impact', render);
