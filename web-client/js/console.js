// console.js: console.html, the desk of a guarded building (site_console)
// and of a security company (company_operator).
//
// Alerts arrive as `alert` frames. The oldest one still waiting fills
// #alert-banner until it is acknowledged (site consoles) or dismissed
// (company operators, who do not acknowledge); every alert also goes into
// the history #alerts, newest first. A site console tells the broker when
// an alert has been on screen (`read`). The desk keeps its position in the
// alert stream (localStorage, per user) and resumes from it on every
// connection, so alerts sent while it was offline arrive as replays.
//
// The partnership (docs/protocol.md §2b): alerts in full (status,
// category, instruction, area, classification, relay note, images),
// answers to the control room's questions, `site_acked` from another
// console of the site, the building status form and report requests, the
// "Report to police" form; for company operators their sites' board and
// relaying an alert to their sites.

import {
  requireSession, Session, loadCache, saveCache, loadCursor, saveCursor, mergeTally,
} from './session.js';
import {
  el, formatTime, timeElement, setupHeader, bindConnIndicator, showError, describeError,
  isUnsupported, unsupportedText,
} from './ui.js';
import { createSound } from './sound.js';
import { areaText } from './area.js';
import { imageFigure } from './images.js';
import { createBoard } from './board.js';
import { setupHistory } from './history.js';
import { createCityMap } from './map.js';
import { setupReportForm } from './reportform.js';
import { setupStatusForm } from './statusform.js';
import {
  SEVERITIES, SERIOUS_SEVERITIES, CATEGORY_LABELS, URGENCY_LABELS, CERTAINTY_LABELS, label, exerciseWord,
} from './vocab.js';

const MAX_HISTORY = 200;
// How often a company desk asks again which of its sites are connected.
const PRESENCE_POLL_MS = 15000;
// A company desk asks for a relay's per-site receipts this long after a tally.
const RELAY_RECEIPTS_MS = 1500;
// ... and for its own sites' receipts of an alert this long after it came
// (its deliveries are recorded by then); site_receipt frames keep it live.
const OWN_RECEIPTS_MS = 2500;
// Ack errors after which retrying cannot succeed: the alert leaves the queue.
const ACK_FINAL_ERRORS = new Set(['unknown_alert', 'not_recipient', 'forbidden', 'bad_field', 'missing_field']);

const STATUS_TEXT = {
  new: 'New',
  acked: 'Acknowledged',
  seen: 'Seen',
  failed: 'Not acknowledged',
  cancelled: 'Cancelled',
  superseded: 'Updated',
  expired: 'Expired',
};

// Alerts in full (docs/protocol.md §2b): exercise and test alerts say so
// on every screen; an update or a cancel replaces the alert it references;
// an alert past `expires` is no longer current.
function exerciseText(a) {
  const w = exerciseWord(a.status);
  return w ? `${w} — not a real incident` : '';
}

function categoryText(a) {
  const parts = [label(CATEGORY_LABELS, a.category)];
  if (a.urgency && a.urgency !== 'unknown') parts.push(`${label(URGENCY_LABELS, a.urgency)} urgency`);
  if (a.certainty && a.certainty !== 'unknown') parts.push(label(CERTAINTY_LABELS, a.certainty));
  return parts.filter(Boolean).join(' · ');
}

function relayText(a) {
  const r = a.relay;
  if (!r) return '';
  return `Relayed by ${r.by_org_name || 'your security company'}${r.note ? `: ${r.note}` : ''}`;
}

function handlingText(a) {
  return a.handling ? `Handling: ${a.handling}` : '';
}

function requestQuestion(rq) {
  if (!rq) return '';
  if (rq.kind === 'choice') return 'The control room asks for an answer:';
  if (rq.kind === 'number') return `The control room asks: ${rq.label || 'a number'} (${rq.min ?? 0} to ${rq.max ?? '…'})`;
  return '';
}

function answerValue(v) {
  return v === null || v === undefined ? '' : String(v);
}

function kindText(a, ref) {
  const about = ref ? `: ${ref.headline}` : '';
  if (a.msg_type === 'cancel') return `Cancelled — stand down${about}`;
  if (a.msg_type === 'update') return `Update${about}`;
  return '';
}

function isExpired(a) {
  const t = a.expires ? Date.parse(a.expires) : NaN;
  return Number.isFinite(t) && t <= Date.now();
}

function main({ token, user }) {
  const $ = (id) => document.getElementById(id);
  const canAck = user.role === 'site_console';
  const banner = $('alert-banner');
  const history = $('alerts');
  const historyEmpty = $('alerts-empty');
  const allClear = $('all-clear');
  const consoleError = $('console-error');
  const announcer = $('announcer');
  const ackNote = banner.querySelector('.ack-note');

  const session = new Session(token);
  setupHeader(user, session);
  bindConnIndicator(session, $('conn'));
  const sound = createSound($('sound'));

  // Company operators do not acknowledge: their banner has a local
  // "Dismiss" instead of #ack.
  let actionBtn = $('ack');
  let bannerRelay = null;
  if (!canAck) {
    const dismiss = el('button', { id: 'dismiss', type: 'button', class: 'btn btn-ack' }, 'Dismiss');
    actionBtn.replaceWith(dismiss);
    actionBtn = dismiss;
    // Company operators pass a force alert on to their sites.
    bannerRelay = el('button', { id: 'banner-relay', type: 'button', class: 'btn btn-relay relay' }, 'Relay to our sites…');
    dismiss.after(bannerRelay);
    bannerRelay.addEventListener('click', () => openRelay(Number(banner.dataset.alertId), bannerRelay));
  }

  /* ---- Header: where this desk is ------------------------------------- */

  let directory = { orgs: [], sites: [] };

  function renderPlace() {
    const name = $('place-name');
    const detail = $('place-detail');
    if (canAck) {
      const site = directory.sites.find((s) => s.id === user.site_id);
      const guard = site && directory.orgs.find((o) => o.id === site.guard_org_id);
      name.textContent = site ? site.name : (user.site_name || 'Site console');
      detail.textContent = site ? [site.address, guard && `guarded by ${guard.name}`].filter(Boolean).join(' · ') : '';
    } else {
      const org = directory.orgs.find((o) => o.id === user.org_id);
      name.textContent = org ? org.name : (user.org_name || 'Company desk');
      const n = directory.sites.filter((s) => s.guard_org_id === user.org_id).length;
      detail.textContent = org ? `${n} guarded site${n === 1 ? '' : 's'}` : '';
    }
    detail.hidden = !detail.textContent;
    updateTitle();
  }

  // "(2) Tocsin · Bank Tower" while two alerts wait: visible in the tab.
  function updateTitle() {
    const n = waiting().length;
    const place = $('place-name').textContent || 'Console';
    document.title = `${n ? `(${n}) ` : ''}Tocsin · ${place}`;
  }

  /* ---- Alerts kept by this desk --------------------------------------- */

  // alert id -> { alert, status: new|acked|seen|failed|cancelled|superseded,
  //               received_at, acked_at, acked_by (another console),
  //               read_at, escalated, escalations: [{site_id, site_name,
  //               escalated_at}], answer: {value, at}, answerPending,
  //               answerError, relays: [{relay_id, recipients, note, at,
  //               tally}] (company operators) }
  const entries = new Map();
  const ackQueue = new Set();     // ids the user asked to acknowledge
  const ackInFlight = new Map();  // id -> ref of the ack request on the wire
  const readInFlight = new Set(); // ids whose `read` is on the wire
  let readUnsupported = false;    // the broker answered `read` with unknown_type

  function persist() {
    saveCache('alerts', [...entries.values()].slice(-MAX_HISTORY));
  }

  // Alert ids increase with time (docs/protocol.md), so they order alerts
  // even while `seq` is null (journaled).
  const byAge = (x, y) => x.alert.id - y.alert.id;

  // The banner's queue: escalated alerts first (someone is waiting on this
  // desk), then oldest first.
  const isEscalated = (e) => Boolean(e.escalated || e.escalations?.length);
  function waiting() {
    return [...entries.values()]
      .filter((e) => e.status === 'new' && !isExpired(e.alert))
      .sort((x, y) => Number(isEscalated(y)) - Number(isEscalated(x)) || byAge(x, y));
  }

  function sevOf(alert) {
    return SEVERITIES.includes(alert.severity) ? alert.severity : 'minor';
  }

  function senderText(alert) {
    const s = alert.sender || {};
    return [s.display_name, s.org_name].filter(Boolean).join(', ') || 'unknown sender';
  }

  function siteName(id, fallback) {
    return directory.sites.find((s) => s.id === id)?.name || fallback || `site ${id}`;
  }

  function siteNames(alert) {
    if (!Array.isArray(alert.sites) || !alert.sites.length) return '';
    return alert.sites.map((id) => siteName(id)).join(', ');
  }

  function escalationText(entry) {
    const list = entry.escalations || [];
    if (!list.length) return '';
    const names = list.map((x) => `${x.site_name || siteName(x.site_id)} (${formatTime(x.escalated_at)})`);
    return `Not acknowledged in time by: ${names.join(', ')}`;
  }

  function historyItem(id) {
    return history.querySelector(`[data-alert-id="${CSS.escape(String(id))}"]`);
  }

  function referenced(a) {
    return Number.isFinite(Number(a.references)) ? entries.get(Number(a.references))?.alert : null;
  }

  function statusText(entry) {
    if (entry.status === 'new' && isExpired(entry.alert)) return STATUS_TEXT.expired;
    return STATUS_TEXT[entry.status] || entry.status;
  }

  /* ---- Questions (requests) and answers -------------------------------- */

  const answerInFlight = new Map(); // ref -> alert id

  // The answer controls for an alert with a request: buttons for a
  // choice, a number field for a number. Company desks see the question
  // only. Built once per place (banner, history item); syncRequest keeps
  // them current.
  function requestBlock(entry) {
    const a = entry.alert;
    const rq = a.request;
    const id = a.id;
    const box = el('div', { class: 'request-box', dataset: { alertId: String(id), kind: rq.kind } });
    if (!canAck) {
      const what = rq.kind === 'choice' ? (rq.options || []).join(' / ') : `${rq.label || 'a number'}`;
      box.append(el('p', { class: 'request-info' }, `The control room asks each site to answer: ${what}.`));
      return box;
    }
    box.append(el('p', { class: 'request-question' }, requestQuestion(rq)));
    if (rq.kind === 'choice') {
      const group = el('div', { class: 'answer-options', role: 'group', 'aria-label': 'Answer' });
      for (const o of rq.options || []) {
        const b = el('button', { type: 'button', class: 'btn answer-option', dataset: { option: o }, 'aria-pressed': 'false' }, o);
        b.addEventListener('click', () => sendAnswer(id, o));
        group.append(b);
      }
      box.append(group);
    } else if (rq.kind === 'number') {
      const inputId = `answer-number-${id}-${Math.random().toString(36).slice(2, 7)}`;
      const input = el('input', {
        id: inputId, class: 'answer-number', type: 'number', inputmode: 'numeric', step: '1',
        min: String(rq.min ?? 0), max: rq.max !== undefined ? String(rq.max) : undefined,
      });
      const f = el('form', { class: 'answer-form', novalidate: true },
        el('label', { for: inputId }, rq.label || 'Number'),
        input,
        el('button', { type: 'submit', class: 'btn answer-submit' }, 'Send answer'));
      f.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const raw = input.value.trim();
        const v = Number(raw);
        const min = Number.isFinite(rq.min) ? rq.min : 0;
        const max = Number.isFinite(rq.max) ? rq.max : Infinity;
        if (raw === '' || !Number.isInteger(v) || v < min || v > max) {
          entry.answerError = `Enter a whole number from ${min}${Number.isFinite(max) ? ` to ${max}` : ' up'}.`;
          input.setAttribute('aria-invalid', 'true');
          syncAnswers(id);
          input.focus();
          return;
        }
        input.removeAttribute('aria-invalid');
        sendAnswer(id, v);
      });
      input.addEventListener('input', () => input.removeAttribute('aria-invalid'));
      box.append(f);
    }
    box.append(
      el('p', { class: 'answer-current', 'aria-live': 'polite' }),
      el('p', { class: 'answer-error', role: 'alert', hidden: true }));
    syncRequest(box, entry);
    return box;
  }

  function syncRequest(box, entry) {
    if (!canAck) return;
    const cur = entry.answer;
    const pending = entry.answerPending;
    // An alert updated, cancelled or expired takes no more answers.
    const closed = Boolean(entry.replaced) || entry.status === 'cancelled' || entry.status === 'superseded' ||
      isExpired(entry.alert);
    const busy = closed || (pending !== undefined && pending !== null);
    box.dataset.closed = closed ? 'true' : 'false';
    for (const b of box.querySelectorAll('.answer-option')) {
      const chosen = cur && answerValue(cur.value) === b.dataset.option;
      b.setAttribute('aria-pressed', chosen ? 'true' : 'false');
      b.classList.toggle('chosen', Boolean(chosen));
      b.disabled = busy;
    }
    const numInput = box.querySelector('.answer-number');
    if (numInput) numInput.disabled = closed;
    const num = box.querySelector('.answer-number');
    if (num && cur && document.activeElement !== num && num.value === '') num.value = answerValue(cur.value);
    const sub = box.querySelector('.answer-submit');
    if (sub) {
      sub.disabled = busy;
      sub.textContent = cur ? 'Change answer' : 'Send answer';
    }
    const curEl = box.querySelector('.answer-current');
    if (pending !== undefined && pending !== null) curEl.textContent = `Sending “${answerValue(pending)}”…`;
    else if (cur) curEl.textContent = `Your answer: ${answerValue(cur.value)}${cur.at ? ` (sent ${formatTime(cur.at)})` : ''}.${closed ? '' : ' You can change it.'}`;
    else curEl.textContent = 'Not answered yet.';
    if (closed) {
      const how = entry.replaced || (entry.status === 'superseded' ? 'update' : entry.status === 'cancelled' ? 'cancel' : '');
      curEl.textContent += how === 'update' ? ' This alert was updated: answer on the newer version.'
        : how === 'cancel' ? ' This alert was cancelled.' : ' This alert has expired.';
    }
    box.dataset.answered = cur ? 'true' : 'false';
    const err = box.querySelector('.answer-error');
    err.textContent = entry.answerError || '';
    err.hidden = !entry.answerError;
    if (!entry.answerError) num?.removeAttribute('aria-invalid');
  }

  function syncAnswers(id) {
    const entry = entries.get(id);
    if (!entry) return;
    for (const box of document.querySelectorAll(`.request-box[data-alert-id="${CSS.escape(String(id))}"]`)) {
      syncRequest(box, entry);
    }
  }

  function sendAnswer(id, value) {
    const entry = entries.get(id);
    if (!entry || !entry.alert.request) return;
    entry.answerError = '';
    const field = entry.alert.request.kind === 'number' ? { number: value } : { choice: value };
    const ref = session.request('answer', { alert_id: id, ...field });
    if (!ref) {
      entry.answerError = 'Not connected: the answer was not sent. Answer again when the connection is back.';
    } else {
      answerInFlight.set(ref, id);
      entry.answerPending = value;
    }
    syncAnswers(id);
  }

  session.on('answered', (frame, req) => {
    const id = answerInFlight.get(frame.ref) ?? frame.alert_id;
    answerInFlight.delete(frame.ref);
    const entry = entries.get(id);
    if (!entry) return;
    const value = req ? (req.choice ?? req.number) : entry.answerPending;
    entry.answer = { value, at: frame.answered_at || new Date().toISOString() };
    entry.answerPending = null;
    entry.answerError = '';
    persist();
    syncAnswers(id);
    announce(`Answer sent: ${answerValue(value)}.`);
  });

  function onAnswerError(frame, req) {
    const id = answerInFlight.get(req.ref) ?? req.alert_id;
    answerInFlight.delete(req.ref);
    const entry = entries.get(id);
    if (!entry) return;
    entry.answerPending = null;
    entry.answerError = isUnsupported(frame) ? unsupportedText('Answering') : `The answer was not sent: ${describeError(frame)}`;
    syncAnswers(id);
    if (String(frame.field || '').startsWith('number')) {
      for (const n of document.querySelectorAll(`.request-box[data-alert-id="${CSS.escape(String(id))}"] .answer-number`)) {
        n.setAttribute('aria-invalid', 'true');
      }
    }
  }

  /* ---- Images ----------------------------------------------------------- */

  function imagesList(a) {
    return Array.isArray(a.images) ? a.images.filter((i) => i && (typeof i === 'string' || i.id)) : [];
  }

  function fillImages(box, a) {
    const list = imagesList(a);
    box.replaceChildren(...list.map((img, i) => imageFigure(token, img,
      `Image ${i + 1} of ${list.length} with the alert “${a.headline || ''}”`)));
    box.hidden = !list.length;
  }

  /* ---- Relay (company operators) --------------------------------------- */

  function relayable(entry) {
    const a = entry.alert;
    return !canAck && !a.relay && a.msg_type !== 'cancel' && !a.cancelled &&
      entry.status !== 'cancelled' && entry.status !== 'superseded' && !entry.replaced && !isExpired(a) &&
      a.sender?.org_id !== user.org_id;
  }

  function relayedText(entry) {
    const list = entry.relays || [];
    if (!list.length) return '';
    return list.map((r) => {
      const t = r.tally;
      const counts = t ? ` — delivered ${t.delivered ?? 0}, acknowledged ${t.acknowledged ?? 0} of ${t.recipients ?? r.recipients}` : '';
      return `Relayed to ${r.recipients} site${r.recipients === 1 ? '' : 's'} at ${formatTime(r.at)}${r.note ? ` (“${r.note}”)` : ''}${counts}`;
    }).join('; ');
  }

  function relayButton(id) {
    const b = el('button', { type: 'button', class: 'btn relay', dataset: { alertId: String(id) } }, 'Relay to our sites…');
    b.addEventListener('click', () => openRelay(id, b));
    return b;
  }

  /* ---- History ---------------------------------------------------------- */

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
    let imagesBox = null;
    if (images.length) {
      const holder = el('div', { class: 'images' });
      imagesBox = el('details', { class: 'history-images' },
        el('summary', {}, `Image${images.length === 1 ? '' : 's'} (${images.length})`), holder);
      imagesBox.addEventListener('toggle', () => {
        if (imagesBox.open && !holder.childElementCount) fillImages(holder, a);
      });
    }
    const item = el('li', {
      class: `history-item sev-${sev}${exercise ? ' is-exercise' : ''}`,
      dataset: {
        alertId: String(a.id), severity: sev, status: entry.status,
        alertStatus: a.status || 'actual', msgType: a.msg_type || 'alert',
        ...(referencedId(a) ? { references: String(referencedId(a)) } : {}),
      },
    },
    exercise ? el('p', { class: 'exercise-strip' }, exercise) : null,
    el('div', { class: 'history-head' },
      el('span', { class: `severity badge sev-${sev}` }, a.severity || ''),
      exercise ? el('span', { class: 'badge exercise-badge exercise-mark' }, exerciseWord(a.status)) : null,
      a.classification === 'OFFICIAL-SENSITIVE' ? el('span', { class: 'badge classification-badge classification' }, a.classification) : null,
      el('h3', { class: 'headline' }, a.headline || ''),
      el('span', { class: 'status' }, statusText(entry))),
    cat ? el('p', { class: 'history-category category' }, cat) : null,
    kind ? el('p', { class: 'history-kind' }, kind) : null,
    a.relay ? el('p', { class: 'history-relay relay-note' }, relayText(a)) : null,
    full && a.body ? el('p', { class: 'history-body' }, a.body) : null,
    full && a.instruction ? el('p', { class: 'history-instruction' }, `What to do: ${a.instruction}`) : null,
    area ? el('p', { class: 'history-area area' }, `Area: ${area}`) : null,
    a.handling ? el('p', { class: 'history-handling handling' }, handlingText(a)) : null,
    sites ? el('p', { class: 'history-sites' }, `Sites: ${sites}`) : null,
    imagesBox,
    full && a.request ? requestBlock(entry) : null,
    el('p', { class: 'history-escalation' }),
    el('p', { class: 'replaced-by', hidden: true }),
    el('p', { class: 'history-meta' },
      `From ${senderText(a)} · sent `, timeElement(a.sent_at, 'history-sent-at'),
      a.expires ? ` · expires ${formatTime(a.expires)}` : '',
      el('span', { class: 'acked-at' })),
    canAck ? null : el('ul', { class: 'own-sites-status', hidden: true, 'aria-label': 'Our sites: received, read, acknowledged, answered' }),
    canAck ? null : el('div', { class: 'history-actions' }, relayButton(a.id),
      el('p', { class: 'relayed', hidden: true })));
    fillHistoryItem(item, entry);
    return item;
  }

  function fillHistoryItem(item, entry) {
    item.dataset.status = entry.status;
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
    const rb = item.querySelector('.replaced-by');
    const by = entry.replaced_by;
    rb.textContent = !by ? ''
      : by.kind === 'cancel' ? `Cancelled${by.at ? ` at ${formatTime(by.at)}` : ''}: stand down (the cancellation is just above).`
        : `Updated${by.at ? ` at ${formatTime(by.at)}` : ''}: “${by.headline || ''}” above replaces this alert.`;
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

  /* The banner's line for a company desk: how many of its sites that got
   * the alert acknowledged, read and answered it. */
  function ownSitesText(entry) {
    const list = entry.own_sites || [];
    if (!list.length) return '';
    const n = (f) => list.filter(f).length;
    const answered = n((x) => x.answer != null);
    return `Our sites: ${n((x) => x.acked_at)} of ${list.length} acknowledged, ${n((x) => x.read_at)} read` +
      (answered ? `, ${answered} answered` : '');
  }

  /* A site's receipt state in words: acknowledged / read / delivered / not yet. */
  function receiptState(x) {
    return x.acked_at ? `acknowledged ${formatTime(x.acked_at)}`
      : x.read_at ? `read ${formatTime(x.read_at)}, not acknowledged`
        : x.delivered_at ? `delivered ${formatTime(x.delivered_at)}, not acknowledged` : 'not yet received';
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

  /* Per site of each relay: acknowledged / read / delivered / not yet, and
   * its latest answer. */
  function renderRelaySites(item, entry) {
    let list = item.querySelector('.relay-sites-status');
    const rows = [];
    for (const r of entry.relays || []) {
      for (const x of r.sites || []) {
        const ans = (r.answers || []).find((a) => a.site_id === x.site_id);
        const state = x.acked_at ? `acknowledged ${formatTime(x.acked_at)}`
          : x.read_at ? `read ${formatTime(x.read_at)}, not acknowledged`
            : x.delivered_at ? `delivered ${formatTime(x.delivered_at)}, not acknowledged` : 'not yet received';
        rows.push(el('li', {
          class: x.acked_at ? 'acked' : 'not-acked',
          dataset: { siteId: String(x.site_id), relayId: String(r.relay_id), acked: x.acked_at ? 'true' : 'false' },
        }, el('span', { class: 'site' }, x.site_name || siteName(x.site_id)), ': ', el('span', { class: 'state' }, state),
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

  function updateHistoryItem(entry) {
    const item = historyItem(entry.alert.id);
    if (item) fillHistoryItem(item, entry);
  }

  // Newest first: before the first item of an older alert.
  /* Newest first, except that an update or cancellation keeps the alert
   * it replaces right under it (class thread-previous), so the history
   * shows them in place, together. */
  function insertHistoryItem(entry) {
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

  function referencedId(a) {
    return (a.msg_type === 'update' || a.msg_type === 'cancel') && a.references ? Number(a.references) : null;
  }

  function setText(node, text) {
    node.textContent = text || '';
    node.hidden = !text;
  }

  function renderBanner() {
    const queue = waiting();
    updateTitle();
    if (!queue.length) {
      banner.hidden = true;
      delete banner.dataset.alertId;
      delete banner.dataset.rendered;
      allClear.hidden = session.state === 'reconnecting';
      document.body.classList.remove('alerting');
      document.body.classList.remove('alerting-exercise');
      setTakeover(null);
      return;
    }
    const entry = queue[0];
    const a = entry.alert;
    const sev = sevOf(a);
    banner.hidden = false;
    allClear.hidden = true;
    banner.dataset.alertId = String(a.id);
    banner.dataset.severity = sev;
    banner.dataset.alertStatus = a.status || 'actual';
    for (const s of SEVERITIES) banner.classList.toggle(`sev-${s}`, s === sev);
    document.body.classList.add('alerting');

    banner.querySelector('.severity').textContent = a.severity || '';
    banner.querySelector('.headline').textContent = a.headline || '';
    const full = a.msg_type !== 'cancel'; // a cancellation: the stand-down only
    setText(banner.querySelector('.body'), full ? a.body : '');
    setText(banner.querySelector('.instruction'), full && a.instruction ? `What to do: ${a.instruction}` : '');
    const ex = exerciseText(a);
    setText(banner.querySelector('.exercise-mark'), ex);
    const w = exerciseWord(a.status);
    setText(banner.querySelector('.exercise-strip'), ex ? `${w} · ${w} · ${w} — not a real incident` : '');
    banner.classList.toggle('is-exercise', Boolean(ex));
    document.body.classList.toggle('alerting-exercise', Boolean(ex));
    setText(banner.querySelector('.category'), categoryText(a));
    setText(banner.querySelector('.classification'), a.classification === 'OFFICIAL-SENSITIVE' ? a.classification : '');
    setText(banner.querySelector('.handling'), handlingText(a));
    const area = full ? areaText(a.area) : '';
    setText(banner.querySelector('.area'), area ? `Area: ${area}` : '');
    setText(banner.querySelector('.relay-note'), relayText(a));
    setText(banner.querySelector('.kind-mark'), kindText(a, referenced(a)));
    const sites = siteNames(a);
    setText(banner.querySelector('.sites'), sites ? `Sites: ${sites}` : '');
    const escEl = banner.querySelector('.escalation');
    let esc = escalationText(entry);
    if (!esc && entry.escalated) esc = 'Reminder: the control room is waiting for this desk to acknowledge.';
    setText(escEl, esc);
    banner.classList.toggle('escalated', Boolean(esc));
    banner.querySelector('.sender').textContent = senderText(a);
    const sentAt = banner.querySelector('.sent-at');
    sentAt.dateTime = a.sent_at || '';
    sentAt.textContent = formatTime(a.sent_at);
    banner.querySelector('.expires').textContent = a.expires ? ` · expires ${formatTime(a.expires)}` : '';

    // Images and the answer controls are rebuilt only when another alert
    // takes the banner (so that typing and focus survive re-renders).
    const reqBox = banner.querySelector('.request');
    if (banner.dataset.rendered !== String(a.id)) {
      banner.dataset.rendered = String(a.id);
      fillImages(banner.querySelector('.images'), full ? a : {});
      const ask = full && a.request;
      reqBox.replaceChildren(...(ask ? [requestBlock(entry)] : []));
      reqBox.hidden = !ask;
    } else {
      const box = reqBox.querySelector('.request-box');
      if (box) syncRequest(box, entry);
    }

    const more = queue.length - 1;
    const pc = banner.querySelector('.pending-count');
    pc.textContent = more ? `${more} more alert${more === 1 ? '' : 's'} waiting` : '';
    pc.hidden = !more;

    if (canAck) {
      const sending = ackQueue.has(a.id);
      actionBtn.disabled = sending && ackInFlight.has(a.id);
      actionBtn.textContent = sending ? 'Acknowledging…' : 'Acknowledge';
      ackNote.textContent = sending && !session.connected
        ? 'Offline: the acknowledgement will be sent when the connection is back.'
        : '';
    } else {
      ackNote.textContent = 'Company desks do not acknowledge; the sites do.';
      bannerRelay.hidden = !relayable(entry);
      bannerRelay.dataset.alertId = String(a.id);
      const r = relayedText(entry);
      if (r) ackNote.textContent = r;
    }
    const own = banner.querySelector('.own-sites-summary');
    if (own) {
      own.textContent = canAck ? '' : ownSitesText(entry);
      own.hidden = !own.textContent;
    }
    setTakeover(a);
    maybeSendRead();
  }

  /* An urgent alert (severe, extreme or immediate) at a site console takes
   * the whole screen, rings until it is acknowledged, and keeps the
   * keyboard inside it: the page behind is inert until then. */
  function isUrgent(a) {
    return a.msg_type !== 'cancel' && (SERIOUS_SEVERITIES.includes(sevOf(a)) || a.urgency === 'immediate');
  }

  function setTakeover(a) {
    const on = Boolean(a) && canAck && isUrgent(a);
    banner.classList.toggle('takeover', on);
    banner.dataset.takeover = on ? 'true' : 'false';
    document.body.classList.toggle('taken-over', on);
    for (const n of document.querySelectorAll('body > header, body > main')) n.inert = on;
    if (on) sound.ring(sevOf(a));
    else sound.stopRinging();
  }

  function announce(text) {
    // Clear first so that the same text twice is announced twice.
    announcer.textContent = '';
    setTimeout(() => { announcer.textContent = text; }, 50);
  }

  function alertText(a) {
    const ex = exerciseText(a);
    const kind = a.msg_type === 'cancel' ? 'cancellation' : a.msg_type === 'update' ? 'update' : 'alert';
    return `${ex ? `${ex}. ` : ''}${a.severity || ''} ${kind}: ${a.headline || ''}. From ${senderText(a)}.`;
  }

  // Ring, announce and put the keyboard on the action button.
  function raise(a, text) {
    renderBanner();
    announce(text);
    sound.alert(sevOf(a));
    if (!banner.hidden) actionBtn.focus();
  }

  function trimHistory() {
    while (entries.size > MAX_HISTORY) {
      const oldest = [...entries.values()].sort(byAge).find((e) => e.status !== 'new');
      if (!oldest) break;
      entries.delete(oldest.alert.id);
      historyItem(oldest.alert.id)?.remove();
    }
  }

  /* Returns the entry, and whether the alert was new to this desk. */
  function addAlert(a) {
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

  function dropHistory() {
    entries.clear();
    ackQueue.clear();
    ackInFlight.clear();
    readInFlight.clear();
    history.replaceChildren();
    historyEmpty.hidden = false;
    persist();
    renderBanner();
  }

  // What this tab already held survives a reload.
  const cached = loadCache('alerts', []);
  for (const e of Array.isArray(cached) ? cached : []) {
    if (e && e.alert && Number.isFinite(e.alert.id)) entries.set(e.alert.id, e);
  }
  for (const e of [...entries.values()].sort(byAge)) insertHistoryItem(e);
  historyEmpty.hidden = entries.size > 0;
  renderPlace();
  renderBanner();

  /* ---- Stream position and resume ------------------------------------- */

  let cursor = loadCursor(user.id);  // {epoch, seq} or null
  let epoch = cursor ? cursor.epoch : null;
  let resuming = null;               // null | 'ok' | 'pending' while a backlog is due
  let highestSeq = cursor ? cursor.seq : 0;
  let replayed = [];                 // alerts received as replays in this resume

  session.resumeFrom = () => cursor;

  function setCursor(seq) {
    if (typeof epoch !== 'string' || !Number.isInteger(seq) || seq < 0) return;
    cursor = { epoch, seq };
    saveCursor(user.id, cursor);
  }

  function noteSeq(a) {
    if (Number.isInteger(a.seq) && a.seq > highestSeq) highestSeq = a.seq;
    // While a backlog is still due the cursor must stay where it is.
    if (!resuming && cursor && highestSeq > cursor.seq) setCursor(highestSeq);
  }

  session.on('resume_refused', () => {
    cursor = null;
    saveCursor(user.id, null);
  });

  session.on('welcome', (frame) => {
    const stream = frame.stream;
    const resume = frame.resume || { status: 'none' };
    if (stream && typeof stream.epoch === 'string') {
      if (epoch !== stream.epoch || resume.status === 'reload' || !cursor) {
        if (resume.status === 'reload' || (epoch && epoch !== stream.epoch)) dropHistory();
        epoch = stream.epoch;
        highestSeq = Number.isInteger(stream.head) ? stream.head : 0;
        setCursor(highestSeq);
      }
    }
    resuming = resume.status === 'ok' || resume.status === 'pending' ? resume.status : null;
    replayed = [];

    // Acknowledgements clicked while offline, or lost with the old
    // connection, go out now (ack is idempotent: `already` says so).
    for (const id of ackQueue) sendAck(id);
    renderBanner();
  });

  session.on('resume_done', (frame) => {
    if (frame.status === 'reload') {
      dropHistory();
      highestSeq = Number.isInteger(frame.seq) ? frame.seq : highestSeq;
    } else if (Number.isInteger(frame.seq) && frame.seq > highestSeq) {
      highestSeq = frame.seq;
    }
    resuming = null;
    setCursor(highestSeq);
    const fresh = replayed.filter((e) => e.status === 'new');
    replayed = [];
    if (fresh.length) {
      const worst = fresh.map((e) => e.alert)
        .sort((x, y) => SEVERITIES.indexOf(sevOf(y)) - SEVERITIES.indexOf(sevOf(x)))[0];
      raise(worst, `${fresh.length} alert${fresh.length === 1 ? '' : 's'} arrived while this desk was offline. ` +
        `Oldest first: ${alertText(waiting()[0]?.alert || worst)}`);
    }
  });

  /* ---- Frames --------------------------------------------------------- */

  session.on('alert', (frame) => {
    const a = frame.alert;
    if (!a || !Number.isFinite(a.id)) return;
    const [entry, isNew] = addAlert(a);
    if (frame.escalated) entry.escalated = true;
    if (isNew) replaceReferenced(a);
    noteSeq(a);
    persist();
    if (frame.replay) {
      // Missed while offline: announced together at resume_done.
      if (isNew) replayed.push(entry);
      renderBanner();
      if (!resuming) raise(a, `Missed alert: ${alertText(a)}`);
      return;
    }
    if (isNew && entry.status === 'cancelled') {
      // Sent, then cancelled before it reached this desk: history only.
      updateHistoryItem(entry);
    } else if (isNew) {
      raise(a, `New ${alertText(a)}`);
    } else if (frame.escalated && entry.status === 'new') {
      updateHistoryItem(entry);
      raise(a, `Reminder, not yet acknowledged: ${alertText(a)}`);
    }
  });

  // An update or a cancel takes the place of the alert it references: that
  // one no longer waits for acknowledgement.
  function replaceReferenced(a) {
    if (a.msg_type !== 'update' && a.msg_type !== 'cancel') return;
    const old = entries.get(Number(a.references));
    if (!old) return;
    old.replaced = a.msg_type;
    old.replaced_by = { id: a.id, kind: a.msg_type, at: a.sent_at, headline: a.headline };
    if (old.status === 'new' || old.status === 'seen') {
      old.status = a.msg_type === 'cancel' ? 'cancelled' : 'superseded';
      ackQueue.delete(old.alert.id);
    }
    updateHistoryItem(old);
    persist();
  }

  // An alert that expires while waiting leaves the banner.
  setInterval(() => {
    if (!banner.hidden && isExpired(entries.get(Number(banner.dataset.alertId))?.alert || {})) {
      renderBanner();
      for (const e of entries.values()) updateHistoryItem(e);
    }
  }, 15000);

  // To company operators: a recipient site they guard has not acknowledged
  // a severe or extreme alert in time. The alert comes back to the banner.
  session.on('escalation', (frame) => {
    const a = frame.alert || entries.get(frame.alert_id)?.alert;
    if (!a || !Number.isFinite(a.id)) return;
    const [entry] = addAlert(a);
    entry.escalations = entry.escalations || [];
    if (!entry.escalations.some((x) => x.site_id === frame.site_id)) {
      entry.escalations.push({
        site_id: frame.site_id, site_name: frame.site_name, escalated_at: frame.escalated_at,
      });
    }
    if (entry.status === 'seen') entry.status = 'new';
    updateHistoryItem(entry);
    persist();
    const where = frame.site_name || siteName(frame.site_id);
    raise(a, `Escalation: ${where} has not acknowledged the ${alertText(a)}`);
  });

  session.on('directory', (frame) => {
    directory = {
      orgs: Array.isArray(frame.orgs) ? frame.orgs : [],
      sites: Array.isArray(frame.sites) ? frame.sites : [],
    };
    renderPlace();
    renderBanner();
    if (board) board.rerender();
  });

  /* ---- Read receipts (site consoles) ---------------------------------- */

  // The alert in the banner, on a visible page, has been put before a
  // person: say so once.
  function maybeSendRead() {
    if (!canAck || readUnsupported || !session.connected || document.visibilityState !== 'visible') return;
    const id = Number(banner.dataset.alertId);
    const entry = entries.get(id);
    if (!entry || banner.hidden || entry.read_at || readInFlight.has(id)) return;
    if (session.request('read', { alert_id: id })) readInFlight.add(id);
  }
  document.addEventListener('visibilitychange', maybeSendRead);

  session.on('read_ok', (frame) => {
    readInFlight.delete(frame.alert_id);
    const entry = entries.get(frame.alert_id);
    if (entry) {
      entry.read_at = frame.read_at || new Date().toISOString();
      persist();
    }
  });

  /* ---- Acknowledge / dismiss ------------------------------------------ */

  function sendAck(id) {
    if (ackInFlight.has(id)) return;
    const ref = session.request('ack', { alert_id: id });
    if (ref) ackInFlight.set(id, ref);
  }

  actionBtn.addEventListener('click', () => {
    const id = Number(banner.dataset.alertId);
    const entry = entries.get(id);
    if (!entry || entry.status !== 'new') return;
    if (!canAck) {
      entry.status = 'seen';
      updateHistoryItem(entry);
      persist();
      renderBanner();
      if (!banner.hidden) actionBtn.focus();
      return;
    }
    ackQueue.add(id);
    sendAck(id);
    renderBanner();
  });

  session.on('acked', (frame) => {
    const id = frame.alert_id;
    ackQueue.delete(id);
    ackInFlight.delete(id);
    const entry = entries.get(id);
    if (entry) {
      entry.status = 'acked';
      entry.acked_at = frame.acked_at || new Date().toISOString();
      updateHistoryItem(entry);
      persist();
    }
    if (consoleError.dataset.kind === 'ack') showError(consoleError, '');
    const wasShowing = banner.dataset.alertId === String(id);
    if (wasShowing) sound.stop();
    renderBanner();
    if (wasShowing && !banner.hidden) actionBtn.focus();
  });

  // Another console of this site acknowledged first: stop ringing here,
  // and say who did.
  session.on('site_acked', (frame) => {
    const id = frame.alert_id;
    const entry = entries.get(id);
    if (!entry || (user.site_id && frame.site_id && frame.site_id !== user.site_id)) return;
    const wasShowing = banner.dataset.alertId === String(id);
    ackQueue.delete(id);
    if (entry.status !== 'acked') {
      entry.status = 'acked';
      entry.acked_at = frame.acked_at || new Date().toISOString();
      entry.acked_by = frame.by || 'another console';
    }
    updateHistoryItem(entry);
    persist();
    if (wasShowing) sound.stop();
    renderBanner();
    announce(`“${entry.alert.headline || 'Alert'}” was acknowledged by ${frame.by || 'another console'} at this site.`);
    if (wasShowing && !banner.hidden) actionBtn.focus();
  });

  /* ---- Relay (company operators) --------------------------------------- */

  const relayDialog = $('relay-dialog');
  const relayForm = $('relay-form');
  const relaySites = $('relay-sites');
  const relayAll = $('relay-all');
  const relayNote = $('relay-note');
  const relayError = $('relay-error');
  const relaySend = $('relay-send');
  const relayOf = new Map();       // relay alert id -> original alert id
  let relayRef = null;
  let relayReturnFocus = null;

  for (const e of entries.values()) for (const r of e.relays || []) relayOf.set(r.relay_id, e.alert.id);

  function ownSites() {
    return directory.sites.filter((s) => s.guard_org_id === user.org_id)
      .sort((x, y) => String(x.name).localeCompare(String(y.name)));
  }

  function syncRelayAll() {
    const boxes = [...relaySites.querySelectorAll('input[name="relay-site"]')];
    const on = boxes.filter((b) => b.checked).length;
    relayAll.checked = boxes.length > 0 && on === boxes.length;
    relayAll.indeterminate = on > 0 && on < boxes.length;
  }

  function openRelay(id, from) {
    const entry = entries.get(id);
    if (!entry || canAck || !relayDialog) return;
    const a = entry.alert;
    relayDialog.dataset.alertId = String(id);
    relayReturnFocus = from || null;
    const ex = exerciseWord(a.status);
    $('relay-alert').replaceChildren(
      el('span', { class: `severity badge sev-${sevOf(a)}` }, a.severity || ''),
      ex ? el('span', { class: 'badge exercise-badge exercise-mark' }, ex) : '',
      ' ', el('strong', {}, a.headline || ''),
      el('span', { class: 'muted' }, ` — from ${senderText(a)}, sent ${formatTime(a.sent_at)}`));
    relayDialog.classList.toggle('is-exercise', Boolean(ex));
    const sites = ownSites();
    relaySites.replaceChildren(...sites.map((s) => el('label', { class: 'target' },
      el('input', { type: 'checkbox', name: 'relay-site', value: String(s.id), checked: true }),
      el('span', { class: 'target-name' }, s.name),
      el('span', { class: 'target-meta' }, s.sector || ''))));
    if (!sites.length) relaySites.append(el('p', { class: 'muted' }, 'The directory has not listed your sites yet: the relay goes to all of them.'));
    $('relay-all-count').textContent = `(${sites.length})`;
    relayAll.checked = true;
    relayAll.indeterminate = false;
    relayNote.value = '';
    showError(relayError, '');
    relaySend.disabled = false;
    relaySend.textContent = ex ? `Relay ${ex} alert` : 'Relay alert';
    if (typeof relayDialog.showModal === 'function') relayDialog.showModal();
    else relayDialog.setAttribute('open', '');
    relayAll.focus();
  }

  function closeRelay() {
    if (relayDialog.open) relayDialog.close();
    if (relayReturnFocus && relayReturnFocus.isConnected && !relayReturnFocus.hidden) relayReturnFocus.focus();
  }

  if (relayDialog) {
    relayAll.addEventListener('change', () => {
      for (const b of relaySites.querySelectorAll('input[name="relay-site"]')) b.checked = relayAll.checked;
      relayAll.indeterminate = false;
    });
    relaySites.addEventListener('change', (ev) => {
      ev.target.removeAttribute('aria-invalid');
      syncRelayAll();
    });
    $('relay-close').addEventListener('click', closeRelay);
    relayForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (relayRef) return;
      showError(relayError, '');
      const id = Number(relayDialog.dataset.alertId);
      const boxes = [...relaySites.querySelectorAll('input[name="relay-site"]')];
      const chosen = boxes.filter((b) => b.checked).map((b) => Number(b.value));
      if (boxes.length && !chosen.length) {
        showError(relayError, 'Choose at least one site.');
        relayAll.focus();
        return;
      }
      const note = relayNote.value.trim();
      if (note.length > 1000) {
        showError(relayError, 'The note is longer than 1000 characters.');
        relayNote.setAttribute('aria-invalid', 'true');
        relayNote.focus();
        return;
      }
      const frame = { alert_id: id };
      if (boxes.length && chosen.length < boxes.length) frame.sites = chosen;
      if (note) frame.note = note;
      const ref = session.request('relay', frame);
      if (!ref) {
        showError(relayError, 'Not connected to the broker: nothing was relayed. Try again when the connection is back.');
        return;
      }
      relayRef = ref;
      relaySend.disabled = true;
      relaySend.textContent = 'Relaying…';
    });
    relayNote.addEventListener('input', () => relayNote.removeAttribute('aria-invalid'));
  }

  session.on('relayed', (frame, req) => {
    if (frame.ref === relayRef) relayRef = null;
    const orig = Number(frame.of ?? req?.alert_id);
    const entry = entries.get(orig);
    if (entry) {
      entry.relays = entry.relays || [];
      entry.relays.push({
        relay_id: frame.alert_id,
        recipients: Number.isInteger(frame.recipients) ? frame.recipients : (req?.sites?.length ?? 0),
        note: req?.note || '',
        at: new Date().toISOString(),
      });
      relayOf.set(frame.alert_id, orig);
      updateHistoryItem(entry);
      persist();
      renderBanner();
    }
    if (relayDialog?.open && Number(relayDialog.dataset.alertId) === orig) closeRelay();
    announce(`Relayed to ${frame.recipients ?? ''} site${frame.recipients === 1 ? '' : 's'}.`);
  });

  function onRelayError(frame, req) {
    relayRef = null;
    relaySend.disabled = false;
    relaySend.textContent = 'Relay alert';
    const msg = isUnsupported(frame) ? unsupportedText('Relaying') : `Nothing was relayed: ${describeError(frame)}`;
    if (!relayDialog.open) {
      showError(consoleError, msg);
      consoleError.dataset.kind = 'relay';
      return;
    }
    showError(relayError, msg);
    const m = /^sites\[(\d+)\]/.exec(String(frame.field || ''));
    if (m && req?.sites) {
      const box = relaySites.querySelector(`input[value="${req.sites[Number(m[1])]}"]`);
      if (box) {
        box.setAttribute('aria-invalid', 'true');
        box.focus();
      }
    } else if (String(frame.field || '').startsWith('note')) {
      relayNote.setAttribute('aria-invalid', 'true');
      relayNote.focus();
    }
  }

  // Company operators get the counts of their relays.
  session.on('tally', (t) => {
    const entry = entries.get(relayOf.get(t.alert_id));
    const r = entry?.relays?.find((x) => x.relay_id === t.alert_id);
    if (!r) return;
    r.tally = mergeTally(r.tally, t);
    updateHistoryItem(entry);
    persist();
    if (banner.dataset.alertId === String(entry.alert.id)) renderBanner();
    relayReceiptsSoon(t.alert_id);
  });

  /* A company desk's relays, site by site: who received, read, acknowledged
   * and answered (`receipts` of the relay, asked shortly after each tally
   * and on every welcome; `answers` live). */
  const relayReceiptTimers = new Map();   // relay id -> timer
  let receiptsUnsupported = false;

  function relayOfEntry(relayId) {
    const entry = entries.get(relayOf.get(relayId));
    return [entry, entry?.relays?.find((x) => x.relay_id === relayId)];
  }

  function relayReceiptsSoon(relayId) {
    if (canAck || receiptsUnsupported || relayReceiptTimers.has(relayId)) return;
    relayReceiptTimers.set(relayId, setTimeout(() => {
      relayReceiptTimers.delete(relayId);
      session.request('receipts', { alert_id: relayId });
    }, RELAY_RECEIPTS_MS));
  }

  session.on('receipts', (frame) => {
    const [entry, r] = relayOfEntry(frame.alert_id);
    if (!r || !Array.isArray(frame.sites)) return;
    r.sites = frame.sites.map((x) => ({
      site_id: x.site_id, site_name: x.site_name, delivered_at: x.delivered_at, read_at: x.read_at, acked_at: x.acked_at,
    }));
    updateHistoryItem(entry);
    persist();
  });

  session.on('answers', (frame) => {
    const [entry, r] = relayOfEntry(frame.alert_id);
    if (!r) return;
    r.answers = Array.isArray(frame.by_site) ? frame.by_site : [];
    updateHistoryItem(entry);
    persist();
  });

  if (!canAck) {
    session.on('welcome', () => {
      const recent = [...entries.values()].sort(byAge).slice(-20);
      for (const e of recent) for (const r of e.relays || []) relayReceiptsSoon(r.relay_id);
    });
  }

  /* A company desk's own sites, alert by alert: `receipts` (scope
   * own_sites: only its sites, docs/protocol.md) when an alert comes and on
   * every welcome, then `site_receipt` frames as its sites read,
   * acknowledge and answer. */
  const ownReceiptTimers = new Map();   // alert id -> timer

  function ownReceiptsSoon(id) {
    const entry = entries.get(id);
    if (canAck || receiptsUnsupported || ownReceiptTimers.has(id) || !entry ||
        entry.alert.msg_type === 'cancel' || entry.alert.sender?.org_id === user.org_id) return;
    ownReceiptTimers.set(id, setTimeout(() => {
      ownReceiptTimers.delete(id);
      session.request('receipts', { alert_id: id });
    }, OWN_RECEIPTS_MS));
  }

  /* Merges one site's receipt into a list of site rows. */
  function mergeSite(list, frame) {
    let x = list.find((y) => y.site_id === frame.site_id);
    if (!x) {
      x = { site_id: frame.site_id, site_name: frame.site_name, delivered_at: null, read_at: null, acked_at: null, answer: null };
      list.push(x);
      list.sort((p, q) => String(p.site_name).localeCompare(String(q.site_name)));
    }
    // reading or acknowledging means it was received
    if (!x.delivered_at) x.delivered_at = frame.at;
    if (frame.kind === 'read' && !x.read_at) x.read_at = frame.at;
    if (frame.kind === 'acked' && !x.acked_at) x.acked_at = frame.at;
    if (frame.kind === 'answered') { x.answer = frame.answer; x.answered_at = frame.at; }
  }

  if (!canAck) {
    session.on('alert', (frame) => { if (Number.isFinite(frame.alert?.id)) ownReceiptsSoon(frame.alert.id); });
    session.on('welcome', () => {
      for (const e of [...entries.values()].sort(byAge).slice(-20)) ownReceiptsSoon(e.alert.id);
    });
    session.on('receipts', (frame) => {
      const entry = entries.get(frame.alert_id);
      if (!entry || !Array.isArray(frame.sites)) return;
      entry.own_sites = frame.sites.map((x) => ({
        site_id: x.site_id, site_name: x.site_name, delivered_at: x.delivered_at, read_at: x.read_at,
        acked_at: x.acked_at, answer: x.answer ?? null, answered_at: x.answered_at ?? null,
      }));
      updateHistoryItem(entry);
      persist();
      if (banner.dataset.alertId === String(entry.alert.id)) renderBanner();
    });
    session.on('site_receipt', (frame) => {
      if (!Number.isFinite(frame.site_id)) return;
      const entry = entries.get(frame.alert_id);
      const [relayEntry, r] = entry ? [null, null] : relayOfEntry(frame.alert_id);
      if (entry) {
        entry.own_sites = entry.own_sites || [];
        mergeSite(entry.own_sites, frame);
        updateHistoryItem(entry);
        if (banner.dataset.alertId === String(entry.alert.id)) renderBanner();
      } else if (r) {
        if (frame.kind === 'answered') {
          r.answers = (r.answers || []).filter((x) => x.site_id !== frame.site_id);
          r.answers.push({ site_id: frame.site_id, site_name: frame.site_name, answer: frame.answer, at: frame.at });
        } else {
          r.sites = r.sites || [];
          mergeSite(r.sites, frame);
        }
        updateHistoryItem(relayEntry);
      } else {
        return;
      }
      persist();
    });
  }

  /* ---- Status board (company operators) ----------------------------- */

  let board = null;
  let boardUnsupported = false;
  const siteHistory = setupHistory(session);
  if (canAck) {
    // The building console's "Our history": its own site only.
    const ours = $('our-history');
    ours.hidden = false;
    ours.addEventListener('click', () => siteHistory.open(user.site_id,
      directory.sites.find((s) => s.id === user.site_id)?.name || user.site_name, ours));
  }
  if (!canAck) {
    $('board-panel').hidden = false;
    board = createBoard($('board'), $('board-summary'), {
      onHistory: (id, name, btn) => siteHistory.open(id, name, btn),
      orgName: (id) => directory.orgs.find((o) => o.id === id)?.name || '',
      // consoles_online (docs/protocol.md `directory`), asked again every
      // PRESENCE_POLL_MS while connected.
      presence: (id) => {
        const n = directory.sites.find((x) => x.id === id)?.consoles_online;
        return Number.isFinite(n) ? n : null;
      },
    });
    setInterval(() => {
      if (session.connected && document.visibilityState !== 'hidden') session.request('directory');
    }, PRESENCE_POLL_MS);
    session.on('board', (frame) => {
      showError($('board-error'), '');
      board.setSites(frame.sites);
      deskSites.clear();
      for (const x of Array.isArray(frame.sites) ? frame.sites : []) if (x && Number.isFinite(x.site_id)) deskSites.set(x.site_id, x);
      renderDeskMap();
    });
    session.on('status_update', (frame) => {
      if (frame.site) board.update(frame.site);
      const x = frame.site;
      if (x && Number.isFinite(x.site_id)) deskSites.set(x.site_id, { ...deskSites.get(x.site_id), ...x });
      renderDeskMap();
    });
    session.on('directory', () => renderDeskMap());
    session.on('alert', () => renderDeskMap());
    session.on('welcome', () => {
      if (!boardUnsupported && !session.request('board')) board.message('Not connected.');
    });
  }

  /* The company desk's map: its sites by latest state and console
   * presence, and the areas of the alerts in its history that are still
   * in force (not cancelled, replaced or expired). */
  const deskSites = new Map();   // site id -> latest board row
  const deskMap = canAck ? null : createCityMap($('desk-map'), { label: 'Map of our sites and the alert areas' });
  let deskFitted = false;        // zoomed to our sites once

  function renderDeskMap() {
    if (!deskMap) return;
    const online = (id) => directory.sites.find((x) => x.id === id)?.consoles_online;
    if (!deskFitted && deskSites.size) {
      deskFitted = true;
      deskMap.fitTo([...deskSites.values()]);
    }
    deskMap.setSites([...deskSites.values()].map((x) => ({
      id: x.site_id, name: x.site_name, lat: x.lat, lon: x.lon, state: x.state, reported_at: x.reported_at,
    })), (x) => [x.reported_at ? `state-${x.state}` : 'never', online(x.id) === 0 ? 'console-offline' : ''].join(' '));
    const live = [...entries.values()]
      .filter((e) => e.alert.area && e.alert.msg_type !== 'cancel' && !e.replaced && e.status !== 'cancelled' && !isExpired(e.alert))
      .sort(byAge).slice(-20);
    deskMap.setAreas(live.map((e) => ({
      area: e.alert.area, id: e.alert.id, className: `area-shape${e.alert.status && e.alert.status !== 'actual' ? ' is-exercise' : ''}`,
    })));
  }

  function onBoardError(frame) {
    if (!board) return;
    if (isUnsupported(frame)) {
      boardUnsupported = true;
      board.message(unsupportedText('The status board'));
      return;
    }
    board.message('');
    showError($('board-error'), `The board could not be loaded: ${describeError(frame)}`);
  }

  /* ---- Building status and reports to police ------------------------ */

  const statusForm = canAck ? setupStatusForm(session, { announce }) : null;
  const reportForm = setupReportForm(session, token);

  /* ---- Connection ----------------------------------------------------- */

  session.on('lost', (requests) => {
    for (const r of requests) {
      if (r.type === 'ack') ackInFlight.delete(r.alert_id);
      if (r.type === 'read') readInFlight.delete(r.alert_id);
      if (r.type === 'answer') {
        answerInFlight.delete(r.ref);
        const entry = entries.get(r.alert_id);
        if (entry) {
          entry.answerPending = null;
          entry.answerError = 'The connection dropped before the answer was confirmed: answer again when the connection is back.';
          syncAnswers(r.alert_id);
        }
      }
      if (r.type === 'relay' && r.ref === relayRef) {
        relayRef = null;
        relaySend.disabled = false;
        relaySend.textContent = 'Relay alert';
        showError(relayError, 'The connection dropped before the broker confirmed the relay: check with your sites before relaying again.');
      }
    }
    renderBanner();
  });

  // An offline desk must not look calm: say so in large type.
  session.on('state', (state) => {
    $('offline-warning').hidden = state !== 'reconnecting';
    renderBanner();
  });

  session.on('error', (frame, req) => {
    const type = req ? req.type : null;
    if (type === 'ping') return;
    if (type === 'read') {
      // Read receipts are best effort and never bother the desk.
      readInFlight.delete(req.alert_id);
      if (frame.code === 'unknown_type') readUnsupported = true;
      else if (ACK_FINAL_ERRORS.has(frame.code)) {
        const entry = entries.get(req.alert_id);
        if (entry) entry.read_at = 'refused';
      }
      return;
    }
    switch (type) {
      case 'answer': onAnswerError(frame, req); return;
      case 'status': statusForm?.onError(frame); return;
      case 'report': reportForm?.onError(frame); return;
      case 'relay': onRelayError(frame, req); return;
      case 'board': onBoardError(frame); return;
      case 'site_history': return; // shown in the history dialog (history.js)
      case 'receipts':
        // The per-site view of a relay is extra: never bother the desk.
        if (frame.code === 'unknown_type') receiptsUnsupported = true;
        return;
      default: break;
    }
    let kind = 'server';
    if (type === 'ack') {
      kind = 'ack';
      const id = req.alert_id;
      ackInFlight.delete(id);
      ackQueue.delete(id);
      const entry = entries.get(id);
      if (entry && ACK_FINAL_ERRORS.has(frame.code)) {
        entry.status = 'failed';
        updateHistoryItem(entry);
        persist();
      }
      renderBanner();
    }
    if (type === 'directory') {
      kind = 'directory';
      setTimeout(() => session.request('directory'), 5000);
    }
    showError(consoleError, `${formatTime(new Date().toISOString())} — ${describeError(frame)}`);
    consoleError.dataset.kind = kind;
  });

  session.start();
}

const signedIn = requireSession(['site_console', 'company_operator']);
if (signedIn) main(signedIn);
