// board.js: the status board (docs/protocol.md §2b "Building status"): the
// latest report of every site the session may see, as a sortable table,
// kept live by `status_update`. Used by the control room (every site) and
// the company desk (its own sites).
//
// It opens sorted by what needs attention (issue 17, item 7): lockdown,
// then evacuating, then the sites that are not reporting (asked by a
// report-now and not answered yet, ctx.awaiting; then those that never
// reported), then heightened, closed and normal. The State column's sort
// is that order. The table scrolls within its own box (.board-scroll),
// never the page.

import { el, formatTime, timeElement } from './ui.js';
import { CCTV_LABELS, STATE_LABELS, label } from './vocab.js';

// Column key, header, kind of sort, the site member (or a function).
const COLUMNS = [
  { key: 'site', title: 'Site', sort: 'text', get: (s) => s.site_name || `site ${s.site_id}` },
  { key: 'state', title: 'State', sort: 'state', get: (s) => s.state },
  { key: 'sector', title: 'Sector', sort: 'text', get: (s) => s.sector || '' },
  { key: 'company', title: 'Company', sort: 'text', get: (s, ctx) => ctx.orgName(s.guard_org_id) },
  { key: 'people', title: 'People', sort: 'number', get: (s) => s.people },
  { key: 'officers', title: 'Officers', sort: 'number', get: (s) => s.officers },
  { key: 'trauma-packs', title: 'Trauma packs', sort: 'number', get: (s) => s.trauma_packs },
  { key: 'first-aid-kits', title: 'First-aid kits', sort: 'number', get: (s) => s.first_aid_kits },
  { key: 'defibrillators', title: 'Defibril\u00adlators', sort: 'number', get: (s) => s.defibrillators },
  { key: 'first-aiders', title: 'First-aiders', sort: 'number', get: (s) => s.first_aiders },
  { key: 'cctv', title: 'CCTV', sort: 'cctv', get: (s) => s.cctv },
  { key: 'reported-at', title: 'Reported at', sort: 'time', get: (s) => s.reported_at },
];
// The company desk's extra column (ctx.presence given): is the site's
// console connected? From `directory` sites' consoles_online.
const PRESENCE = {
  key: 'console', title: 'Console', sort: 'number', get: (s, ctx) => ctx.presence(s.site_id),
};

// Most attention first when sorted descending.
const ATTENTION = { lockdown: 7, evacuating: 6, awaiting: 5, never: 4, heightened: 3, closed: 2, normal: 1 };
const CCTV_RANK = { down: 3, partial: 2, working: 1 };

/* Why site s needs attention, as a key of ATTENTION. */
function attentionOf(s, ctx) {
  if (s.reported_at && (s.state === 'lockdown' || s.state === 'evacuating')) return s.state;
  if (ctx.awaiting?.(s.site_id)) return 'awaiting';
  if (!s.reported_at) return 'never';
  return s.state in ATTENTION ? s.state : 'normal';
}

/* What column c sorts site s by. */
function sortValue(c, s, ctx) {
  const v = c.get(s, ctx);
  switch (c.sort) {
    case 'number': return Number.isFinite(v) ? v : -1;
    case 'state': return ATTENTION[attentionOf(s, ctx)];
    case 'cctv': return CCTV_RANK[v] || 0;
    case 'time': return v ? Date.parse(v) || 0 : 0;
    default: return String(v || '').toLowerCase();
  }
}

/* The State cell: the state reported, or "Not reporting"; and a note
 * when a report-now asked the site and it has not answered. */
function stateCell(s, ctx) {
  const text = s.reported_at && s.state ? label(STATE_LABELS, s.state) : 'Not reporting';
  return ctx.awaiting?.(s.site_id) ? [text, el('span', { class: 'awaiting' }, 'Asked, no answer yet')] : [text];
}

/* Column c's text for site s ('—' when unknown). */
function cellText(c, s, ctx) {
  const v = c.get(s, ctx);
  if (c.key === 'cctv') return v ? label(CCTV_LABELS, v) : '—';
  if (c.key === 'console') return v == null ? '—' : v > 0 ? 'Connected' : 'Offline';
  if (c.sort === 'number') return Number.isFinite(v) ? String(v) : '—';
  return v || '—';
}

/* Under the site's name: its note, and where its trauma packs and
 * defibrillators are. */
function siteLines(s) {
  const where = [s.trauma_packs_where && `Trauma packs: ${s.trauma_packs_where}`,
    s.defibrillators_where && `Defibrillators: ${s.defibrillators_where}`].filter(Boolean);
  return [s.note ? el('span', { class: 'board-note' }, s.note) : null,
    where.length ? el('span', { class: 'board-where' }, where.join(' · ')) : null];
}

/* A count the report carried over from the last one unconfirmed. */
function isStale(c, s) {
  return c.sort === 'number' && Array.isArray(s.stale) && s.stale.includes(c.key.replace(/-/g, '_'));
}

/* A site's row: the columns' cells, then its History button. */
function boardRow(s, columns, ctx, fresh) {
  const attention = attentionOf(s, ctx);
  const tr = el('tr', {
    dataset: {
      siteId: String(s.site_id),
      state: s.state || 'none',
      cctv: s.cctv || 'none',
      attention,
    },
    class: [s.reported_at ? '' : 'never', ['never', 'awaiting'].includes(attention) ? 'not-reporting' : '',
      fresh.has(s.site_id) ? 'fresh' : ''].filter(Boolean).join(' ') || undefined,
  });
  for (const c of columns) {
    let content;
    if (c.key === 'reported-at') {
      content = s.reported_at ? timeElement(s.reported_at, 'board-time') : 'never';
    } else if (c.key === 'state') {
      tr.append(el('td', { class: c.key }, ...stateCell(s, ctx)));
      continue;
    } else content = cellText(c, s, ctx);
    const attrs = { class: c.key };
    if (isStale(c, s)) {
      attrs.class += ' stale';
      attrs.title = 'Not confirmed: carried over from the last report';
    }
    if (c.key === 'console') {
      const v = c.get(s, ctx);
      attrs.dataset = { online: v == null ? 'unknown' : v > 0 ? 'true' : 'false' };
    }
    if (c.key === 'site') {
      tr.append(el('th', { ...attrs, scope: 'row', title: s.note ? `Note: ${s.note}` : undefined }, content,
        ...siteLines(s)));
    } else tr.append(el('td', attrs, content));
  }
  if (ctx.onHistory) {
    const name = s.site_name || `site ${s.site_id}`;
    const btn = el('button', { type: 'button', class: 'btn btn-small history-open', dataset: { siteId: String(s.site_id) },
      'aria-label': `History of ${name}` }, 'History');
    btn.addEventListener('click', () => ctx.onHistory(s.site_id, name, btn));
    tr.append(el('td', { class: 'history' }, btn));
  }
  return tr;
}

/* #board-summary: how many reported, the serious states, CCTV down,
 * people inside. */
function renderSummary(summary, sites) {
  if (!summary) return;
  const all = [...sites.values()];
  const reported = all.filter((s) => s.reported_at);
  const count = (st) => reported.filter((s) => s.state === st).length;
  const parts = [`${reported.length} of ${all.length} site${all.length === 1 ? '' : 's'} reported`];
  for (const st of ['evacuating', 'lockdown', 'closed', 'heightened']) {
    const n = count(st);
    if (n) parts.push(`${n} ${label(STATE_LABELS, st).toLowerCase()}`);
  }
  const down = reported.filter((s) => s.cctv === 'down').length;
  if (down) parts.push(`CCTV down at ${down}`);
  const people = reported.reduce((t, s) => t + (Number.isFinite(s.people) ? s.people : 0), 0);
  parts.push(`${people} people reported inside`);
  summary.textContent = parts.join(' · ');
  summary.classList.toggle('warn', reported.some((s) => ['evacuating', 'lockdown'].includes(s.state)) || down > 0);
}

/* root: the #board element (a container); summary: #board-summary.
 * ctx.orgName(id) names a guarding company; ctx.onHistory(siteId,
 * siteName, button), when given, adds a "History" button to each row
 * (js/history.js); ctx.awaiting(siteId), when given, says a report-now
 * asked the site and it has not answered. Returns {setSites, update,
 * clear, size}. */
export function createBoard(root, summary, ctx) {
  const columns = ctx.presence ? [COLUMNS[0], PRESENCE, ...COLUMNS.slice(1)] : COLUMNS;
  const sites = new Map();     // site id -> latest row
  let sortKey = 'state';       // what needs attention first
  let sortDir = 'descending';
  const fresh = new Map();     // site id -> time of a live update (highlight)
  let note = 'Loading the board…'; // shown while the board has no rows

  const headRow = el('tr');
  const table = el('table', { class: 'board-table' },
    el('caption', { class: 'visually-hidden' },
      'Latest status report of each site. Column buttons sort the table.'),
    el('thead', {}, headRow),
    el('tbody'));
  for (const c of columns) {
    const btn = el('button', { type: 'button', class: 'sort', dataset: { key: c.key } }, c.title);
    btn.addEventListener('click', () => {
      if (sortKey === c.key) sortDir = sortDir === 'ascending' ? 'descending' : 'ascending';
      else {
        sortKey = c.key;
        sortDir = c.sort === 'text' ? 'ascending' : 'descending';
      }
      render();
      root.querySelector(`button.sort[data-key="${c.key}"]`)?.focus();
    });
    headRow.append(el('th', { scope: 'col', class: `col-${c.key}`, dataset: { key: c.key } }, btn));
  }
  if (ctx.onHistory) headRow.append(el('th', { scope: 'col', class: 'col-history' }, el('span', { class: 'visually-hidden' }, 'History')));
  const empty = el('p', { class: 'muted board-empty' }, 'Loading the board…');
  const scroller = el('div', { class: 'board-scroll', tabindex: '0', 'aria-label': 'Status board' }, table);
  root.replaceChildren(empty, scroller);

  function render() {
    const col = columns.find((c) => c.key === sortKey) || columns[0];
    const list = [...sites.values()].sort((a, b) => {
      const x = sortValue(col, a, ctx);
      const y = sortValue(col, b, ctx);
      let d = x < y ? -1 : x > y ? 1 : 0;
      if (sortDir === 'descending') d = -d;
      return d || String(a.site_name).localeCompare(String(b.site_name));
    });
    table.tBodies[0].replaceChildren(...list.map((s) => boardRow(s, columns, ctx, fresh)));
    for (const th of headRow.children) {
      if (th.dataset.key === sortKey) th.setAttribute('aria-sort', sortDir);
      else th.removeAttribute('aria-sort');
    }
    empty.textContent = note;
    empty.hidden = sites.size > 0 || !note;
    renderSummary(summary, sites);
  }

  return {
    setSites(list) {
      note = 'No sites on the board.';
      sites.clear();
      for (const s of Array.isArray(list) ? list : []) {
        if (s && Number.isFinite(s.site_id)) sites.set(s.site_id, s);
      }
      render();
    },
    update(s) {
      if (!s || !Number.isFinite(s.site_id)) return;
      sites.set(s.site_id, { ...(sites.get(s.site_id) || {}), ...s });
      fresh.set(s.site_id, Date.now());
      setTimeout(() => {
        if (Date.now() - (fresh.get(s.site_id) || 0) >= 60000) {
          fresh.delete(s.site_id);
          root.querySelector(`tr[data-site-id="${s.site_id}"]`)?.classList.remove('fresh');
        }
      }, 60000);
      render();
    },
    message(text) {
      note = text || '';
      empty.textContent = note;
      empty.hidden = !note || sites.size > 0;
    },
    get size() { return sites.size; },
    siteName(id) { return sites.get(id)?.site_name; },
    rerender: render,
    lastReport(id) { const s = sites.get(id); return s && s.reported_at ? formatTime(s.reported_at) : ''; },
  };
}
