// control/receipts.js: asking for an alert's per-site receipts (`receipts`)
// and showing them in the entry's "Per-site receipts" table: when the
// table is opened, shortly after each tally, and on every welcome for the
// recent alerts not yet complete. What the receipts change in the record
// (counts, relays, the sites not acknowledged) is sent.js's.

import { el, timeElement, describeError } from '../ui.js';
import { room, itemFor } from './room.js';

const RECEIPTS_AFTER_TALLY_MS = 2000; // receipts again this long after a tally

const receiptsSoon = new Map();  // alert id -> timer: receipts after tallies
let receiptsUnsupported = false;

export function requestReceipts(id, { shown = false } = {}) {
  const item = itemFor(id);
  const bodyBox = item?.querySelector('.receipts-body');
  if (receiptsUnsupported) {
    if (shown && bodyBox) bodyBox.replaceChildren(el('p', { class: 'muted' }, 'This broker does not give per-site receipts.'));
    return;
  }
  if (!room.session.request('receipts', { alert_id: id }) && shown && bodyBox) {
    bodyBox.replaceChildren(el('p', { class: 'muted' }, 'Not connected: receipts will load when the connection is back.'));
  }
}

export function receiptsAfterTally(id) {
  if (receiptsSoon.has(id) || !room.sent.has(id)) return;
  receiptsSoon.set(id, setTimeout(() => {
    receiptsSoon.delete(id);
    requestReceipts(id);
  }, RECEIPTS_AFTER_TALLY_MS));
}

function timeCell(iso) {
  return el('td', {}, iso ? timeElement(iso, 'receipt-time') : '—');
}

/* The table of a `receipts` frame, in its entry's details.receipts. */
export function fillReceipts(frame, sites) {
  const bodyBox = itemFor(frame.alert_id)?.querySelector('.receipts-body');
  if (!bodyBox) return;
  const waitingFor = new Set(Array.isArray(frame.not_acknowledged) ? frame.not_acknowledged : []);
  const rows = [...sites]
    .sort((x, y) => Number(Boolean(x.acked_at)) - Number(Boolean(y.acked_at))
      || String(x.site_name).localeCompare(String(y.site_name)))
    .map((x) => el('tr', { class: waitingFor.has(x.site_id) || !x.acked_at ? 'not-acked' : 'acked' },
      el('th', { scope: 'row' }, x.site_name || `site ${x.site_id}`),
      timeCell(x.delivered_at), timeCell(x.read_at), timeCell(x.acked_at), timeCell(x.escalated_at)));
  const missing = sites.filter((x) => !x.acked_at).length;
  bodyBox.replaceChildren(
    el('p', { class: missing ? 'receipts-summary warn' : 'receipts-summary ok' },
      missing ? `${missing} of ${sites.length} site${sites.length === 1 ? '' : 's'} not acknowledged yet.`
        : `All ${sites.length} site${sites.length === 1 ? '' : 's'} acknowledged.`),
    el('table', { class: 'receipts-table' },
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col' }, 'Site'), el('th', { scope: 'col' }, 'Delivered'),
        el('th', { scope: 'col' }, 'Read'), el('th', { scope: 'col' }, 'Acknowledged'),
        el('th', { scope: 'col' }, 'Escalated'))),
      el('tbody', {}, ...rows)));
}

export function onReceiptsError(frame, req) {
  if (frame.code === 'unknown_type') receiptsUnsupported = true;
  const bodyBox = itemFor(req.alert_id)?.querySelector('.receipts-body');
  if (bodyBox) {
    bodyBox.replaceChildren(el('p', { class: 'muted' },
      receiptsUnsupported ? 'This broker does not give per-site receipts.'
        : `Receipts unavailable: ${describeError(frame)}`));
  }
}

// Counts can go stale while the page is closed or offline: ask again for
// the recent alerts that are not complete.
export function refreshRecent() {
  const recent = [...room.sent.values()]
    .filter((r) => !(r.recipients > 0 && r.acknowledged >= r.recipients))
    .sort((a, b) => b.alert_id - a.alert_id)
    .slice(0, 20);
  for (const r of recent) requestReceipts(r.alert_id);
  for (const d of room.dom.sentList.querySelectorAll('details.receipts[open]')) {
    const id = Number(d.closest('[data-alert-id]').dataset.alertId);
    if (!recent.some((r) => r.alert_id === id)) requestReceipts(id, { shown: true });
  }
}
