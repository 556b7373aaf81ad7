// DOM helpers shared by every view: el() (a tiny element builder), errors, links to CIs and
// records, times, sections and tables. No state; nothing here calls the API.
//
// Assumptions: the CSP forbids inline handlers, so handlers are attached by el() with
// addEventListener. Example: `el('a', { href: '#/audit', class: 'button' }, 'Audit')`.
import { ApiError } from './api.js';

/**
 * A tiny DOM builder. attrs: class, style (object), data-* and aria-*, on<event> functions,
 * booleans (true: present), anything else as an attribute. Children: nodes, strings, numbers,
 * arrays (flattened); null, undefined and false are skipped.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'style' && typeof v === 'object') Object.assign(node.style, v);
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'value' && 'value' in node) node.value = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(node, c);
    else node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replace an error box in `container` by one for `err` (an ApiError or any Error). */
export function showError(container, err) {
  const box = container || document.getElementById('view') || document.body;
  for (const old of box.querySelectorAll(':scope > [data-testid=error]')) old.remove();
  const isApi = err instanceof ApiError;
  const head = isApi
    ? `${err.status || 'No answer'} ${err.title}`
    : `Error: ${(err && err.name) || 'unexpected'}`;
  const detail = isApi ? err.detail : String((err && err.message) || err);
  const node = el(
    'div',
    { class: 'error', role: 'alert', 'data-testid': 'error' },
    el('strong', {}, head),
    detail ? el('span', {}, ' — ', detail) : null,
    isApi && err.field ? el('span', { class: 'muted' }, ` (field: ${err.field})`) : null,
  );
  box.prepend(node);
  if (!isApi) console.error(err);
  return node;
}

/** A link to a CI page. */
export function ciLink(id, text) {
  const href = `#/ci/${encodeURIComponent(id)}`;
  return el('a', { href, class: text ? 'ci-name' : 'ci-link', title: text ? id : null }, text || id);
}

/** A link to a record: changes have a page; incidents and problems open the root-cause view. */
export function recordLink(id, text) {
  if (String(id).startsWith('CHG-')) {
    return el('a', { href: `#/change/${encodeURIComponent(id)}`, class: 'rec' }, text || id);
  }
  if (String(id).startsWith('INC-')) {
    return el('a', { href: `#/root-cause?incidents=${encodeURIComponent(id)}`, class: 'rec' }, text || id);
  }
  return el('span', { class: 'mono rec' }, text || id);
}

/** "3 h ago", "in 2 d": a time relative to now. */
export function relTime(iso) {
  if (!iso) return '';
  const s = (Date.parse(iso) - Date.now()) / 1000;
  const a = Math.abs(s);
  const [n, unit] =
    a < 60 ? [a, 's'] : a < 3600 ? [a / 60, 'min'] : a < 86400 ? [a / 3600, 'h'] : [a / 86400, 'd'];
  const v = n < 10 && unit !== 's' ? n.toFixed(1).replace(/\.0$/, '') : Math.round(n);
  return s < 0 ? `${v} ${unit} ago` : `in ${v} ${unit}`;
}

/** A time as "2026-11-30 15:53 UTC" inside <time>, with the relative age beside it. */
export function timeEl(iso, { relative = true } = {}) {
  if (!iso) return el('span', { class: 'muted' }, '—');
  const d = new Date(iso);
  const text = Number.isNaN(d.getTime())
    ? iso
    : d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
  return el(
    'span',
    {},
    el('time', { datetime: iso, title: iso }, text),
    relative ? el('span', { class: 'muted' }, ` (${relTime(iso)})`) : null,
  );
}

/** A section with a heading; extra attrs go on the <section>. */
export function section(title, attrs, ...children) {
  return el('section', { class: 'card', ...attrs }, el('h2', {}, title), ...children);
}

/** A table from a header list and rows (arrays of cells). */
export function table(headers, rows, attrs = {}) {
  return el(
    'table',
    attrs,
    el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col' }, h)))),
    el(
      'tbody',
      {},
      rows.map((r) => (r instanceof Node ? r : el('tr', {}, r.map((c) => el('td', {}, c))))),
    ),
  );
}

/** A "loading" placeholder. */
export function loading(what = 'Loading…') {
  return el('p', { class: 'loading muted', 'aria-live': 'polite' }, what);
}
