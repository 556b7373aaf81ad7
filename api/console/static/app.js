// The console's shell: session, log-in, header (search box, navigation, who), hash router; and
// the one module views import: it re-exports the API client (api.js) and the DOM helpers
// (dom.js).
//
// Assumptions: the page is served by `cmdb serve` next to the API (same origin, `/api/v1`);
// the API key lives in sessionStorage only (closing the tab logs out); every error body is
// RFC 9457 problem+json; the CSP is `default-src 'self'` (no inline script or handler: every
// handler is attached with addEventListener through el()).
//
// Views register themselves with registerView(name, render). A route is `#/<name>?<query>` or
// `#/<name>/<id>?<query>` (then params.get('id') is the decoded id, which may contain '/').
// render(container, params) may be async; it may return (or resolve to) a function, called
// when the user leaves the view (to free a graph, a timer...). Example:
//
//   registerView('hello', (box, params) => { box.append(el('h1', {}, 'Hi ', params.get('id'))); });
//   navigate('#/hello/world');

import { api, onUnauthorized, request, storedKey } from './api.js';
import { el, recordLink, showError } from './dom.js';

export { api, ApiError, pathId } from './api.js';
export {
  ciLink,
  el,
  loading,
  recordLink,
  relTime,
  section,
  showError,
  table,
  timeEl,
} from './dom.js';

/** Who is logged in: filled from GET /me after log-in. */
export const session = { id: null, name: null, role: null };

// ---------------------------------------------------------------------------------------------
// Router

const views = new Map();
let current = { token: 0, cleanup: null };

/** Register a view: route `#/<name>...` calls render(container, params). */
export function registerView(name, render) {
  views.set(name, render);
}

/** Go to a hash route; re-renders even when it is the current one. */
export function navigate(hash) {
  const h = hash.startsWith('#') ? hash : `#${hash}`;
  if (window.location.hash === h) route();
  else window.location.hash = h;
}

/** The current route: {name, params} with params.get('id') for `#/name/<id>`. */
export function parseHash(hash = window.location.hash) {
  const raw = hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  const slash = path.indexOf('/');
  const name = slash < 0 ? path : path.slice(0, slash);
  if (slash >= 0 && path.length > slash + 1) {
    params.set('id', decodeURIComponent(path.slice(slash + 1)));
  }
  return { name: name || 'search', params };
}

async function route() {
  if (!session.role) return;
  const view = document.getElementById('view');
  if (!view) return;
  if (typeof current.cleanup === 'function') {
    try {
      current.cleanup();
    } catch (e) {
      console.error(e);
    }
  }
  const token = current.token + 1;
  current = { token, cleanup: null };
  const { name, params } = parseHash();
  markNav(name);
  closeSearch();
  const box = el('div', { class: 'view', 'data-view': name });
  // focus follows a link clicked in the page (not a search typed in the header)
  const active = document.activeElement;
  const refocus = !active || active === document.body || view.contains(active);
  view.replaceChildren(box);
  if (refocus) view.focus({ preventScroll: true });
  document.title = 'graph-cmdb console';
  window.scrollTo(0, 0);
  const render = views.get(name);
  if (!render) {
    box.append(el('h1', {}, 'Not found'), el('p', {}, `There is no page “${name}”.`));
    return;
  }
  try {
    const cleanup = await render(box, params);
    if (current.token === token) current.cleanup = cleanup;
    else if (typeof cleanup === 'function') cleanup();
  } catch (err) {
    if (current.token !== token) return;
    for (const wait of box.querySelectorAll('.loading')) wait.remove();
    showError(box, err);
  }
}

// ---------------------------------------------------------------------------------------------
// Log-in, header and search box

const NAV = [
  ['search', 'Search'],
  ['impact', 'Impact'],
  ['change', 'Change'],
  ['root-cause', 'Root cause'],
  ['audit', 'Audit'],
];

function markNav(name) {
  for (const a of document.querySelectorAll('.nav a')) {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function renderLogin(err) {
  const root = document.getElementById('app');
  const input = el('input', {
    id: 'login-key',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    placeholder: 'cmdb_KEY-…',
  });
  const form = el(
    'form',
    { class: 'login card', 'aria-labelledby': 'login-title' },
    el('h1', { id: 'login-title' }, 'graph-cmdb console'),
    el('p', { class: 'muted' }, 'Log in with an API key (create one with ',
      el('code', {}, 'cmdb apikey create --role analyst --name you'), ').'),
    el('label', { for: 'login-key' }, 'API key'),
    input,
    el('button', { id: 'login-submit', type: 'submit', class: 'primary' }, 'Log in'),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    const button = form.querySelector('#login-submit');
    button.disabled = true;
    try {
      await login(key);
    } catch (e) {
      button.disabled = false;
      showError(form, e);
    }
  });
  root.replaceChildren(el('main', { class: 'login-page' }, form));
  if (err) showError(form, err);
  input.focus();
}

async function login(key) {
  const me = await request('GET', '/me', { key });
  storedKey.set(key);
  Object.assign(session, { id: me.id, name: me.name, role: me.role });
  renderShell();
  route();
}

/** Forget the key and show the log-in screen. */
export function logout() {
  storedKey.clear();
  Object.assign(session, { id: null, name: null, role: null });
  if (typeof current.cleanup === 'function') current.cleanup();
  current = { token: current.token + 1, cleanup: null };
  renderLogin();
}

function expire(err) {
  logout();
  showError(document.querySelector('.login'), err);
}

function renderShell() {
  const root = document.getElementById('app');
  const header = el(
    'header',
    { class: 'top' },
    el('a', { class: 'brand', href: '#/search' }, 'graph-cmdb'),
    el(
      'nav',
      { class: 'nav', 'aria-label': 'Main' },
      NAV.map(([name, label]) => el('a', { href: `#/${name}`, 'data-view': name }, label)),
    ),
    searchBox(),
    el(
      'div',
      { class: 'who' },
      el(
        'span',
        { 'data-testid': 'whoami', title: session.id || '' },
        session.name,
        ' ',
        el('span', { class: `role role-${session.role}` }, session.role),
      ),
      el('button', { id: 'logout', type: 'button', onclick: logout }, 'Log out'),
    ),
  );
  const skip = el('a', { class: 'skip', href: '#view' }, 'Skip to the page');
  skip.addEventListener('click', (ev) => {
    ev.preventDefault(); // a plain #view link would change the route
    document.getElementById('view').focus();
  });
  root.replaceChildren(skip, header, el('main', { id: 'view', tabindex: '-1' }));
}

let searchState = { seq: 0, timer: 0, items: [], active: -1 };

function searchBox() {
  const input = el('input', {
    id: 'search',
    type: 'search',
    placeholder: 'Search CIs by name, id, IP or class (press /)',
    autocomplete: 'off',
    spellcheck: 'false',
    role: 'combobox',
    'aria-expanded': 'false',
    'aria-controls': 'search-results',
    'aria-autocomplete': 'list',
  });
  const list = el('ul', {
    id: 'search-results',
    role: 'listbox',
    class: 'search-results',
    'aria-label': 'Matching configuration items',
    hidden: true,
  });
  list.addEventListener('mousedown', (ev) => ev.preventDefault()); // keep focus: click lands
  input.addEventListener('input', () => {
    clearTimeout(searchState.timer);
    searchState.timer = setTimeout(() => runSearch(input.value), 150);
  });
  input.addEventListener('keydown', (ev) => searchKey(ev, input));
  input.addEventListener('focus', () => {
    if (searchState.items.length && input.value.trim()) showList(true);
  });
  input.addEventListener('blur', () => setTimeout(() => closeSearch(), 200));
  return el(
    'div',
    { class: 'search', role: 'search' },
    el('label', { for: 'search', class: 'sr-only' }, 'Search configuration items'),
    input,
    list,
  );
}

/** One search hit as a link (also used by the search page). */
export function searchHit(item, attrs = {}) {
  return el(
    'a',
    { href: `#/ci/${encodeURIComponent(item.id)}`, 'data-testid': 'search-result', ...attrs },
    el('span', { class: 'hit-name' }, item.name || item.id),
    el('span', { class: 'hit-id mono' }, item.id),
    el('span', { class: 'hit-class' }, item.class),
    item.status && item.status !== 'live' ? el('span', { class: 'badge' }, item.status) : null,
    item.match === 'identifier' && item.identifier
      ? el('span', { class: 'hit-match' }, item.identifier)
      : item.match && item.match !== 'name'
        ? el('span', { class: 'hit-match muted' }, `by ${item.match}`)
        : null,
  );
}

const RECORD_ID = /^(CHG|INC|PRB)-\d+$/i;

/** A search option: where it goes, and what it shows. */
function recordOption(q) {
  const id = q.toUpperCase();
  const kind = { CHG: 'change', INC: 'incident', PRB: 'problem' }[id.slice(0, 3)];
  const link = recordLink(id);
  if (link.tagName !== 'A') return null;
  const node = el('a', { href: link.getAttribute('href'), tabindex: '-1', class: 'record-hit' },
    el('span', { class: 'hit-name' }, `Open ${kind} ${id}`));
  return { href: link.getAttribute('href'), node };
}

async function runSearch(text) {
  const q = text.trim();
  const seq = ++searchState.seq;
  const list = document.getElementById('search-results');
  if (!list) return;
  if (!q) {
    searchState.items = [];
    closeSearch();
    return;
  }
  try {
    const found = await api.get('/search', { q, limit: 20 });
    if (seq !== searchState.seq) return;
    const record = RECORD_ID.test(q) ? recordOption(q) : null;
    searchState.items = [
      ...(record ? [record] : []),
      ...(found.items || []).map((item) => ({
        href: `#/ci/${encodeURIComponent(item.id)}`,
        node: searchHit(item, { tabindex: '-1' }),
      })),
    ];
    searchState.active = -1;
    list.replaceChildren(
      ...searchState.items.map((item, i) =>
        el('li', { id: `search-opt-${i}`, role: 'option', 'aria-selected': 'false' }, item.node),
      ),
    );
    if (!searchState.items.length) {
      list.append(el('li', { class: 'muted empty', role: 'presentation' }, `Nothing matches “${q}”.`));
    }
    showList(true);
  } catch (e) {
    if (seq !== searchState.seq) return;
    list.replaceChildren(el('li', { role: 'presentation' }, showError(el('div'), e)));
    showList(true);
  }
}

function showList(open) {
  const list = document.getElementById('search-results');
  const input = document.getElementById('search');
  if (!list || !input) return;
  list.hidden = !open;
  input.setAttribute('aria-expanded', open ? 'true' : 'false');
}

function closeSearch() {
  showList(false);
}

function setActive(i, input) {
  const opts = document.querySelectorAll('#search-results [role=option]');
  if (!opts.length) return;
  searchState.active = (i + opts.length) % opts.length;
  opts.forEach((o, j) => o.setAttribute('aria-selected', j === searchState.active ? 'true' : 'false'));
  const on = opts[searchState.active];
  input.setAttribute('aria-activedescendant', on.id);
  on.scrollIntoView({ block: 'nearest' });
}

function searchKey(ev, input) {
  if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
    ev.preventDefault();
    showList(true);
    setActive(searchState.active + (ev.key === 'ArrowDown' ? 1 : -1), input);
  } else if (ev.key === 'Enter') {
    ev.preventDefault();
    const q = input.value.trim();
    const item = searchState.items[searchState.active];
    closeSearch();
    if (item) navigate(item.href);
    else if (q) navigate(`#/search?q=${encodeURIComponent(q)}`);
  } else if (ev.key === 'Escape') {
    closeSearch();
  }
}

/** "/" anywhere but in a field jumps to the search box. */
function focusSearchOnSlash(ev) {
  const t = ev.target;
  const typing =
    t instanceof HTMLElement && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  const box = document.getElementById('search');
  if (ev.key !== '/' || typing || !box || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  ev.preventDefault();
  box.focus();
  box.select();
}

// ---------------------------------------------------------------------------------------------

/** Boot: log in from the stored key if it is still good, then follow the hash. */
export async function start() {
  window.addEventListener('hashchange', route);
  document.addEventListener('keydown', focusSearchOnSlash);
  onUnauthorized((err) => {
    if (session.role) expire(err);
  });
  const key = storedKey.get();
  if (!key) {
    renderLogin();
    return;
  }
  try {
    await login(key);
  } catch (e) {
    storedKey.clear();
    renderLogin(e.status === 401 ? e : null);
  }
}
