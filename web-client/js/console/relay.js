// console/relay.js: a company desk relays a force alert to its sites
// (docs/protocol.md §2b "Relay"): #relay-dialog, opened from the banner's
// #banner-relay or a history item's .relay button; all the company's sites
// when every box is ticked (`sites` left out) or those ticked; `relayed`
// closes the dialog and marks the entry; the relay's tallies; errors stay
// in the dialog.

import { el, formatTime, showError, describeError, isUnsupported, unsupportedText } from '../ui.js';
import { mergeTally } from '../session.js';
import { exerciseWord } from '../vocab.js';
import { desk, persist, bannerShows, announce } from './desk.js';
import { sevOf, senderText } from './words.js';
import { updateHistoryItem } from './items.js';
import { renderBanner } from './banner.js';
import { relayReceiptsSoon } from './receipts.js';

/* The dialog's nodes, and the relay request on the wire. */
const dlg = {
  dialog: null, form: null, sites: null, all: null, note: null, error: null, send: null,
  ref: null,
  returnFocus: null,
};

function ownSites() {
  return desk.directory.sites.filter((s) => s.guard_org_id === desk.user.org_id)
    .sort((x, y) => String(x.name).localeCompare(String(y.name)));
}

function siteBoxes() {
  return [...dlg.sites.querySelectorAll('input[name="relay-site"]')];
}

function syncRelayAll() {
  const boxes = siteBoxes();
  const on = boxes.filter((b) => b.checked).length;
  dlg.all.checked = boxes.length > 0 && on === boxes.length;
  dlg.all.indeterminate = on > 0 && on < boxes.length;
}

function openRelay(id, from) {
  const entry = desk.entries.get(id);
  if (!entry || desk.canAck || !dlg.dialog) return;
  const a = entry.alert;
  dlg.dialog.dataset.alertId = String(id);
  dlg.returnFocus = from || null;
  const ex = exerciseWord(a.status);
  document.getElementById('relay-alert').replaceChildren(
    el('span', { class: `severity badge sev-${sevOf(a)}` }, a.severity || ''),
    ex ? el('span', { class: 'badge exercise-badge exercise-mark' }, ex) : '',
    ' ', el('strong', {}, a.headline || ''),
    el('span', { class: 'muted' }, ` — from ${senderText(a)}, sent ${formatTime(a.sent_at)}`));
  dlg.dialog.classList.toggle('is-exercise', Boolean(ex));
  const sites = ownSites();
  dlg.sites.replaceChildren(...sites.map((s) => el('label', { class: 'target' },
    el('input', { type: 'checkbox', name: 'relay-site', value: String(s.id), checked: true }),
    el('span', { class: 'target-name' }, s.name),
    el('span', { class: 'target-meta' }, s.sector || ''))));
  if (!sites.length) dlg.sites.append(el('p', { class: 'muted' }, 'The directory has not listed your sites yet: the relay goes to all of them.'));
  document.getElementById('relay-all-count').textContent = `(${sites.length})`;
  dlg.all.checked = true;
  dlg.all.indeterminate = false;
  dlg.note.value = '';
  showError(dlg.error, '');
  dlg.send.disabled = false;
  dlg.send.textContent = ex ? `Relay ${ex} alert` : 'Relay alert';
  if (typeof dlg.dialog.showModal === 'function') dlg.dialog.showModal();
  else dlg.dialog.setAttribute('open', '');
  dlg.all.focus();
}

function closeRelay() {
  if (dlg.dialog.open) dlg.dialog.close();
  const back = dlg.returnFocus;
  if (back && back.isConnected && !back.hidden) back.focus();
}

function onSubmit(ev) {
  ev.preventDefault();
  if (dlg.ref) return;
  showError(dlg.error, '');
  const id = Number(dlg.dialog.dataset.alertId);
  const boxes = siteBoxes();
  const chosen = boxes.filter((b) => b.checked).map((b) => Number(b.value));
  if (boxes.length && !chosen.length) {
    showError(dlg.error, 'Choose at least one site.');
    dlg.all.focus();
    return;
  }
  const note = dlg.note.value.trim();
  if (note.length > 1000) {
    showError(dlg.error, 'The note is longer than 1000 characters.');
    dlg.note.setAttribute('aria-invalid', 'true');
    dlg.note.focus();
    return;
  }
  const frame = { alert_id: id };
  if (boxes.length && chosen.length < boxes.length) frame.sites = chosen;
  if (note) frame.note = note;
  const ref = desk.session.request('relay', frame);
  if (!ref) {
    showError(dlg.error, 'Not connected to the broker: nothing was relayed. Try again when the connection is back.');
    return;
  }
  dlg.ref = ref;
  dlg.send.disabled = true;
  dlg.send.textContent = 'Relaying…';
}

function wireDialog() {
  dlg.all.addEventListener('change', () => {
    for (const b of siteBoxes()) b.checked = dlg.all.checked;
    dlg.all.indeterminate = false;
  });
  dlg.sites.addEventListener('change', (ev) => {
    ev.target.removeAttribute('aria-invalid');
    syncRelayAll();
  });
  document.getElementById('relay-close').addEventListener('click', closeRelay);
  dlg.form.addEventListener('submit', onSubmit);
  dlg.note.addEventListener('input', () => dlg.note.removeAttribute('aria-invalid'));
}

function onRelayed(frame, req) {
  if (frame.ref === dlg.ref) dlg.ref = null;
  const orig = Number(frame.of ?? req?.alert_id);
  const entry = desk.entries.get(orig);
  if (entry) {
    entry.relays = entry.relays || [];
    entry.relays.push({
      relay_id: frame.alert_id,
      recipients: Number.isInteger(frame.recipients) ? frame.recipients : (req?.sites?.length ?? 0),
      note: req?.note || '',
      at: new Date().toISOString(),
    });
    desk.relayOf.set(frame.alert_id, orig);
    updateHistoryItem(entry);
    persist();
    renderBanner();
  }
  if (dlg.dialog?.open && Number(dlg.dialog.dataset.alertId) === orig) closeRelay();
  announce(`Relayed to ${frame.recipients ?? ''} site${frame.recipients === 1 ? '' : 's'}.`);
}

// Company operators get the counts of their relays.
function onRelayTally(t) {
  const entry = desk.entries.get(desk.relayOf.get(t.alert_id));
  const r = entry?.relays?.find((x) => x.relay_id === t.alert_id);
  if (!r) return;
  r.tally = mergeTally(r.tally, t);
  updateHistoryItem(entry);
  persist();
  if (bannerShows(entry)) renderBanner();
  relayReceiptsSoon(t.alert_id);
}

export function setupRelay() {
  const $ = (id) => document.getElementById(id);
  Object.assign(dlg, {
    dialog: $('relay-dialog'),
    form: $('relay-form'),
    sites: $('relay-sites'),
    all: $('relay-all'),
    note: $('relay-note'),
    error: $('relay-error'),
    send: $('relay-send'),
  });
  for (const e of desk.entries.values()) for (const r of e.relays || []) desk.relayOf.set(r.relay_id, e.alert.id);

  const { bannerRelay, banner, history } = desk.dom;
  if (bannerRelay) bannerRelay.addEventListener('click', () => openRelay(Number(banner.dataset.alertId), bannerRelay));
  // The history items' .relay buttons (items.js), present and future.
  if (!desk.canAck) {
    history.addEventListener('click', (ev) => {
      const b = ev.target.closest('button.relay');
      if (b && history.contains(b)) openRelay(Number(b.dataset.alertId), b);
    });
  }
  if (dlg.dialog) wireDialog();
  desk.session.on('relayed', onRelayed);
  desk.session.on('tally', onRelayTally);
}

function resetSend() {
  dlg.ref = null;
  dlg.send.disabled = false;
  dlg.send.textContent = 'Relay alert';
}

export function onRelayError(frame, req) {
  resetSend();
  const msg = isUnsupported(frame) ? unsupportedText('Relaying') : `Nothing was relayed: ${describeError(frame)}`;
  if (!dlg.dialog.open) {
    showError(desk.dom.consoleError, msg);
    desk.dom.consoleError.dataset.kind = 'relay';
    return;
  }
  showError(dlg.error, msg);
  const m = /^sites\[(\d+)\]/.exec(String(frame.field || ''));
  if (m && req?.sites) {
    const box = dlg.sites.querySelector(`input[value="${req.sites[Number(m[1])]}"]`);
    if (box) {
      box.setAttribute('aria-invalid', 'true');
      box.focus();
    }
  } else if (String(frame.field || '').startsWith('note')) {
    dlg.note.setAttribute('aria-invalid', 'true');
    dlg.note.focus();
  }
}

/* The relay on the wire when the connection dropped. */
export function relayLost(r) {
  if (r.ref !== dlg.ref) return;
  resetSend();
  showError(dlg.error, 'The connection dropped before the broker confirmed the relay: check with your sites before relaying again.');
}
