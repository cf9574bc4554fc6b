// control/inbox.js: the inbox of partner reports #inbox, a work queue
// (issue 17, item 9), newest first: `inbox` (with the filter of
// #inbox-filter, inbox-filter.js) on every welcome and on every change of
// the filter; then `partner_report` adds a report that matches it, raises
// the #inbox-unread count in the section bar and says so in the polite
// #inbox-latest; `report_updated` (this desk's or a colleague's) shows how
// the report is being worked, and drops it from a list it no longer
// matches. Each item (inbox-item.js) marks it handled, assigns it, links
// it to an alert or publishes an alert from it (the compose form,
// prefilled; the report is linked to the alert once it is published); a
// pending CAP import is targeted and published, or rejected with a
// reason (`import_reject`), and closes live on every desk.
// Reports with a place go on the board map too. The count clears once the
// inbox is looked at (focus, a click, or two seconds in view).

import { showError, describeError, isUnsupported, unsupportedText } from '../ui.js';
import { REPORT_KIND_LABELS, label } from '../vocab.js';
import { room } from './room.js';
import { readFilter, matches, describeFilter, setCompanies, setupFilter } from './inbox-filter.js';
import { reportItem } from './inbox-item.js';

const MAX_INBOX = 200;
const $ = (id) => document.getElementById(id);

const inbox = {
  reports: new Map(),   // report id -> report, as filtered
  items: new Map(),     // report id -> its li
  filter: {},           // the filter the list was asked with
  colleagues: [],       // who a report may be assigned to (from `inbox`)
  unread: 0,
  list: null, empty: null, error: null, unreadBadge: null, summary: null,
};

/* An item's context: how it changes the report, or publishes from it
 * (a pending CAP import: targets and publishes it, or rejects it). */
function itemCtx(r) {
  return {
    colleagues: inbox.colleagues,
    update: (fields) => update(r.id, fields),
    publish: () => room.compose.startFromReport(r),
    publishImport: () => room.compose.startFromImport(r),
    reject: (reason) => send(r.id, 'import_reject', { reason }),
    problem: (message) => showError(inbox.items.get(r.id)?.querySelector('.entry-error'), message),
  };
}

/* Builds (or rebuilds) the item of a report, keeping the keyboard on the
 * control it was on. */
function renderItem(r) {
  const old = inbox.items.get(r.id);
  const focused = old?.contains(document.activeElement) ? document.activeElement.className : null;
  const li = reportItem(r, itemCtx(r));
  if (r.fresh) li.classList.add('fresh');
  if (old) old.replaceWith(li);
  inbox.items.set(r.id, li);
  if (focused) li.querySelector(`.${focused.split(' ').filter(Boolean).join('.')}`)?.focus();
  return li;
}

function renderInbox() {
  const list = [...inbox.reports.values()].sort((a, b) => b.id - a.id).slice(0, MAX_INBOX);
  const keep = new Set(list.map((r) => r.id));
  for (const [id, li] of inbox.items) {
    if (!keep.has(id)) {
      li.remove();
      inbox.items.delete(id);
    }
  }
  let prev = null;
  for (const r of list) {
    const li = inbox.items.get(r.id) || renderItem(r);
    if (prev) prev.after(li);
    else if (inbox.list.firstChild !== li) inbox.list.prepend(li);
    prev = li;
  }
  inbox.empty.hidden = inbox.reports.size > 0;
  inbox.empty.textContent = describeFilter(inbox.filter) ? 'No reports match the filter.' : 'No reports yet.';
  const what = describeFilter(inbox.filter);
  const open = list.filter((r) => !r.handled_at).length;
  inbox.summary.textContent = `${list.length} report${list.length === 1 ? '' : 's'}${what ? ` (${what})` : ''}, ${open} open`;
  room.boardMap.setReports(list);
}

function setUnread(n) {
  inbox.unread = n;
  inbox.unreadBadge.textContent = n ? `${n} new` : '';
  inbox.unreadBadge.hidden = !n;
}

/* Asks for the inbox as the filter form says (every welcome, every
 * change of the filter). */
export function requestInbox() {
  showError(inbox.error, '');
  let filter;
  try {
    filter = readFilter();
  } catch (err) {
    showError(inbox.error, err.message);
    return;
  }
  if (!room.session.request('inbox', filter)) {
    showError(inbox.error, 'Not connected: the inbox loads when the connection is back.');
  }
}

function onInbox(frame, req) {
  showError(inbox.error, '');
  inbox.filter = { ...(req || {}) };
  delete inbox.filter.type;
  delete inbox.filter.ref;
  inbox.colleagues = Array.isArray(frame.colleagues) ? frame.colleagues : [];
  inbox.reports.clear();
  for (const li of inbox.items.values()) li.remove();
  inbox.items.clear();
  for (const r of Array.isArray(frame.reports) ? frame.reports : []) {
    if (r && Number.isFinite(r.id)) inbox.reports.set(r.id, r);
  }
  renderInbox();
}

function onPartnerReport(frame) {
  const r = frame.report;
  if (!r || !Number.isFinite(r.id) || inbox.reports.has(r.id)) return;
  setUnread(inbox.unread + 1);
  $('inbox-latest').textContent = `New ${label(REPORT_KIND_LABELS, r.kind).toLowerCase() || 'report'} from ${r.site_name || r.org_name || 'a partner'}: ${r.text || ''}`;
  if (!matches(r, inbox.filter)) return;
  inbox.reports.set(r.id, { ...r, fresh: true });
  renderInbox();
}

/* A report as it now is (this desk's change or a colleague's). */
function onReportUpdated(frame) {
  const r = frame.report;
  if (!r || !Number.isFinite(r.id)) return;
  if (!matches(r, inbox.filter)) {
    if (inbox.reports.delete(r.id)) renderInbox();
    return;
  }
  inbox.reports.set(r.id, r);
  if (inbox.items.has(r.id)) renderItem(r);
  renderInbox();
}

/* Sends a request about report id (report_update, import_reject). */
function send(id, type, fields) {
  const li = inbox.items.get(id);
  const error = li?.querySelector('.entry-error');
  showError(error, '');
  if (!room.session.request(type, { report_id: id, ...fields })) {
    showError(error, 'Not connected to the broker: nothing was changed. Try again when the connection is back.');
    if (inbox.reports.has(id)) renderItem(inbox.reports.get(id)); // the controls as they were
  }
}

function update(id, fields) {
  send(id, 'report_update', fields);
}

/* A report published from: link it to its alert. */
export function linkReport(reportId, alertId) {
  update(reportId, { alert_id: alertId });
}

/* The directory changed: the companies to filter by. */
export function inboxDirectory(directory) {
  setCompanies(directory.orgs);
}

/* An error frame of an `inbox`, `report_update` or `import_reject`
 * request. */
export function onInboxError(frame, req) {
  if (req?.type === 'report_update' || req?.type === 'import_reject') {
    const r = inbox.reports.get(req.report_id);
    if (r) renderItem(r); // the controls as they were
    const error = inbox.items.get(req.report_id)?.querySelector('.entry-error');
    showError(error || inbox.error, isUnsupported(frame) ? unsupportedText('Working the reports')
      : `Not changed: ${describeError(frame)}`);
    return;
  }
  showError(inbox.error, isUnsupported(frame) ? unsupportedText('The inbox of partner reports')
    : `The inbox could not be loaded: ${describeError(frame)}`);
}

export function setupInbox() {
  Object.assign(inbox, {
    list: $('inbox'),
    empty: $('inbox-empty'),
    error: $('inbox-error'),
    unreadBadge: $('inbox-unread'),
    summary: $('inbox-summary'),
  });
  setupFilter(requestInbox);
  room.session.on('inbox', onInbox);
  room.session.on('partner_report', onPartnerReport);
  room.session.on('report_updated', onReportUpdated);

  const inboxPanel = inbox.list.closest('section');
  inboxPanel.addEventListener('focusin', () => setUnread(0));
  inboxPanel.addEventListener('pointerdown', () => setUnread(0));
  if ('IntersectionObserver' in window) {
    new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && document.visibilityState === 'visible') setTimeout(() => setUnread(0), 2000);
    }, { threshold: 0.3 }).observe(inboxPanel);
  }
}
