// control/inbox-filter.js: the inbox's filter (#inbox-filter): kind, the
// sending company, open or handled, a time window (local time in the
// form, RFC 3339 UTC on the wire) and a text to find. It reads the form
// into the members of an `inbox` request (docs/protocol.md "The inbox, a
// work queue") and says whether a report that comes in live belongs in
// the list as filtered, as the broker would have decided.

import { el, setInvalid } from '../ui.js';
import { REPORT_KIND_LABELS } from '../vocab.js';

const $ = (id) => document.getElementById(id);
const Q_MAX = 100;

const filter = {
  form: null, kind: null, company: null, handled: null, since: null, until: null, q: null,
};

/* A datetime-local value as RFC 3339 UTC, or null when empty; throws a
 * message when it is not a time. */
function wireTime(node, what) {
  if (!node.value) return null;
  const d = new Date(node.value);
  if (Number.isNaN(d.getTime())) {
    setInvalid(node, true);
    throw new Error(`${what} is not a time.`);
  }
  return d.toISOString();
}

/* The filter as request members ({} for none); throws an Error whose
 * message says what is wrong (the input is marked). */
export function readFilter() {
  const out = {};
  for (const n of [filter.since, filter.until, filter.q]) setInvalid(n, false);
  if (filter.kind.value) out.kind = filter.kind.value;
  if (filter.company.value) out.org_id = Number(filter.company.value);
  if (filter.handled.value) out.handled = filter.handled.value === 'true';
  const since = wireTime(filter.since, 'Received from');
  const until = wireTime(filter.until, 'Received before');
  if (since) out.since = since;
  if (until) out.until = until;
  if (since && until && since >= until) {
    setInvalid(filter.until, true);
    throw new Error('“Received before” must be after “Received from”.');
  }
  const q = filter.q.value.trim();
  if (q.length > Q_MAX) {
    setInvalid(filter.q, true);
    throw new Error(`Find: at most ${Q_MAX} characters.`);
  }
  if (q) out.q = q;
  return out;
}

/* Whether report r belongs in a list filtered by f (readFilter's). */
export function matches(r, f) {
  if (f.kind && r.kind !== f.kind) return false;
  if (f.org_id && r.org_id !== f.org_id) return false;
  if (f.handled !== undefined && Boolean(r.handled_at) !== f.handled) return false;
  const at = Date.parse(r.received_at);
  if (f.since && !(at >= Date.parse(f.since))) return false;
  if (f.until && !(at < Date.parse(f.until))) return false;
  if (f.q) {
    const hay = [r.text, r.site_name, r.org_name, r.by].filter(Boolean).join(' ').toLowerCase();
    if (!hay.includes(f.q.toLowerCase())) return false;
  }
  return true;
}

/* A few words on the filter, for #inbox-summary ('' for none). */
export function describeFilter(f) {
  const parts = [];
  if (f.kind) parts.push(REPORT_KIND_LABELS[f.kind] || f.kind);
  if (f.org_id) parts.push(`from ${filter.company.selectedOptions[0]?.textContent || `organisation ${f.org_id}`}`);
  if (f.handled !== undefined) parts.push(f.handled ? 'handled' : 'open');
  if (f.since || f.until) parts.push('in the time chosen');
  if (f.q) parts.push(`with “${f.q}”`);
  return parts.join(', ');
}

/* The companies a report may come from, from the directory. */
export function setCompanies(orgs) {
  const keep = filter.company.value;
  const list = orgs.filter((o) => o.kind === 'security_company').sort((a, b) => a.name.localeCompare(b.name));
  filter.company.replaceChildren(el('option', { value: '' }, 'Every company'),
    ...list.map((o) => el('option', { value: String(o.id) }, o.name)));
  filter.company.value = list.some((o) => String(o.id) === keep) ? keep : '';
}

/* onApply() when the form is submitted or cleared. */
export function setupFilter(onApply) {
  Object.assign(filter, {
    form: $('inbox-filter'),
    kind: $('inbox-kind'),
    company: $('inbox-company'),
    handled: $('inbox-handled'),
    since: $('inbox-since'),
    until: $('inbox-until'),
    q: $('inbox-q'),
  });
  filter.kind.append(...Object.entries(REPORT_KIND_LABELS).map(([code, text]) => el('option', { value: code }, text)));
  filter.form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    onApply();
  });
  $('inbox-reset').addEventListener('click', () => {
    filter.form.reset();
    onApply();
  });
}
