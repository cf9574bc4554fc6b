// history.js: a site's history (docs/protocol.md §2b "Site history") in a
// modal dialog: the site's status reports and the alerts it received with
// this site's receipts, newest first, with "Older" for the next page. Used
// by the control room's board, the company desk's board and the building
// console's "Our history". Every opening is an audited consultation on the
// broker's side (view_site_history).
//
// The dialog is built here (no markup in the pages) and opened with
// showModal(): the page behind is inert, Escape closes it, focus goes back
// to the button that opened it.

import {
  el, showError, describeError, timeElement, isUnsupported, unsupportedText,
} from './ui.js';
import { CCTV_LABELS, STATE_LABELS, label } from './vocab.js';

const PAGE = 50;

function buildDialog() {
  const dialog = el('dialog', { id: 'history-dialog', class: 'history-dialog', 'aria-labelledby': 'history-title' });
  const reportsBody = el('tbody', { id: 'history-reports' });
  const alertsBody = el('tbody', { id: 'history-alerts' });
  const th = (t) => el('th', { scope: 'col' }, t);
  dialog.append(
    el('h2', { id: 'history-title' }, 'Site history'),
    el('p', { id: 'history-site', class: 'history-site muted' }),
    el('p', { id: 'history-status', class: 'muted', role: 'status' }),
    el('p', { id: 'history-error', class: 'form-error', role: 'alert', hidden: true }),
    el('div', { class: 'history-scroll', tabindex: '0', 'aria-label': 'History of the site' },
      el('h3', {}, 'Status reports'),
      el('table', { class: 'history-table history-reports-table' },
        el('thead', {}, el('tr', {}, th('Reported at'), th('By'), th('State'), th('People'), th('Officers'),
          th('Trauma packs'), th('First-aid kits'), th('Defibrillators'), th('First-aiders'), th('CCTV'),
          th('Note'))),
        reportsBody),
      el('p', { id: 'history-reports-empty', class: 'muted', hidden: true }, 'No status reports.'),
      el('h3', {}, 'Alerts received'),
      el('table', { class: 'history-table history-alerts-table' },
        el('thead', {}, el('tr', {}, th('Sent at'), th('Headline'), th('Severity'), th('Status'),
          th('Delivered'), th('Read'), th('Acknowledged'), th('Answer'))),
        alertsBody),
      el('p', { id: 'history-alerts-empty', class: 'muted', hidden: true }, 'No alerts received.')),
    el('div', { class: 'form-actions' },
      el('button', { id: 'history-more', type: 'button', class: 'btn', hidden: true }, 'Older'),
      el('button', { id: 'history-close', type: 'button', class: 'btn btn-quiet' }, 'Close')));
  document.body.append(dialog);
  return dialog;
}

const timeOrDash = (iso) => (iso ? timeElement(iso, 'history-time') : '—');
const num = (v) => (Number.isFinite(v) ? String(v) : '—');

/* A count's cell, marked when the report carried it over unconfirmed. */
function countCell(r, k, cls) {
  const stale = Array.isArray(r.stale) && r.stale.includes(k);
  return el('td', { class: [cls, stale ? 'stale' : ''].filter(Boolean).join(' ') || undefined,
    title: stale ? 'Not confirmed: carried over from the last report' : undefined }, num(r[k]));
}

function reportRow(r) {
  const where = [r.trauma_packs_where && `Trauma packs: ${r.trauma_packs_where}`,
    r.defibrillators_where && `Defibrillators: ${r.defibrillators_where}`].filter(Boolean).join(' · ');
  return el('tr', { dataset: { reportId: String(r.report_id), state: r.state || '' } },
    el('td', {}, timeOrDash(r.reported_at)),
    el('td', {}, r.reported_by || '—'),
    el('td', { class: 'state' }, r.state ? label(STATE_LABELS, r.state) : '—'),
    countCell(r, 'people', 'people'),
    countCell(r, 'officers'),
    countCell(r, 'trauma_packs'),
    countCell(r, 'first_aid_kits'),
    countCell(r, 'defibrillators'),
    countCell(r, 'first_aiders', 'first-aiders'),
    el('td', {}, r.cctv ? label(CCTV_LABELS, r.cctv) : '—'),
    el('td', { class: 'note' }, r.note || '', where ? el('span', { class: 'board-where' }, where) : null));
}

function alertRow(a) {
  const headline = a.headline == null ? `${a.classification || 'Restricted'} (not shown)` : a.headline;
  return el('tr', { dataset: { alertId: String(a.alert_id), status: a.status || '' } },
    el('td', {}, timeOrDash(a.sent_at)),
    el('td', { class: 'headline' }, headline),
    el('td', {}, a.severity || ''),
    el('td', { class: 'kind' }, [a.status === 'actual' ? 'Actual' : String(a.status || '').toUpperCase(),
      a.relay_of ? 'relay' : a.msg_type && a.msg_type !== 'alert' ? a.msg_type : null].filter(Boolean).join(' · ')),
    el('td', {}, timeOrDash(a.delivered_at)),
    el('td', {}, timeOrDash(a.read_at)),
    el('td', { class: 'acked' }, timeOrDash(a.acked_at)),
    el('td', { class: 'answer' }, a.answer == null ? '—' : a.answer));
}

/* session: the page's Session. Returns {open(siteId, siteName, opener)}.
 * The page's own 'error' handler must leave site_history errors alone
 * (they are shown in the dialog). */
export function setupHistory(session) {
  const dialog = buildDialog();
  const $ = (id) => dialog.querySelector(`#${id}`);
  const more = $('history-more');
  let current = null;   // { siteId, ref, opener, reports: Map, alerts: Map, before }

  function close() {
    if (dialog.open) dialog.close();
  }

  dialog.addEventListener('close', () => {
    const opener = current?.opener;
    current = null;
    if (opener?.isConnected) opener.focus();
    else if (opener?.dataset?.siteId) document.querySelector(`.history-open[data-site-id="${opener.dataset.siteId}"]`)?.focus();
  });
  $('history-close').addEventListener('click', close);
  more.addEventListener('click', () => load());

  function load() {
    if (!current) return;
    const fields = { site_id: current.siteId, limit: PAGE };
    if (current.before) fields.before = current.before;
    showError($('history-error'), '');
    const ref = session.request('site_history', fields);
    if (!ref) {
      showError($('history-error'), 'Not connected: try again when the connection is back.');
      return;
    }
    current.ref = ref;
    more.disabled = true;
    $('history-status').textContent = 'Loading…';
  }

  // The next page starts below the oldest row of each full list (the
  // later of the two when both are full); rows seen twice are kept once.
  function nextBefore(frame) {
    const oldest = (list, key) => (list.length >= PAGE ? list[list.length - 1][key] : null);
    const cut = [oldest(frame.reports, 'reported_at'), oldest(frame.alerts, 'sent_at')].filter(Boolean);
    return cut.length ? cut.sort().at(-1) : null;
  }

  function render() {
    const reports = [...current.reports.values()];
    const alerts = [...current.alerts.values()];
    $('history-reports').replaceChildren(...reports.map(reportRow));
    $('history-alerts').replaceChildren(...alerts.map(alertRow));
    $('history-reports-empty').hidden = reports.length > 0;
    $('history-alerts-empty').hidden = alerts.length > 0;
    $('history-status').textContent = `${reports.length} status report${reports.length === 1 ? '' : 's'}, `
      + `${alerts.length} alert${alerts.length === 1 ? '' : 's'}${current.before ? ' (older ones available)' : ''}`;
    more.hidden = !current.before;
    more.disabled = false;
  }

  session.on('site_history', (frame) => {
    if (!current || frame.ref !== current.ref) return;
    const reports = Array.isArray(frame.reports) ? frame.reports : [];
    const alerts = Array.isArray(frame.alerts) ? frame.alerts : [];
    if (frame.site) {
      $('history-title').textContent = `History: ${frame.site.name || `site ${frame.site.site_id}`}`;
      $('history-site').textContent = frame.site.guard_org ? `Guarded by ${frame.site.guard_org}` : '';
    }
    for (const r of reports) current.reports.set(r.report_id, r);
    for (const a of alerts) current.alerts.set(a.alert_id, a);
    current.before = nextBefore({ reports, alerts });
    render();
  });

  session.on('error', (frame, req) => {
    if (req?.type !== 'site_history' || !current || frame.ref !== current.ref) return;
    $('history-status').textContent = '';
    more.disabled = false;
    showError($('history-error'), isUnsupported(frame)
      ? unsupportedText('Site history')
      : `The history could not be loaded: ${describeError(frame)}`);
  });

  return {
    open(siteId, siteName, opener) {
      current = { siteId, opener, ref: null, reports: new Map(), alerts: new Map(), before: null };
      $('history-title').textContent = `History: ${siteName || `site ${siteId}`}`;
      $('history-site').textContent = '';
      $('history-reports').replaceChildren();
      $('history-alerts').replaceChildren();
      $('history-reports-empty').hidden = true;
      $('history-alerts-empty').hidden = true;
      more.hidden = true;
      if (!dialog.open) dialog.showModal();
      $('history-close').focus();
      load();
    },
  };
}
