// #/ci/<id>: one CI. One call for the CI and what surrounds it (GET /ci-pages/<id>: the CI,
// relationship counts by type and direction, the first 5 relationships of each, open records,
// missing recommended attributes), one for its history (GET /history?ci=<id>&order=desc, newest
// first, paged by next_cursor).
//
// Assumptions: `provenance` maps a field path (`owner`, `attributes.os`, `identifiers.ips`) to
// the discovery source that last set it; a path with no entry was entered by hand or loaded.
// Relationship type names and their inverses come from GET /registry/relationship-types (read
// once per session) so that an incoming `runs_on` reads "hosts".
import {
  api,
  ciLink,
  el,
  loading,
  pathId,
  recordLink,
  registerView,
  section,
  session,
  showError,
  table,
  timeEl,
} from './app.js';

const HISTORY_PAGE = 50;
const HISTORY_COLUMNS = ['When', 'Who', 'Record', 'What', 'Change'];
const LINKS_PER_TYPE = 12;
let inverses = null;

async function relInverses() {
  if (inverses) return inverses;
  try {
    const types = await api.get('/registry/relationship-types');
    inverses = new Map(types.map((t) => [t.name, t.inverse || `${t.name} (from)`]));
  } catch (_) {
    inverses = new Map();
  }
  return inverses;
}

function show(value) {
  if (value === null || value === undefined || value === '') return el('span', { class: 'muted' }, '—');
  if (Array.isArray(value)) return value.length ? value.join(', ') : el('span', { class: 'muted' }, '—');
  if (typeof value === 'object') return el('code', {}, JSON.stringify(value));
  return String(value);
}

function source(prov, path, value) {
  const seenIn = path.match(/^identifiers\.keys\.seen_in:(.+)$/);
  const src = prov[path] || (seenIn && seenIn[1]);
  if (!src && (value === null || value === undefined)) return '';
  if (!src) {
    const why = 'no discovery source: entered by hand or loaded';
    return el('span', { class: 'muted', title: why }, 'manual');
  }
  return el('span', { class: 'badge source' }, src);
}

function header(ci) {
  const impact = `#/impact?ci=${encodeURIComponent(ci.id)}`;
  const stale = Object.keys(ci.stale_since || {}).length > 0;
  return el(
    'header',
    { class: 'page-head' },
    el('h1', {}, ci.name || ci.id),
    el(
      'p',
      { class: 'meta' },
      el('span', { class: 'mono' }, ci.id),
      el('span', { class: 'badge' }, ci.class),
      el('span', { class: `badge status-${ci.status}` }, ci.status),
      ci.criticality
        ? el('span', { class: `badge crit-${ci.criticality}` }, `criticality ${ci.criticality}`)
        : null,
      stale ? el('span', { class: 'badge warn' }, 'stale') : null,
    ),
    el(
      'p',
      { class: 'actions' },
      el('a', { class: 'button', href: `${impact}`, 'data-testid': 'ci-blast-radius' }, 'Blast radius'),
      el('a', { class: 'button', href: `${impact}&mode=depends`, 'data-testid': 'ci-depends-on' },
        'Depends on'),
    ),
  );
}

function attributes(ci) {
  const prov = ci.provenance || {};
  const link = (v) => (v ? ciLink(v) : show(v));
  const rows = [
    ['name', ci.name, 'name'],
    ['owner', ci.owner, 'owner'],
    ['support group', ci.support_group ? link(ci.support_group) : null, 'support_group'],
    ['description', ci.description, 'description'],
    ['min required (k of n)', ci.min_required, 'min_required'],
  ]
    .filter(([label, value]) => value !== null || !['description', 'min required (k of n)'].includes(label))
    .concat(Object.keys(ci.attributes || {}).sort().map((k) => [k, ci.attributes[k], `attributes.${k}`]))
    .map(([label, value, path]) => [
      label,
      value instanceof Node ? value : show(value),
      source(prov, path, value),
    ]);
  const missing = ci.missing_recommended || [];
  return section(
    'Attributes',
    { 'data-testid': 'ci-attributes' },
    table(['Attribute', 'Value', 'Set by'], rows, { class: 'kv' }),
    missing.length
      ? el('p', { class: 'warn-text' }, 'Missing recommended: ', missing.join(', '))
      : null,
  );
}

function identifiers(ci) {
  const ids = ci.identifiers || {};
  const prov = ci.provenance || {};
  const rows = [];
  for (const [k, v] of Object.entries(ids)) {
    if (k === 'keys') {
      for (const [kk, vv] of Object.entries(v || {})) {
        rows.push([kk, show(vv), source(prov, `identifiers.keys.${kk}`, vv)]);
      }
    } else if (v !== null && !(Array.isArray(v) && !v.length)) {
      rows.push([k.replace(/_/g, ' '), show(v), source(prov, `identifiers.${k}`, v)]);
    }
  }
  return section(
    'Identifiers',
    { 'data-testid': 'ci-identifiers' },
    rows.length
      ? table(['Identifier', 'Value', 'Set by'], rows, { class: 'kv' })
      : el('p', { class: 'muted' }, 'No identifiers.'),
  );
}

function freshness(ci) {
  const seen = ci.last_seen || {};
  const stale = ci.stale_since || {};
  const sources = [...new Set([...Object.keys(seen), ...Object.keys(stale)])].sort();
  return section(
    'Freshness',
    { 'data-testid': 'ci-freshness' },
    sources.length
      ? table(
          ['Source', 'Last seen', 'Stale since'],
          sources.map((s) => [
            el('span', { class: 'badge source' }, s),
            timeEl(seen[s]),
            stale[s] ? timeEl(stale[s]) : el('span', { class: 'muted' }, 'not stale'),
          ]),
        )
      : el('p', { class: 'muted' }, 'No discovery source has reported this CI.'),
    el('p', { class: 'muted small' }, 'Created ', timeEl(ci.created_at), '; updated ',
      timeEl(ci.updated_at), `; version ${ci.version}.`),
  );
}

function relationships(ci, inv) {
  const counts = ci.relationship_counts || [];
  const listed = ci.relationships || [];
  const rows = counts.map((c) => {
    const out = c.direction === 'out';
    const mine = listed.filter((r) => r.type === c.type && (out ? r.source : r.target) === ci.id);
    const shown = mine.slice(0, LINKS_PER_TYPE);
    const others = shown.map((r, i) => [i ? ', ' : '', ciLink(out ? r.target : r.source)]);
    const more = c.count - shown.length;
    return el(
      'tr',
      {},
      el('td', {}, out ? c.type : inv.get(c.type) || c.type,
        el('span', { class: 'muted small' }, out ? ' (out)' : ` (in: ${c.type})`)),
      el('td', { class: 'num' }, String(c.count)),
      el('td', {}, others, more > 0 ? el('span', { class: 'muted' }, ` … and ${more} more`) : null),
    );
  });
  return section(
    `Relationships (${ci.relationships_total ?? listed.length})`,
    { 'data-testid': 'ci-relationship-counts' },
    counts.length
      ? table(['Type', 'Count', 'With (first ones)'], rows)
      : el('p', { class: 'muted' }, 'No active relationship.'),
  );
}

function openRecords(records) {
  const body = records.length
    ? table(
        ['Record', 'Kind', 'Status', 'Title', 'Detail'],
        records.map((r) => [
          recordLink(r.id),
          r.kind,
          r.status,
          r.title,
          r.kind === 'incident'
            ? `P${r.priority} · urgency ${r.urgency}`
            : r.kind === 'change'
              ? [timeEl(r.window_start), ' → ', timeEl(r.window_end, { relative: false })]
              : '',
        ]),
      )
    : el('p', { class: 'muted' }, 'No open incident, problem or change.');
  return section('Open incidents and changes', { 'data-testid': 'ci-open-records' }, body);
}

function incidentForm(ci, onOpened) {
  const title = el('input', {
    id: 'incident-title',
    type: 'text',
    required: true,
    maxlength: '300',
    value: `${ci.name || ci.id}: `,
  });
  const urgency = el(
    'select',
    { id: 'incident-urgency' },
    ['low', 'medium', 'high'].map((u) => el('option', { value: u, selected: u === 'medium' }, u)),
  );
  const result = el('div', { 'aria-live': 'polite' });
  const form = el(
    'form',
    { class: 'stack', 'data-testid': 'open-incident' },
    el('p', { class: 'muted small' },
      'Opens an incident on this CI with its computed priority (needs the analyst role',
      session.role === 'reader' ? '; your key is a reader' : '', ').'),
    el('label', { for: 'incident-title' }, 'Title'),
    title,
    el('label', { for: 'incident-urgency' }, 'Urgency'),
    urgency,
    el('button', { type: 'submit', class: 'primary', 'data-testid': 'open-incident-submit' },
      'Open incident'),
    result,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const button = form.querySelector('button');
    button.disabled = true;
    result.replaceChildren();
    try {
      const body = { ci_ids: [ci.id], urgency: urgency.value, title: title.value.trim() };
      const done = await api.post('/incidents', body);
      result.replaceChildren(
        el('p', { class: 'ok', 'data-testid': 'incident-opened' },
          `Opened ${done.id}: priority P${done.priority} (impact ${done.impact}, urgency ${done.urgency})`,
          done.services && done.services.length ? `; services ${done.services.join(', ')}` : '', '.'),
      );
      onOpened();
    } catch (e) {
      showError(result, e);
    } finally {
      button.disabled = false;
    }
  });
  return section('Open incident', { class: 'card' }, form);
}

function what(line) {
  if (line.action === 'create') return 'created';
  if (line.action === 'retire' && !line.changes.length) return 'retired';
  if (!line.changes.length) return line.action;
  return el(
    'ul',
    { class: 'changes' },
    line.changes.map((c) => el('li', {}, el('code', {}, c.path), ': ', fmt(c.before), ' → ', fmt(c.after))),
  );
}

function fmt(v) {
  if (v === null || v === undefined) return el('span', { class: 'muted' }, '∅');
  return el('span', { class: 'val' }, typeof v === 'string' ? v : JSON.stringify(v));
}

function entityOf(line, id) {
  if (line.entity === 'ci') return line.entity_id === id ? 'this CI' : ciLink(line.entity_id);
  if (line.entity === 'relationship') {
    const [s, t, d] = line.entity_id.split('|');
    return [s === id ? 'this CI' : ciLink(s), ` ${t} `, d === id ? 'this CI' : ciLink(d)];
  }
  return `${line.entity} ${line.entity_id}`;
}

function historyRows(items, id) {
  return items.map((h) =>
    el(
      'tr',
      {},
      el('td', { class: 'nowrap' }, timeEl(h.at)),
      el('td', {},
        h.source ? [el('span', { class: 'badge source' }, h.source), ` ${h.run_id || ''}`] : h.actor),
      el('td', {}, h.change_record ? recordLink(h.change_record) : el('span', { class: 'muted' }, '—')),
      el('td', {}, entityOf(h, id)),
      el('td', {}, what(h)),
    ),
  );
}

function history(id) {
  const body = el('tbody');
  const more = el('button', { type: 'button', hidden: true, 'data-testid': 'history-more' }, 'More history');
  const note = el('p', { class: 'muted small' });
  const box = section(
    'History',
    { 'data-testid': 'ci-history' },
    el('table', {},
      el('thead', {}, el('tr', {}, HISTORY_COLUMNS.map((h) => el('th', { scope: 'col' }, h)))),
      body),
    note,
    more,
  );
  let cursor = null;
  let shown = 0;
  async function page() {
    more.disabled = true;
    try {
      const got = await api.get('/history', { ci: id, order: 'desc', limit: HISTORY_PAGE, cursor });
      body.append(...historyRows(got.items, id));
      shown += got.items.length;
      cursor = got.next_cursor;
      more.hidden = !cursor;
      const entries = `${shown} entr${shown === 1 ? 'y' : 'ies'}`;
      note.textContent = `${entries} shown, newest first${cursor ? '; older ones below' : ''}.`;
    } catch (e) {
      showError(box, e);
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', page);
  return { box, page };
}

registerView('ci', async (box, params) => {
  const id = params.get('id');
  if (!id) {
    box.append(el('h1', {}, 'CI'), el('p', {}, 'Search for a CI in the box above.'));
    return;
  }
  box.append(loading(`Loading ${id}…`));
  const [ci, inv] = await Promise.all([api.get(`/ci-pages/${pathId(id)}`), relInverses()]);
  const records = el('div', {}, openRecords(ci.open_records || []));
  const refresh = async () => {
    try {
      const again = await api.get(`/ci-pages/${pathId(id)}`);
      records.replaceChildren(openRecords(again.open_records || []));
    } catch (e) {
      showError(records, e);
    }
  };
  const hist = history(id);
  box.replaceChildren(
    el(
      'article',
      { 'data-testid': 'ci-page', class: 'ci-page' },
      header(ci),
      el(
        'div',
        { class: 'grid2' },
        el('div', {}, attributes(ci), identifiers(ci), freshness(ci)),
        el('div', {}, relationships(ci, inv), records, incidentForm(ci, refresh)),
      ),
      hist.box,
    ),
  );
  document.title = `${ci.name || ci.id} · graph-cmdb`;
  await hist.page();
});
