// #/audit?rule=&dimension=&severity=: health scores by dimension and by class, and the findings,
// each linking to its CI, filtered in the page (filters are kept in the hash).
//
// Calls: GET /audit (AuditResult: scores.overall, scores.dimensions, scores.classes{cis,
// overall, dimensions}, findings[{rule, dimension, severity, ci, ci_class, relationship, why}],
// counts by rule), and on demand GET /audit/report?format=html|md|junit (the evidence report,
// downloaded as a file: it needs the key, so it cannot be a plain link).
import { api, ciLink, el, loading, registerView, section, showError } from './app.js';

const PAGE = 300;
const SEVERITY = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };
const COLUMNS = ['Severity', 'Rule', 'Dimension', 'CI', 'Class', 'Why'];
const REPORTS = [
  ['html', 'Evidence report (HTML)', 'html'],
  ['md', 'Markdown', 'md'],
  ['junit', 'JUnit XML', 'xml'],
];
const FILTERS = ['rule', 'dimension', 'severity'];

const bySeverity = (a, b) => (SEVERITY[a] ?? 9) - (SEVERITY[b] ?? 9);
const clamp = (x) => Math.max(0, Math.min(100, x));

function bar(score, label) {
  const tone = score >= 95 ? 'good' : score >= 80 ? 'fair' : 'poor';
  return el(
    'div',
    { class: 'bar-row', role: 'img', 'aria-label': `${label}: ${score.toFixed(2)} out of 100` },
    el('span', { class: 'bar-label' }, label),
    el('span', { class: 'bar-track' },
      el('span', { class: `bar-fill ${tone}`, style: { width: `${clamp(score)}%` } })),
    el('span', { class: 'bar-value' }, score.toFixed(2)),
  );
}

function scores(r) {
  const s = r.scores;
  const classes = Object.entries(s.classes || {}).sort(
    (a, b) => a[1].overall - b[1].overall || a[0].localeCompare(b[0]),
  );
  return section(
    'Scores',
    { 'data-testid': 'audit-scores' },
    el('p', { class: 'score-line' },
      el('span', { class: 'score', 'data-testid': 'audit-overall' }, s.overall.toFixed(2)),
      el('span', { class: 'muted' }, ` / 100 over ${r.checked} CIs`)),
    el('div', { class: 'grid2' },
      el('div', {},
        el('h3', {}, 'By dimension'),
        el('div', { class: 'bars' }, Object.entries(s.dimensions).map(([d, v]) => bar(v, d)))),
      el('div', {},
        el('h3', {}, 'By class (worst first; CIs in brackets)'),
        el('div', { class: 'bars scroll' },
          classes.map(([c, v]) => bar(v.overall, `${c} (${v.cis})`))))),
  );
}

async function download(format, ext) {
  const blob = await api.blob('/audit/report', { format });
  const url = URL.createObjectURL(blob);
  const a = el('a', { href: url, download: `cmdb-audit.${ext}` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function reports(box) {
  const buttons = REPORTS.map(([format, label, ext]) =>
    el('button', {
      type: 'button',
      'data-testid': `audit-report-${format}`,
      onclick: () => download(format, ext).catch((e) => showError(box, e)),
    }, label));
  return el('p', { class: 'actions' }, 'Download: ', buttons);
}

function select(name, options, value, counts) {
  const id = `audit-${name}`;
  const label = (o) => (counts ? `${o} (${counts[o] ?? 0})` : o);
  return [
    el('label', { for: id }, name[0].toUpperCase() + name.slice(1)),
    el('select', { id, name },
      el('option', { value: '' }, 'all'),
      options.map((o) => el('option', { value: o, selected: o === value }, label(o)))),
  ];
}

function findingRow(f) {
  const rel = f.relationship
    ? el('div', { class: 'muted small mono' },
      typeof f.relationship === 'string' ? f.relationship : JSON.stringify(f.relationship))
    : null;
  return el(
    'tr',
    { 'data-testid': 'audit-finding', 'data-rule': f.rule },
    el('td', {}, el('span', { class: `badge sev-${f.severity}` }, f.severity)),
    el('td', {}, f.rule.replace(/_/g, ' ')),
    el('td', {}, f.dimension),
    el('td', {}, f.ci ? ciLink(f.ci) : el('span', { class: 'muted' }, '—')),
    el('td', {}, f.ci_class || ''),
    el('td', {}, f.why, rel),
  );
}

function findings(r, params) {
  const rules = r.rules.filter((x) => (r.counts[x] ?? 0) > 0);
  const dims = [...new Set(Object.values(r.rule_dimensions))];
  const sevs = [...new Set(r.findings.map((f) => f.severity))].sort(bySeverity);
  const filters = el(
    'form',
    { class: 'filters', 'data-testid': 'audit-filters' },
    select('rule', rules, params.get('rule'), r.counts),
    select('dimension', dims, params.get('dimension')),
    select('severity', sevs, params.get('severity')),
  );
  const body = el('tbody');
  const note = el('p', { class: 'muted', 'aria-live': 'polite' });
  const more = el('button', { type: 'button', hidden: true }, 'Show more');
  let list = [];
  let shown = 0;
  const page = () => {
    body.append(...list.slice(shown, shown + PAGE).map(findingRow));
    shown = Math.min(list.length, shown + PAGE);
    more.hidden = shown >= list.length;
    const part = shown < list.length ? `, ${shown} shown` : '';
    note.textContent = `${list.length} of ${r.findings.length} findings${part}.`;
  };
  const apply = () => {
    const want = Object.fromEntries(FILTERS.map((k) => [k, filters.elements[k].value]));
    list = r.findings
      .filter((f) => FILTERS.every((k) => !want[k] || f[k] === want[k]))
      .sort((a, b) => bySeverity(a.severity, b.severity));
    body.replaceChildren();
    shown = 0;
    page();
    const q = new URLSearchParams(Object.entries(want).filter(([, v]) => v)).toString();
    const hash = `#/audit${q ? `?${q}` : ''}`;
    if (window.location.hash !== hash) window.history.replaceState(null, '', hash);
  };
  filters.addEventListener('change', apply);
  more.addEventListener('click', page);
  apply();
  return section(
    'Findings',
    { 'data-testid': 'audit-findings' },
    filters,
    note,
    el('table', {},
      el('thead', {}, el('tr', {}, COLUMNS.map((h) => el('th', { scope: 'col' }, h)))),
      body),
    more,
  );
}

registerView('audit', async (box, params) => {
  box.append(el('h1', {}, 'Audit'), loading('Auditing the CMDB…'));
  const r = await api.get('/audit');
  const head = el('div', {},
    el('h1', {}, 'Audit'),
    el('p', { class: 'muted' },
      `${r.checked} CIs checked against ${r.rules.length} rules (${r.config}), `,
      `store version ${r.store_version}.`));
  head.append(reports(head));
  box.replaceChildren(head, scores(r), findings(r, params));
});
