// console/items.js: the desk's history #alerts, newest first: one item per
// alert in full, with its status, acknowledgement, escalations, question,
// images, what replaced it, and for company desks the relay button, their
// relays and their own sites' receipts. Also the cache that keeps the
// history across a reload.

import { el, formatTime, timeElement } from '../ui.js';
import { loadCache } from '../session.js';
import { imageFigure } from '../images.js';
import { areaText } from '../area.js';
import { exerciseWord } from '../vocab.js';
import { signatureWords, signatureMarkClass } from '../signed.js';
import {
  desk, MAX_HISTORY, byAge, isEscalated, siteName, historyItem, referenced, referencedId,
} from './desk.js';
import {
  exerciseText, categoryText, handlingText, kindText, sevOf, senderText, siteNames,
  escalationText, statusText, relayable, relayedText, receiptState, answerValue, relayNotes,
} from './words.js';
import { requestBlock, syncRequest } from './answers.js';

/* ---- Images ------------------------------------------------------------ */

function imagesList(a) {
  return Array.isArray(a.images) ? a.images.filter((i) => i && (typeof i === 'string' || i.id)) : [];
}

export function fillImages(box, a) {
  const list = imagesList(a);
  box.replaceChildren(...list.map((img, i) => imageFigure(desk.token, img,
    `Image ${i + 1} of ${list.length} with the alert “${a.headline || ''}”`)));
  box.hidden = !list.length;
}

/* History entries load their images when the disclosure opens. */
function imagesDisclosure(a, images) {
  const holder = el('div', { class: 'images' });
  const box = el('details', { class: 'history-images' },
    el('summary', {}, `Image${images.length === 1 ? '' : 's'} (${images.length})`), holder);
  box.addEventListener('toggle', () => {
    if (box.open && !holder.childElementCount) fillImages(holder, a);
  });
  return box;
}

/* ---- The signature check (signed.js, docs/protocol.md "Signed alerts") --- */

// The words for a check's result; '' when the alert came without one to
// check (signed.js says them alike on every page).
export function signatureText(entry) {
  return signatureWords(entry.signature);
}

export function signatureClass(entry) {
  return signatureMarkClass(entry.signature);
}

/* ---- One history item ---------------------------------------------------- */

// The company desk's relay button; relay.js opens the dialog on a click.
function relayButton(id) {
  return el('button', { type: 'button', class: 'btn relay', dataset: { alertId: String(id) } }, 'Relay to our sites…');
}

function renderHistoryItem(entry) {
  const a = entry.alert;
  const sev = sevOf(a);
  const sites = siteNames(a);
  const exercise = exerciseText(a);
  const kind = kindText(a, referenced(a));
  const cat = categoryText(a);
  // A cancellation carries the alert it cancels (merged by the broker):
  // only the stand-down matters, not the old details or question.
  const full = a.msg_type !== 'cancel';
  const area = full ? areaText(a.area) : '';
  const images = full ? imagesList(a) : [];
  const item = el('li', {
    class: `history-item sev-${sev}${exercise ? ' is-exercise' : ''}${full ? '' : ' is-stand-down'}`,
    dataset: {
      alertId: String(a.id), severity: sev, status: entry.status,
      alertStatus: a.status || 'actual', msgType: a.msg_type || 'alert',
      ...(referencedId(a) ? { references: String(referencedId(a)) } : {}),
    },
  },
  exercise ? el('p', { class: 'exercise-strip' }, exercise) : null,
  el('div', { class: 'history-head' },
    full ? el('span', { class: `severity badge sev-${sev}` }, a.severity || '')
      : el('span', { class: 'severity badge stand-down-badge' }, 'stand down'),
    exercise ? el('span', { class: 'badge exercise-badge exercise-mark' }, exerciseWord(a.status)) : null,
    a.classification === 'OFFICIAL-SENSITIVE' ? el('span', { class: 'badge classification-badge classification' }, a.classification) : null,
    el('h3', { class: 'headline' }, a.headline || ''),
    el('span', { class: 'status' }, statusText(entry))),
  cat ? el('p', { class: 'history-category category' }, cat) : null,
  kind ? el('p', { class: 'history-kind' }, kind) : null,
  el('p', { class: 'history-relay relay-note', hidden: true }),
  full && a.body ? el('p', { class: 'history-body' }, a.body) : null,
  full && a.instruction ? el('p', { class: 'history-instruction' }, `What to do: ${a.instruction}`) : null,
  area ? el('p', { class: 'history-area area' }, `Area: ${area}`) : null,
  a.handling ? el('p', { class: 'history-handling handling' }, handlingText(a)) : null,
  sites ? el('p', { class: 'history-sites' }, `Sites: ${sites}`) : null,
  images.length ? imagesDisclosure(a, images) : null,
  full && a.request ? requestBlock(entry) : null,
  el('p', { class: 'signature-mark', hidden: true }),
  el('p', { class: 'history-escalation' }),
  el('p', { class: 'replaced-by', hidden: true }),
  el('p', { class: 'history-meta' },
    `From ${senderText(a)} · sent `, timeElement(a.sent_at, 'history-sent-at'),
    a.expires ? ` · expires ${formatTime(a.expires)}` : '',
    el('span', { class: 'acked-at' })),
  desk.canAck ? null : el('ul', { class: 'own-sites-status', hidden: true, 'aria-label': 'Our sites: received, read, acknowledged, answered' }),
  desk.canAck ? null : el('div', { class: 'history-actions' }, relayButton(a.id),
    el('p', { class: 'relayed', hidden: true })));
  fillHistoryItem(item, entry);
  return item;
}

function replacedByText(by) {
  if (!by) return '';
  return by.kind === 'cancel' ? `Cancelled${by.at ? ` at ${formatTime(by.at)}` : ''}: stand down (the cancellation is just above).`
    : `Updated${by.at ? ` at ${formatTime(by.at)}` : ''}: “${by.headline || ''}” above replaces this alert.`;
}

function fillHistoryItem(item, entry) {
  item.dataset.status = entry.status;
  const mark = item.querySelector('.signature-mark');
  if (mark) {
    mark.className = signatureClass(entry);
    mark.textContent = signatureText(entry);
    mark.hidden = !mark.textContent;
  }
  item.classList.toggle('escalated', isEscalated(entry));
  item.querySelector('.status').textContent = statusText(entry);
  let acked = '';
  if (entry.acked_at) {
    acked = ` · acknowledged ${formatTime(entry.acked_at)}`;
    if (entry.acked_by) acked += ` by ${entry.acked_by} (another console)`;
  }
  item.querySelector('.acked-at').textContent = acked;
  if (entry.acked_by) item.dataset.ackedBy = entry.acked_by;
  const esc = item.querySelector('.history-escalation');
  esc.textContent = escalationText(entry);
  esc.hidden = !esc.textContent;
  const box = item.querySelector('.request-box');
  if (box) syncRequest(box, entry);
  const note = item.querySelector('.relay-note');
  note.textContent = relayNotes(entry);
  note.hidden = !note.textContent;
  const rb = item.querySelector('.replaced-by');
  const by = entry.replaced_by;
  rb.textContent = replacedByText(by);
  rb.hidden = !by;
  item.classList.toggle('is-replaced', Boolean(by));
  const relay = item.querySelector('.relay');
  if (relay) relay.hidden = !relayable(entry);
  const relayed = item.querySelector('.relayed');
  if (relayed) {
    relayed.textContent = relayedText(entry);
    relayed.hidden = !relayed.textContent;
    renderRelaySites(item, entry);
  }
  const actions = item.querySelector('.history-actions');
  if (actions) actions.hidden = relay?.hidden && relayed?.hidden;
  renderOwnSites(item, entry);
}

/* A company desk, under each alert it was sent: its own sites that
 * received it, with read / acknowledged and their latest answer (from
 * `receipts`, scope own_sites, and live `site_receipt` frames). */
function renderOwnSites(item, entry) {
  const list = item.querySelector('.own-sites-status');
  if (!list) return;
  const rows = (entry.own_sites || []).map((x) => el('li', {
    class: x.acked_at ? 'acked' : 'not-acked',
    dataset: {
      siteId: String(x.site_id), acked: x.acked_at ? 'true' : 'false', read: x.read_at ? 'true' : 'false',
      ...(x.answer != null ? { answer: String(x.answer) } : {}),
    },
  }, el('span', { class: 'site' }, x.site_name || siteName(x.site_id)), ': ',
  el('span', { class: 'state' }, receiptState(x)),
  x.answer != null ? el('span', { class: 'answer' }, ` · answered “${answerValue(x.answer)}”`) : null));
  list.replaceChildren(...rows);
  list.hidden = !rows.length;
}

/* Per site of each relay that did not get the alert itself:
 * acknowledged / read / delivered / not yet, and its latest answer. A site
 * that got both is listed once, under our sites (own-sites-status): one
 * acknowledgement counts for both (docs/protocol.md, "Relay"). */
function renderRelaySites(item, entry) {
  let list = item.querySelector('.relay-sites-status');
  const rows = [];
  const own = new Set((entry.own_sites || []).map((x) => x.site_id));
  const listed = new Set();
  for (const r of entry.relays || []) {
    for (const x of r.sites || []) {
      if (own.has(x.site_id) || listed.has(x.site_id)) continue;
      listed.add(x.site_id);
      const ans = (r.answers || []).find((a) => a.site_id === x.site_id);
      rows.push(el('li', {
        class: x.acked_at ? 'acked' : 'not-acked',
        dataset: { siteId: String(x.site_id), relayId: String(r.relay_id), acked: x.acked_at ? 'true' : 'false' },
      }, el('span', { class: 'site' }, x.site_name || siteName(x.site_id)), ': ', el('span', { class: 'state' }, receiptState(x)),
      ans ? el('span', { class: 'answer' }, ` · answered “${answerValue(ans.answer)}”`) : null));
    }
  }
  if (!rows.length) {
    list?.remove();
    return;
  }
  if (!list) {
    list = el('ul', { class: 'relay-sites-status', 'aria-label': 'Our sites that received the relay' });
    item.querySelector('.relayed').after(list);
  }
  list.replaceChildren(...rows);
}

export function updateHistoryItem(entry) {
  const item = historyItem(entry.alert.id);
  if (item) fillHistoryItem(item, entry);
}

/* ---- The list ------------------------------------------------------------ */

/* Newest first, except that an update or cancellation keeps the alert
 * it replaces right under it (class thread-previous), so the history
 * shows them in place, together. */
function insertHistoryItem(entry) {
  const { history, historyEmpty } = desk.dom;
  const item = renderHistoryItem(entry);
  const id = entry.alert.id;
  const newer = [...history.children].find((li) => li.dataset.references === String(id));
  if (newer) {
    newer.after(item);
    item.classList.add('thread-previous');
  } else {
    const older = [...history.children].find((li) => Number(li.dataset.alertId) < id);
    history.insertBefore(item, older || null);
  }
  const ref = referencedId(entry.alert);
  const prev = ref ? historyItem(ref) : null;
  if (prev) {
    // Move the replaced alert (and what it replaced) under this one.
    let chain = prev;
    const moving = [];
    while (chain) {
      moving.push(chain);
      const r = chain.dataset.references;
      chain = r ? historyItem(Number(r)) : null;
    }
    let at = item;
    for (const li of moving) {
      at.after(li);
      li.classList.add('thread-previous');
      at = li;
    }
  }
  historyEmpty.hidden = true;
}

function trimHistory() {
  const { entries } = desk;
  while (entries.size > MAX_HISTORY) {
    const oldest = [...entries.values()].sort(byAge).find((e) => e.status !== 'new');
    if (!oldest) break;
    entries.delete(oldest.alert.id);
    historyItem(oldest.alert.id)?.remove();
  }
}

/* Returns the entry, and whether the alert was new to this desk. */
export function addAlert(a) {
  const { entries } = desk;
  if (entries.has(a.id)) return [entries.get(a.id), false];
  const entry = {
    alert: a, status: a.cancelled ? 'cancelled' : 'new', received_at: new Date().toISOString(),
    acked_at: null, read_at: null, escalated: false, escalations: [],
  };
  entries.set(a.id, entry);
  insertHistoryItem(entry);
  trimHistory();
  return [entry, true];
}

/* What this tab already held survives a reload. */
export function restoreHistory() {
  const { entries } = desk;
  const cached = loadCache('alerts', []);
  for (const e of Array.isArray(cached) ? cached : []) {
    if (e && e.alert && Number.isFinite(e.alert.id)) {
      if (e.signature === 'checking') delete e.signature; // the check did not finish
      entries.set(e.alert.id, e);
    }
  }
  for (const e of [...entries.values()].sort(byAge)) insertHistoryItem(e);
  desk.dom.historyEmpty.hidden = entries.size > 0;
}
