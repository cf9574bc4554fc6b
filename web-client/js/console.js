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

import {
  requireSession, Session, loadCache, saveCache, loadCursor, saveCursor,
} from './session.js';
import {
  el, formatTime, timeElement, setupHeader, bindConnIndicator, showError, describeError,
} from './ui.js';
import { createSound } from './sound.js';

const SEVERITIES = ['minor', 'moderate', 'severe', 'extreme'];
const MAX_HISTORY = 200;
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
  if (a.status === 'exercise') return 'Exercise — not a real incident';
  if (a.status === 'test') return 'Test — not a real incident';
  return '';
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
  if (!canAck) {
    const dismiss = el('button', { id: 'dismiss', type: 'button', class: 'btn btn-ack' }, 'Dismiss');
    actionBtn.replaceWith(dismiss);
    actionBtn = dismiss;
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

  // alert id -> { alert, status: new|acked|seen|failed, received_at,
  //               acked_at, read_at, escalated, escalations: [{site_id,
  //               site_name, escalated_at}] }
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

  function renderHistoryItem(entry) {
    const a = entry.alert;
    const sev = sevOf(a);
    const sites = siteNames(a);
    const exercise = exerciseText(a);
    const kind = kindText(a, referenced(a));
    const item = el('li', {
      class: `history-item sev-${sev}${exercise ? ' is-exercise' : ''}`,
      dataset: { alertId: String(a.id), severity: sev, status: entry.status },
    },
    el('div', { class: 'history-head' },
      el('span', { class: `severity badge sev-${sev}` }, a.severity || ''),
      exercise ? el('span', { class: 'badge exercise-badge' }, a.status) : null,
      el('h3', { class: 'headline' }, a.headline || ''),
      el('span', { class: 'status' }, statusText(entry))),
    kind ? el('p', { class: 'history-kind' }, kind) : null,
    a.body ? el('p', { class: 'history-body' }, a.body) : null,
    a.instruction ? el('p', { class: 'history-instruction' }, `What to do: ${a.instruction}`) : null,
    sites ? el('p', { class: 'history-sites' }, `Sites: ${sites}`) : null,
    el('p', { class: 'history-escalation' }),
    el('p', { class: 'history-meta' },
      `From ${senderText(a)} · sent `, timeElement(a.sent_at, 'history-sent-at'),
      el('span', { class: 'acked-at' })));
    fillHistoryItem(item, entry);
    return item;
  }

  function fillHistoryItem(item, entry) {
    item.dataset.status = entry.status;
    item.classList.toggle('escalated', isEscalated(entry));
    item.querySelector('.status').textContent = statusText(entry);
    item.querySelector('.acked-at').textContent =
      entry.acked_at ? ` · acknowledged ${formatTime(entry.acked_at)}` : '';
    const esc = item.querySelector('.history-escalation');
    esc.textContent = escalationText(entry);
    esc.hidden = !esc.textContent;
  }

  function updateHistoryItem(entry) {
    const item = historyItem(entry.alert.id);
    if (item) fillHistoryItem(item, entry);
  }

  // Newest first: before the first item of an older alert.
  function insertHistoryItem(entry) {
    const item = renderHistoryItem(entry);
    const older = [...history.children].find((li) => Number(li.dataset.alertId) < entry.alert.id);
    history.insertBefore(item, older || null);
    historyEmpty.hidden = true;
  }

  function renderBanner() {
    const queue = waiting();
    updateTitle();
    if (!queue.length) {
      banner.hidden = true;
      delete banner.dataset.alertId;
      allClear.hidden = session.state === 'reconnecting';
      document.body.classList.remove('alerting');
      return;
    }
    const entry = queue[0];
    const a = entry.alert;
    const sev = sevOf(a);
    banner.hidden = false;
    allClear.hidden = true;
    banner.dataset.alertId = String(a.id);
    banner.dataset.severity = sev;
    for (const s of SEVERITIES) banner.classList.toggle(`sev-${s}`, s === sev);
    document.body.classList.add('alerting');

    banner.querySelector('.severity').textContent = a.severity || '';
    banner.querySelector('.headline').textContent = a.headline || '';
    const bodyEl = banner.querySelector('.body');
    bodyEl.textContent = a.body || '';
    bodyEl.hidden = !a.body;
    const instrEl = banner.querySelector('.instruction');
    instrEl.textContent = a.instruction ? `What to do: ${a.instruction}` : '';
    instrEl.hidden = !a.instruction;
    const exEl = banner.querySelector('.exercise-mark');
    exEl.textContent = exerciseText(a);
    exEl.hidden = !exEl.textContent;
    banner.classList.toggle('is-exercise', !exEl.hidden);
    const kindEl = banner.querySelector('.kind-mark');
    kindEl.textContent = kindText(a, referenced(a));
    kindEl.hidden = !kindEl.textContent;
    const sitesEl = banner.querySelector('.sites');
    const sites = siteNames(a);
    sitesEl.textContent = sites ? `Sites: ${sites}` : '';
    sitesEl.hidden = !sites;
    const escEl = banner.querySelector('.escalation');
    let esc = escalationText(entry);
    if (!esc && entry.escalated) esc = 'Reminder: the control room is waiting for this desk to acknowledge.';
    escEl.textContent = esc;
    escEl.hidden = !esc;
    banner.classList.toggle('escalated', Boolean(esc));
    banner.querySelector('.sender').textContent = senderText(a);
    const sentAt = banner.querySelector('.sent-at');
    sentAt.dateTime = a.sent_at || '';
    sentAt.textContent = formatTime(a.sent_at);

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
    }
    maybeSendRead();
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
      alert: a, status: 'new', received_at: new Date().toISOString(),
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
    if (isNew) {
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
    renderBanner();
    if (wasShowing && !banner.hidden) actionBtn.focus();
  });

  /* ---- Connection ----------------------------------------------------- */

  session.on('lost', (requests) => {
    for (const r of requests) {
      if (r.type === 'ack') ackInFlight.delete(r.alert_id);
      if (r.type === 'read') readInFlight.delete(r.alert_id);
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
