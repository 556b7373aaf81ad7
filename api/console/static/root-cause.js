// #/root-cause?incidents=INC-1,INC-2&cis=a,b&hours=72: rank the CIs whose failure best explains
// a set of incidents (and CIs reported down).
//
// Calls: GET /incidents?open_only=true (the form's checkboxes), POST /impact/root-cause
// {incident_ids, ci_ids, window_hours} (needs analyst: a reader sees the 403). Submitting the
// form only changes the hash; the view runs the query whenever the hash names symptoms, so a
// ranking can be shared as a link.
import {
  api,
  ciLink,
  el,
  loading,
  navigate,
  recordLink,
  registerView,
  section,
  showError,
  timeEl,
} from './app.js';

const DEFAULT_HOURS = 72;
const split = (s) => (s || '').split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
const pct = (x, digits = 1) => `${(100 * x).toFixed(digits)} %`;

function links(ids) {
  if (!ids || !ids.length) return el('span', { class: 'muted' }, 'none');
  return ids.map((id, i) => [i ? ', ' : '', ciLink(id)]);
}

function incidentChoice(inc, picked) {
  const id = `rc-${inc.id}`;
  const box = el('input', {
    type: 'checkbox', name: 'incident', value: inc.id, id, checked: picked.includes(inc.id),
  });
  return el('li', {}, box, ' ',
    el('label', { for: id }, el('strong', {}, inc.id), ` P${inc.priority} · ${inc.title} `,
      el('span', { class: 'muted' }, `(${inc.ci_ids.join(', ')}; opened `, timeEl(inc.opened_at), ')')));
}

function submitTo(f, ciInput, hoursInput) {
  return (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    const incs = [...f.querySelectorAll('input[name=incident]:checked')].map((x) => x.value);
    if (incs.length) q.set('incidents', incs.join(','));
    const extra = split(ciInput.value);
    if (extra.length) q.set('cis', extra.join(','));
    const hours = Number(hoursInput.value);
    if (hoursInput.value && hours !== DEFAULT_HOURS) q.set('hours', String(hours));
    navigate(`#/root-cause?${q.toString().replace(/%2C/g, ',')}`);
  };
}

async function form(picked, cis, hours) {
  const got = await api.get('/incidents', { open_only: true, limit: 500 });
  const ciInput = el('input', {
    id: 'rc-cis', type: 'text', value: cis.join(', '), placeholder: 'e.g. vm-exch-01, sw-dc-acc-05',
  });
  const hoursInput = el('input', {
    id: 'rc-hours', type: 'number', min: '0', step: '1', value: String(hours),
  });
  const f = el(
    'form',
    { class: 'card stack', 'data-testid': 'root-cause-form' },
    el('h2', {}, 'Symptoms'),
    el('fieldset', {},
      el('legend', {}, `Open incidents (${got.items.length})`),
      got.items.length
        ? el('ul', { class: 'checks' }, got.items.map((inc) => incidentChoice(inc, picked)))
        : el('p', { class: 'muted' }, 'No open incident.')),
    el('label', { for: 'rc-cis' }, 'Other CIs reported down (ids, comma-separated)'),
    ciInput,
    el('label', { for: 'rc-hours' }, 'Recent changes and incidents count within (hours)'),
    hoursInput,
    el('button', { type: 'submit', class: 'primary', 'data-testid': 'root-cause-submit' },
      'Rank root causes'),
  );
  f.addEventListener('submit', submitTo(f, ciInput, hoursInput));
  return f;
}

function evidence(list) {
  if (!list.length) return null;
  const item = (e) =>
    el('li', {}, el('span', { class: 'badge' }, e.kind), ' ', e.detail,
      e.record_id ? [' (', recordLink(e.record_id), ')'] : null,
      e.at ? [' ', timeEl(e.at)] : null,
      el('span', { class: 'muted' }, ` ${e.value >= 0 ? '+' : ''}${e.value.toFixed(2)}`));
  return el('ul', { class: 'evidence', 'aria-label': 'Evidence' }, list.map(item));
}

function candidate(c, rank) {
  const silent = c.silent_count
    ? el('p', { class: 'muted' },
      `Silent dependents (they would alert if it had failed): ${c.silent_count}; first: `,
      links(c.silent.slice(0, 8)))
    : null;
  return el(
    'li',
    { class: 'card candidate', 'data-testid': 'root-cause-candidate', 'data-ci': c.id },
    el('h3', {},
      el('span', { class: 'rank' }, `#${rank}`), ' ', ciLink(c.id), ' ',
      el('span', { class: 'badge' }, c.class), ' ',
      el('span', { class: 'confidence' }, `${pct(c.confidence)} confidence`),
      el('span', { class: 'muted small' },
        ` · score ${c.score.toFixed(2)} · covers ${pct(c.coverage, 0)}`)),
    el('p', { class: 'why' }, c.why),
    el('p', {}, el('strong', {}, 'Explains: '), links(c.explained)),
    c.unexplained.length ? el('p', {}, el('strong', {}, 'Misses: '), links(c.unexplained)) : null,
    silent,
    c.equivalents.length
      ? el('p', {}, el('strong', {}, 'Equivalent (same evidence): '), links(c.equivalents))
      : null,
    evidence(c.evidence),
    el('p', { class: 'actions' },
      el('a', { class: 'button', href: `#/impact?ci=${encodeURIComponent(c.id)}` }, 'Blast radius'),
      ` ${c.blast_radius_size} CIs`),
  );
}

function report(r) {
  const set = r.cause_set;
  const from = r.incidents.length
    ? [' from ', r.incidents.map((i, k) => [k ? ', ' : '', recordLink(i)])]
    : null;
  return el(
    'div',
    { 'data-testid': 'root-cause-report' },
    el('p', {}, 'Symptoms: ', links(r.symptoms), from, '.'),
    set && set.causes && set.causes.length > 1
      ? el('div', { class: 'card cause-set' },
        el('strong', {}, 'Best explanation: '), set.why, ` (${pct(set.confidence)}): `, links(set.causes))
      : null,
    r.candidates.length
      ? el('ol', { class: 'candidates' }, r.candidates.map((c, i) => candidate(c, i + 1)))
      : el('p', { class: 'muted' }, 'No candidate explains these symptoms.'),
  );
}

registerView('root-cause', async (box, params) => {
  const incidents = split(params.get('incidents'));
  const cis = split(params.get('cis'));
  const hours = Number(params.get('hours') || DEFAULT_HOURS);
  const asked = incidents.length > 0 || cis.length > 0;
  box.append(
    el('h1', {}, 'Root cause'),
    el('p', { class: 'muted' },
      'Pick the incidents (and any CI reported down): the CIs whose failure best explains them ',
      'come ranked, with what each explains and misses.'),
  );
  const results = section('Ranked candidates', {},
    asked ? loading('Ranking…') : el('p', { class: 'muted' }, 'Pick some symptoms first.'));
  const side = el('div', {}, loading());
  box.append(el('div', { class: 'grid-rc' }, side, results));
  try {
    side.replaceChildren(await form(incidents, cis, hours));
  } catch (e) {
    side.replaceChildren();
    showError(side, e);
  }
  if (!asked) return;
  try {
    const body = { incident_ids: incidents, ci_ids: cis, window_hours: hours };
    const r = await api.post('/impact/root-cause', body);
    results.replaceChildren(el('h2', {}, 'Ranked candidates'), report(r));
  } catch (e) {
    const holder = el('div');
    results.replaceChildren(el('h2', {}, 'Ranked candidates'), holder);
    showError(holder, e);
  }
});
