// #/search?q=TEXT: the search page (the header box shows the same hits as you type).
// Without q: a starting page with examples and the open records to begin from.
import { api, el, registerView, searchHit, section, loading, showError, recordLink, table } from './app.js';

const EXAMPLES = ['sw-core-01', 'core banking', '10.10.0.17', 'switch', 'Exchange'];

function examples() {
  return el(
    'p',
    { class: 'muted' },
    'Find a CI by name, id, identifier (IP, hostname, serial) or class. Try ',
    EXAMPLES.map((q, i) => [
      i ? ', ' : '',
      el('a', { href: `#/search?q=${encodeURIComponent(q)}` }, q),
    ]),
    '.',
  );
}

async function results(box, q) {
  const list = el('div', { class: 'hits' }, loading());
  box.append(list);
  const found = await api.get('/search', { q, limit: 100 });
  const items = found.items || [];
  list.replaceChildren(
    el('p', { class: 'muted' }, `${items.length} CI${items.length === 1 ? '' : 's'} shown for “${q}”.`),
    el('ul', { class: 'hit-list' }, items.map((item) => el('li', {}, searchHit(item)))),
  );
}

async function openWork(box) {
  const holder = section('Open work', {}, loading());
  box.append(holder);
  try {
    const [inc, chg] = await Promise.all([
      api.get('/incidents', { open_only: true, limit: 50 }),
      api.get('/changes', { open_only: true, limit: 50 }),
    ]);
    holder.replaceChildren(
      el('h2', {}, 'Open work'),
      el('h3', {}, 'Incidents'),
      table(
        ['Incident', 'Priority', 'Status', 'Title', 'CIs'],
        inc.items.map((i) => [recordLink(i.id), `P${i.priority}`, i.status, i.title, i.ci_ids.join(', ')]),
      ),
      el('h3', {}, 'Changes to come'),
      table(
        ['Change', 'Risk', 'Status', 'Title'],
        chg.items.map((c) => [
          recordLink(c.id),
          c.risk ? `${c.risk.score} (${c.risk.level})` : '—',
          c.status,
          c.title,
        ]),
      ),
    );
  } catch (e) {
    showError(holder, e);
  }
}

registerView('search', async (box, params) => {
  const q = (params.get('q') || '').trim();
  const input = document.getElementById('search');
  if (input && q && input.value !== q) input.value = q;
  box.append(el('h1', {}, q ? `Search: ${q}` : 'Search'), examples());
  if (q) await results(box, q);
  else await openWork(box);
});
