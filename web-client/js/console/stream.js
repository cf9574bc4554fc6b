// console/stream.js: the desk's place in the alert stream and the frames
// that bring alerts: `alert` (new, replayed, escalated), `escalation`
// (company desks), updates and cancels replacing what they reference (a
// cancellation is the stand-down), a company's relay of an alert the desk
// has (its note: family.js), `directory`. The desk keeps its position
// (localStorage, per user) and resumes from it on every connection
// (`hello.resume`), so alerts sent while it was offline arrive as replays,
// announced together with the alerts in force (inforce.js) once the list
// is complete; a `reload` status drops the local history.

import { loadCursor, saveCursor } from '../session.js';
import { SEVERITIES } from '../vocab.js';
import { desk, persist, siteName, announce } from './desk.js';
import { sevOf, alertText, isExpired } from './words.js';
import { addAlert, updateHistoryItem } from './items.js';
import { renderBanner, renderPlace, raise } from './banner.js';
import { sendAck } from './ack.js';
import { attachRelay, isNote, moveNotes } from './family.js';
import { waiting } from './queue.js';
import { brokerKeys } from '../signed.js';

// The broker's public keys, fetched once (and again for a key id not yet
// seen: a rotation). Every alert is checked before it is shown.
const keys = brokerKeys();

/* The stream position: where the desk resumes from. */
const pos = {
  cursor: null,      // {epoch, seq, since} or null
  epoch: null,
  resuming: null,    // null | 'ok' | 'pending' while a backlog is due
  highestSeq: 0,
  replayed: [],      // alerts received as replays in this resume
  inForceDue: false, // the broker sends the alerts in force after the backlog
};

/* The replays of this connection's resume, for inforce.js to announce
 * with the alerts in force. */
export function takeReplayed() {
  const r = pos.replayed;
  pos.replayed = [];
  return r;
}

// since: where the desk's unbroken run of positions began; fresh starts a
// new run at seq (the desk holds nothing before it), otherwise the run
// goes on. The broker records from it the deliveries it lost in a crash
// (docs/protocol.md, hello.resume.since).
function setCursor(seq, fresh = false) {
  if (typeof pos.epoch !== 'string' || !Number.isInteger(seq) || seq < 0) return;
  const c = pos.cursor;
  const since = !fresh && c && c.epoch === pos.epoch && c.since <= seq ? c.since : seq;
  pos.cursor = { epoch: pos.epoch, seq, since };
  saveCursor(desk.user.id, pos.cursor);
}

function noteSeq(a) {
  if (Number.isInteger(a.seq) && a.seq > pos.highestSeq) pos.highestSeq = a.seq;
  // While a backlog is still due the cursor must stay where it is.
  if (!pos.resuming && pos.cursor && pos.highestSeq > pos.cursor.seq) setCursor(pos.highestSeq);
}

function dropHistory() {
  desk.entries.clear();
  desk.ackQueue.clear();
  desk.ackInFlight.clear();
  desk.readInFlight.clear();
  desk.dom.history.replaceChildren();
  desk.dom.historyEmpty.hidden = false;
  persist();
  renderBanner();
}

function onWelcome(frame) {
  const stream = frame.stream;
  const resume = frame.resume || { status: 'none' };
  if (stream && typeof stream.epoch === 'string') {
    if (pos.epoch !== stream.epoch || resume.status === 'reload' || !pos.cursor) {
      if (resume.status === 'reload' || (pos.epoch && pos.epoch !== stream.epoch)) dropHistory();
      pos.epoch = stream.epoch;
      pos.highestSeq = Number.isInteger(stream.head) ? stream.head : 0;
      setCursor(pos.highestSeq, true);
    }
  }
  pos.resuming = resume.status === 'ok' || resume.status === 'pending' ? resume.status : null;
  pos.replayed = [];
  pos.inForceDue = Boolean(frame.in_force);

  // Acknowledgements clicked while offline, or lost with the old
  // connection, go out now (ack is idempotent: `already` says so).
  for (const id of desk.ackQueue) sendAck(id);
  renderBanner();
}

function onResumeDone(frame) {
  const reload = frame.status === 'reload';
  if (reload) {
    dropHistory();
    pos.highestSeq = Number.isInteger(frame.seq) ? frame.seq : pos.highestSeq;
  } else if (Number.isInteger(frame.seq) && frame.seq > pos.highestSeq) {
    pos.highestSeq = frame.seq;
  }
  pos.resuming = null;
  setCursor(pos.highestSeq, reload);
  if (pos.inForceDue) return; // announced with the alerts in force (inforce.js)
  const fresh = takeReplayed().filter((e) => e.status === 'new');
  if (fresh.length) {
    const worst = fresh.map((e) => e.alert)
      .sort((x, y) => SEVERITIES.indexOf(sevOf(y)) - SEVERITIES.indexOf(sevOf(x)))[0];
    raise(worst, `${fresh.length} alert${fresh.length === 1 ? '' : 's'} arrived while this desk was offline. ` +
      `Oldest first: ${alertText(waiting()[0]?.alert || worst)}`);
  }
}

/* Every alert a frame carries has its signature checked, an `alert` or an
 * `in_force` at sign-in (inforce.js); WebCrypto takes a fraction of a
 * millisecond once the keys are fetched. The alert is taken in at once,
 * in stream order, marked "checking"; the mark then says verified, or
 * UNVERIFIED, and a failure is reported to the broker (audited) once. */
export function checkAlert(frame) {
  const a = frame.alert;
  if (!a || !Number.isFinite(a.id)) return;
  const entry = desk.entries.get(a.id);
  if (entry && !entry.signature) entry.signature = 'checking';
  keys.verify(a, frame.signature).catch(() => 'unknown_key').then((result) => {
    const e = desk.entries.get(a.id);
    if (!e || e.signature === 'valid') return;
    e.signature = result;
    persist();
    updateHistoryItem(e);
    renderBanner();
    if (result !== 'valid' && !e.signatureReported) {
      e.signatureReported = true;
      desk.session.request('alert_unverified', { alert_id: a.id, reason: result });
    }
  });
}

function onAlert(frame) {
  const a = frame.alert;
  if (!a || !Number.isFinite(a.id)) return;
  if (onRelayNote(a, frame)) return;
  const [entry, isNew] = addAlert(a);
  if (frame.escalated) entry.escalated = true;
  if (isNew) replaceReferenced(a);
  noteSeq(a);
  persist();
  if (frame.replay) {
    // Missed while offline: announced together at resume_done.
    if (isNew) pos.replayed.push(entry);
    renderBanner();
    if (!pos.resuming) raise(a, `Missed alert: ${alertText(a)}`);
    return;
  }
  if (isNew && entry.status === 'cancelled') {
    // Sent, then cancelled before it reached this desk: history only.
    updateHistoryItem(entry);
  } else if (isNew && a.msg_type === 'cancel') {
    raise(a, `Stand down: ${alertText(a)}`);
  } else if (isNew) {
    raise(a, `New ${alertText(a)}`);
  } else if (frame.escalated && entry.status === 'new') {
    updateHistoryItem(entry);
    raise(a, `Reminder, not yet acknowledged: ${alertText(a)}`);
  }
}

// A company's relay of an alert this desk has: the company's note on it,
// not a second alert to acknowledge (family.js). True when so.
function onRelayNote(a, frame) {
  const home = attachRelay(a);
  if (!home && !isNote(a.id)) return false;
  noteSeq(a);
  if (home) {
    updateHistoryItem(home);
    persist();
    renderBanner();
    if (!frame.replay) announce(`${a.relay.by_org_name || 'Your security company'} added a note: ${a.relay.note || ''}`);
  }
  return true;
}

// An update or a cancel takes the place of the alert it references: that
// one no longer waits for acknowledgement.
export function replaceReferenced(a) {
  if (a.msg_type !== 'update' && a.msg_type !== 'cancel') return;
  const old = desk.entries.get(Number(a.references));
  if (!old) return;
  old.replaced = a.msg_type;
  old.replaced_by = { id: a.id, kind: a.msg_type, at: a.sent_at, headline: a.headline };
  if (old.status === 'new' || old.status === 'seen') {
    old.status = a.msg_type === 'cancel' ? 'cancelled' : 'superseded';
    desk.ackQueue.delete(old.alert.id);
  }
  if (a.msg_type === 'update') moveNotes(old, desk.entries.get(a.id));
  updateHistoryItem(old);
  persist();
}

// To company operators: a recipient site they guard has not acknowledged
// a severe or extreme alert in time. The alert comes back to the banner.
function onEscalation(frame) {
  const a = frame.alert || desk.entries.get(frame.alert_id)?.alert;
  if (!a || !Number.isFinite(a.id)) return;
  const [entry] = addAlert(a);
  entry.escalations = entry.escalations || [];
  if (!entry.escalations.some((x) => x.site_id === frame.site_id)) {
    entry.escalations.push({
      site_id: frame.site_id, site_name: frame.site_name, escalated_at: frame.escalated_at,
    });
  }
  if (entry.status === 'seen') entry.status = 'new';
  if (frame.alert) checkAlert(frame); // the escalation carries the alert signed
  updateHistoryItem(entry);
  persist();
  const where = frame.site_name || siteName(frame.site_id);
  raise(a, `Escalation: ${where} has not acknowledged the ${alertText(a)}`);
}

function onDirectory(frame) {
  desk.directory = {
    orgs: Array.isArray(frame.orgs) ? frame.orgs : [],
    sites: Array.isArray(frame.sites) ? frame.sites : [],
  };
  renderPlace();
  renderBanner();
  if (desk.board) desk.board.rerender();
}

export function setupStream() {
  const { session, user, dom } = desk;
  pos.cursor = loadCursor(user.id);
  pos.epoch = pos.cursor ? pos.cursor.epoch : null;
  pos.highestSeq = pos.cursor ? pos.cursor.seq : 0;
  session.resumeFrom = () => pos.cursor;

  session.on('resume_refused', () => {
    pos.cursor = null;
    saveCursor(user.id, null);
  });
  session.on('welcome', onWelcome);
  session.on('resume_done', onResumeDone);
  session.on('alert', (frame) => {
    onAlert(frame);
    checkAlert(frame);
  });

  // An alert that expires while waiting leaves the banner.
  setInterval(() => {
    if (!dom.banner.hidden && isExpired(desk.entries.get(Number(dom.banner.dataset.alertId))?.alert || {})) {
      renderBanner();
      for (const e of desk.entries.values()) updateHistoryItem(e);
    }
  }, 15000);

  session.on('escalation', onEscalation);
  session.on('directory', onDirectory);
}
