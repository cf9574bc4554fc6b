// control/reportnow.js: "Report now": a controller asks every site in the
// compose form's area to send its building status (`report_now`), then
// `report_now_status` keeps the counts and the list of sites still to
// report. Analysts see the button disabled. The recent requests survive a
// reload (sessionStorage, encrypted: js/session.js). The sites a request
// of the last hour still waits for are room.awaiting, which the board puts
// first; a site the directory does not know yet (added while the page is
// open) makes the page ask for the directory again, so it is named here too.

import { el, formatTime, showError, describeError, isUnsupported, unsupportedText } from '../ui.js';
import { loadCache, saveCache } from '../session.js';
import { areaText } from '../area.js';
import { room, siteName, announce, knowSites } from './room.js';
import { rerenderBoard } from './board-panel.js';

const $ = (id) => document.getElementById(id);
const AWAIT_MS = 60 * 60 * 1000;   // a request older than this no longer marks the board

const rn = {
  requests: new Map(),   // request id -> {request_id, at, area, asked, reported, pending}
  ref: null,
  btn: null, list: null, error: null, area: null,
};

export function renderReportNowArea() {
  const { area, error } = room.compose.currentArea();
  if (!room.isController) {
    rn.area.textContent = 'Only controllers can ask sites to report.';
    return;
  }
  if (error) rn.area.textContent = `The alert form’s area is not valid yet: ${error.message}`;
  else if (!area) rn.area.textContent = 'Set an area (circle or polygon) in the alert form first.';
  else rn.area.textContent = `Area: ${areaText(area)}.`;
}

export function renderReportNow() {
  const list = [...rn.requests.values()].sort((a, b) => String(b.at).localeCompare(String(a.at))).slice(0, 10);
  rn.list.replaceChildren(...list.map((r) => {
    const pending = r.pending || [];
    return el('li', { class: 'report-now-item', dataset: { requestId: r.request_id } },
      el('p', { class: 'report-now-head' },
        `Asked at ${formatTime(r.at)}`, r.area ? ` — ${r.area}` : ''),
      el('dl', { class: 'counts' },
        el('div', { class: 'count' }, el('dt', {}, 'Asked'), el('dd', { class: 'asked' }, String(r.asked.length))),
        el('div', { class: 'count' }, el('dt', {}, 'Reported'), el('dd', { class: 'reported' }, String((r.reported || []).length))),
        el('div', { class: 'count' }, el('dt', {}, 'Pending'), el('dd', { class: 'pending' }, String(pending.length)))),
      pending.length ? el('p', { class: 'report-now-pending' }, `Waiting for: ${pending.map(siteName).join(', ')}`)
        : el('p', { class: 'report-now-done ok' }, 'Every site asked has reported.'));
  }));
  saveCache('reportnow', list);
  room.awaiting = new Set(list.filter((r) => Date.now() - Date.parse(r.at) < AWAIT_MS)
    .flatMap((r) => r.pending || []));
  rerenderBoard();
}

function onAsk() {
  showError(rn.error, '');
  const { area, error } = room.compose.currentArea();
  if (error || !area) {
    showError(rn.error, error ? `The alert form’s area is not valid: ${error.message}`
      : 'Set an area in the alert form first (Area → Circle or Polygon).');
    ($('compose').querySelector('input[name="area-kind"]:checked') || $('compose')).focus();
    return;
  }
  const ref = room.session.request('report_now', { area });
  if (!ref) {
    showError(rn.error, 'Not connected to the broker. Try again when the connection is back.');
    return;
  }
  rn.ref = ref;
  rn.btn.disabled = true;
}

function onReportNow(frame, req) {
  if (frame.ref === rn.ref) rn.ref = null;
  rn.btn.disabled = !room.isController;
  const asked = Array.isArray(frame.asked) ? frame.asked : [];
  knowSites(asked);
  rn.requests.set(frame.request_id, {
    request_id: frame.request_id,
    at: frame.requested_at || new Date().toISOString(),
    area: req?.area ? areaText(req.area) : '',
    asked,
    reported: [],
    pending: asked.slice(),
  });
  renderReportNow();
  announce(`${asked.length} site${asked.length === 1 ? '' : 's'} asked to report their status.`);
}

function onReportNowStatus(frame) {
  const r = rn.requests.get(frame.request_id);
  if (!r) return;
  if (Array.isArray(frame.reported)) r.reported = frame.reported;
  if (Array.isArray(frame.pending)) r.pending = frame.pending;
  renderReportNow();
}

export function onReportNowError(frame) {
  rn.ref = null;
  rn.btn.disabled = !room.isController;
  if (isUnsupported(frame)) {
    showError(rn.error, unsupportedText('Report now'));
    return;
  }
  showError(rn.error, frame.code === 'no_recipients'
    ? `Nobody was asked: ${frame.message || 'no site lies inside the area'}.`
    : `Nobody was asked: ${describeError(frame)}`);
}

/* The request on the wire when the connection dropped. */
export function reportNowLost() {
  rn.ref = null;
  rn.btn.disabled = !room.isController;
  showError(rn.error, 'The connection dropped before the broker answered: check the list before asking again.');
}

export function setupReportNow() {
  Object.assign(rn, {
    btn: $('report-now-send'),
    list: $('report-now'),
    error: $('report-now-error'),
    area: $('report-now-area'),
  });
  for (const r of loadCache('reportnow', [])) rn.requests.set(r.request_id, r);
  rn.btn.disabled = !room.isController;
  rn.btn.addEventListener('click', onAsk);
  room.session.on('report_now', onReportNow);
  room.session.on('report_now_status', onReportNowStatus);
  renderReportNow();
  renderReportNowArea();
}
