// #/change: the changes still to be done, with their risk; #/change/<CHG-id>: one change's
// assessment, as the CAB sees it.
//
// Calls: GET /changes?open_only=true (list), GET /changes/<id> (the record),
// GET /changes/<id>/risk (score, factors, collisions, redundancy left: needs change_manager; a
// weaker key sees the 403 and still the record), GET /impact/blast-radius?ci=<its CIs>&
// limit=1 (only for the SLAs of the affected services: the assessment names services and
// customers, the blast radius of the same CIs also their SLAs).
import {
  api,
  ciLink,
  el,
  loading,
  pathId,
  recordLink,
  registerView,
  section,
  showError,
  table,
  timeEl,
} from './app.js';

const MAX_LINKS = 40;
const LIST_COLUMNS = ['Change', 'Title', 'Status', 'Type', 'Window', 'Risk', 'CAB'];

const none = (text = 'none') => el('span', { class: 'muted' }, text);
const stateEl = (state) =>
  el('span', { class: `state state-${state}` }, String(state).replace('_', ' '));
const level = (lvl) => el('span', { class: `badge level-${lvl}` }, lvl);
const percent = (x) => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(2)} %`);

function links(ids, max = MAX_LINKS) {
  if (!ids || !ids.length) return none();
  const shown = ids.slice(0, max).map((id, i) => [i ? ', ' : '', ciLink(id)]);
  const more = ids.length > max ? none(` … and ${ids.length - max} more`) : null;
  return el('span', {}, shown, more);
}

function states(list) {
  if (!list || !list.length) return none();
  const items = list.map((s) => el('li', {}, ciLink(s.id), ' ', stateEl(s.state)));
  return el('ul', { class: 'inline-list' }, items);
}

async function changeList(box) {
  box.append(el('h1', {}, 'Changes to come'), loading());
  const got = await api.get('/changes', { open_only: true, limit: 200 });
  const rows = got.items.map((c) => [
    recordLink(c.id),
    c.title,
    c.status,
    c.type,
    timeEl(c.window_start),
    c.risk ? [el('strong', {}, String(c.risk.score)), ' ', level(c.risk.level)] : '—',
    c.cab
      ? [c.cab, c.cab_reasons?.length ? el('div', { class: 'muted small' }, c.cab_reasons.join('; ')) : null]
      : '—',
  ]);
  box.replaceChildren(
    el('h1', {}, 'Changes to come'),
    el('p', { class: 'muted' },
      'Open changes by id, with their risk and CAB decision. ',
      'Open one for its factors, collisions and the redundancy left.'),
    rows.length
      ? table(LIST_COLUMNS, rows, { 'data-testid': 'change-list' })
      : el('p', {}, 'No open change.'),
  );
}

function recordCard(chg) {
  const scope = chg.ci_ids.map(encodeURIComponent).join(',');
  return el(
    'header',
    { class: 'page-head' },
    el('h1', {}, `${chg.id}: ${chg.title}`),
    el('p', { class: 'meta' },
      el('span', { class: 'badge' }, chg.type),
      el('span', { class: 'badge' }, chg.status),
      'Window ', timeEl(chg.window_start), ' → ', timeEl(chg.window_end, { relative: false })),
    el('p', {}, 'Changes: ', links(chg.ci_ids)),
    el('p', { class: 'actions' },
      el('a', {
        class: 'button',
        href: `#/impact?ci=${scope}&open_incidents=1`,
        'data-testid': 'change-blast-radius',
      }, 'Blast radius of its scope'),
      el('a', { class: 'button', href: '#/change' }, 'All changes')),
  );
}

function score(a) {
  const cab = a.cab_required ? 'CAB required' : 'no CAB needed';
  return section(
    'Risk',
    { class: 'card risk' },
    el('p', { class: 'score-line' },
      el('span', { class: `score level-${a.level}`, 'data-testid': 'change-risk-score' }, String(a.score)),
      el('span', { class: 'muted' }, ' / 100 '),
      level(a.level),
      el('span', { class: `badge ${a.cab_required ? 'warn' : 'ok'}`, 'data-testid': 'change-cab' }, cab)),
    a.headline ? el('p', { class: 'headline' }, a.headline) : null,
    a.cab_reasons.length ? el('p', {}, 'CAB: ', a.cab_reasons.join('; '), '.') : null,
    a.level_reasons.length
      ? el('p', { class: 'muted' }, 'Level: ', a.level_reasons.join('; '), '.')
      : null,
    el('p', { class: 'muted small' }, `Weights: ${a.weights}.`),
  );
}

function factors(a) {
  const top = Math.max(1, ...a.factors.map((f) => f.points));
  const rows = a.factors.map((f) =>
    el('tr', {},
      el('td', {}, f.name.replace(/_/g, ' ')),
      el('td', { class: 'num' }, String(f.weight)),
      el('td', { class: 'num' }, f.value.toFixed(2)),
      el('td', { class: 'num' }, el('strong', {}, f.points.toFixed(2))),
      el('td', { class: 'barcell', 'aria-hidden': 'true' },
        el('div', { class: 'bar', style: { width: `${Math.min(100, (100 * f.points) / top)}%` } })),
      el('td', {}, f.detail)),
  );
  return section(
    'Factors',
    { 'data-testid': 'change-factors' },
    el('p', { class: 'muted small' },
      'Points: what each factor adds to the score (its weight times its value, scaled).'),
    table(['Factor', 'Weight', 'Value', 'Points', '', 'Why'], rows, { class: 'factors' }),
  );
}

function collision(c) {
  return el('div', { class: 'collision' },
    el('h3', {}, recordLink(c.change_id), `: ${c.title} `, el('span', { class: 'badge' }, c.status),
      c.combined_outage ? el('span', { class: 'badge bad' }, 'together: outage') : null),
    el('p', {}, 'Overlap ', timeEl(c.overlap_start), ' → ',
      timeEl(c.overlap_end, { relative: false }), `; ${c.shared} CIs affected by both.`),
    el('p', {}, 'Down together: ', links(c.down_together, 20)),
    el('p', {}, 'Services: ', links(c.services), '; SLAs: ', links(c.slas)),
  );
}

function collisions(a) {
  return section(
    `Collisions (${a.collisions.length})`,
    { 'data-testid': 'change-collisions' },
    a.collisions.length
      ? a.collisions.map(collision)
      : el('p', { class: 'muted' }, 'No overlapping change with intersecting impact.'),
  );
}

function redundancy(a) {
  const imp = a.impact || {};
  const groups = imp.groups || [];
  const spofs = imp.single_points || [];
  const groupRows = groups.map((g) => [
    ciLink(g.id), stateEl(g.state), String(g.up), String(g.members), String(g.needs),
  ]);
  return section(
    'Redundancy left during the window',
    { 'data-testid': 'change-redundancy' },
    groups.length
      ? table(['Group', 'State', 'Up', 'Of', 'Needs'], groupRows)
      : el('p', { class: 'muted' }, 'No redundancy group loses a member.'),
    el('h3', {}, `Single points of failure while it runs (${spofs.length})`),
    spofs.length
      ? table(['CI', 'Class', 'Takes down'], spofs.map((s) => [ciLink(s.id), s.class, links(s.services)]))
      : el('p', { class: 'muted' }, 'None.'),
    a.spof_for.length ? el('p', {}, 'The changed CIs alone take down: ', links(a.spof_for)) : null,
  );
}

function suppliers(a) {
  const failing = (a.suppliers || []).filter((s) => s.failing.length);
  if (!failing.length) return null;
  const rows = failing.map((s) => [
    ciLink(s.id, s.name),
    s.contact || '—',
    links(s.failing),
    s.contracts.map((k) => k.name).join('; ') || '—',
  ]);
  return [el('h3', {}, 'Whom to call'), table(['Supplier', 'Contact', 'Changed CIs', 'Contracts'], rows)];
}

function affected(a, slas) {
  const imp = a.impact || {};
  const c = a.counts;
  const count = (k) =>
    el('span', { class: `count state-${k}` }, el('strong', {}, String(c[k] ?? 0)), ` ${k.replace('_', ' ')}`);
  const worse = imp.made_worse || [];
  const already = imp.already_affected || [];
  return section(
    'Affected',
    { 'data-testid': 'change-affected' },
    el('p', { class: 'counts' }, ['down', 'degraded', 'at_risk', 'total'].map(count)),
    el('h3', {}, `Services (${a.services.length})`),
    imp.service_states ? states(imp.service_states) : links(a.services),
    el('h3', {}, `Customers (${a.customers.length})`),
    imp.customer_states ? states(imp.customer_states) : links(a.customers),
    el('h3', {}, 'SLAs'),
    slas,
    worse.length
      ? el('p', {}, 'Made worse than the open incidents leave them: ', links(worse.map((m) => m.id)))
      : null,
    already.length
      ? el('p', {}, 'Already affected by: ', already.map((r, i) => [i ? ', ' : '', recordLink(r.record)]))
      : null,
    suppliers(a),
  );
}

function slaList(ciIds, services) {
  const holder = el('div', {}, loading('Finding the SLAs…'));
  api
    .get('/impact/blast-radius', { ci: ciIds.join(','), limit: 1 })
    .then((br) => {
      const slas = (br.slas || []).filter((s) => s.covers.some((x) => services.includes(x)));
      const row = (s) => [ciLink(s.id, s.name || s.id), percent(s.availability_target), links(s.covers)];
      const rows = slas.map(row);
      holder.replaceChildren(
        slas.length
          ? table(['SLA', 'Target', 'Covers'], rows)
          : el('p', { class: 'muted' }, 'No SLA covers the affected services.'),
      );
    })
    .catch((e) => {
      holder.replaceChildren();
      showError(holder, e);
    });
  return holder;
}

async function changePage(box, id) {
  box.append(loading(`Loading ${id}…`));
  const chg = await api.get(`/changes/${pathId(id)}`);
  const body = el('div', {}, loading('Assessing the risk…'));
  box.replaceChildren(recordCard(chg), body);
  document.title = `${chg.id} · graph-cmdb`;
  let a;
  try {
    a = await api.get(`/changes/${pathId(id)}/risk`);
  } catch (e) {
    body.replaceChildren();
    showError(body, e);
    return;
  }
  body.replaceChildren(
    el('div', { class: 'grid2' },
      el('div', {}, score(a), redundancy(a)),
      el('div', {}, affected(a, slaList(a.ci_ids, a.services)))),
    factors(a),
    collisions(a),
  );
}

registerView('change', async (box, params) => {
  const id = params.get('id');
  if (id) await changePage(box, id);
  else await changeList(box);
});
