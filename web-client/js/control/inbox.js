// control/inbox.js: the inbox #inbox of partner reports, newest first:
// `inbox` on every welcome, then `partner_report` adds to it, raises the
// #inbox-unread count in the section bar and says so in the polite
// #inbox-latest. Reports with a place go on the board map too. The count
// clears once the inbox is looked at (focus, a click, or two seconds in
// view).

import {
  el, formatTime, timeElement, showError, describeError, isUnsupported, unsupportedText,
} from '../ui.js';
import { imageFigure } from '../images.js';
import { REPORT_KIND_LABELS, label } from '../vocab.js';
import { room } from './room.js';

const MAX_INBOX = 200;
const $ = (id) => document.getElementById(id);

const inbox = {
  reports: new Map(),   // report id -> report
  unread: 0,
  list: null, empty: null, error: null, unreadBadge: null,
};

function reportItem(r) {
  const from = [r.site_name, r.org_name].filter(Boolean).join(', ');
  const where = Number.isFinite(r.lat) && Number.isFinite(r.lon) ? `${r.lat.toFixed(5)}, ${r.lon.toFixed(5)}` : '';
  return el('li', { class: `report-item kind-${r.kind || 'other'}`, dataset: { reportId: String(r.id), kind: r.kind || '' } },
    el('div', { class: 'report-head' },
      el('span', { class: 'badge report-kind kind' }, label(REPORT_KIND_LABELS, r.kind) || 'Report'),
      el('span', { class: 'report-from' }, from || 'unknown sender'),
      timeElement(r.occurred_at || r.received_at, 'report-time occurred-at')),
    el('p', { class: 'report-text' }, r.text || ''),
    el('p', { class: 'report-meta muted' },
      r.by ? `By ${r.by}` : '', where ? ` · at ${where}` : '',
      r.received_at && r.occurred_at && r.received_at !== r.occurred_at ? ` · received ${formatTime(r.received_at)}` : ''),
    r.image ? imageFigure(room.token, r.image, `Photo with report ${r.id}`) : null);
}

function renderInbox() {
  const list = [...inbox.reports.values()].sort((a, b) => b.id - a.id).slice(0, MAX_INBOX);
  const keep = new Set(list.map((r) => r.id));
  for (const li of [...inbox.list.children]) if (!keep.has(Number(li.dataset.reportId))) li.remove();
  let prev = null;
  for (const r of list) {
    let li = inbox.list.querySelector(`[data-report-id="${r.id}"]`);
    if (!li) {
      li = reportItem(r);
      if (r.fresh) li.classList.add('fresh');
      if (prev) prev.after(li);
      else inbox.list.prepend(li);
    }
    prev = li;
  }
  inbox.empty.hidden = inbox.reports.size > 0;
  room.boardMap.setReports(list);
}

function setUnread(n) {
  inbox.unread = n;
  inbox.unreadBadge.textContent = n ? `${n} new` : '';
  inbox.unreadBadge.hidden = !n;
}

function onInbox(frame) {
  showError(inbox.error, '');
  for (const r of Array.isArray(frame.reports) ? frame.reports : []) {
    if (r && Number.isFinite(r.id) && !inbox.reports.has(r.id)) inbox.reports.set(r.id, r);
  }
  renderInbox();
}

function onPartnerReport(frame) {
  const r = frame.report;
  if (!r || !Number.isFinite(r.id) || inbox.reports.has(r.id)) return;
  inbox.reports.set(r.id, { ...r, fresh: true });
  renderInbox();
  setUnread(inbox.unread + 1);
  $('inbox-latest').textContent = `New ${label(REPORT_KIND_LABELS, r.kind).toLowerCase() || 'report'} from ${r.site_name || r.org_name || 'a partner'}: ${r.text || ''}`;
}

export function onInboxError(frame) {
  showError(inbox.error, isUnsupported(frame) ? unsupportedText('The inbox of partner reports')
    : `The inbox could not be loaded: ${describeError(frame)}`);
}

export function setupInbox() {
  Object.assign(inbox, {
    list: $('inbox'),
    empty: $('inbox-empty'),
    error: $('inbox-error'),
    unreadBadge: $('inbox-unread'),
  });
  room.session.on('inbox', onInbox);
  room.session.on('partner_report', onPartnerReport);

  const inboxPanel = inbox.list.closest('section');
  inboxPanel.addEventListener('focusin', () => setUnread(0));
  inboxPanel.addEventListener('pointerdown', () => setUnread(0));
  if ('IntersectionObserver' in window) {
    new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && document.visibilityState === 'visible') setTimeout(() => setUnread(0), 2000);
    }, { threshold: 0.3 }).observe(inboxPanel);
  }
}
