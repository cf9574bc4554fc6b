// console/inforce.js: the alerts in force (docs/protocol.md, "Alerts in
// force"; issue 17, item 1). A desk that opens, on a new browser or after
// an incident, gets from the broker what is in force for it, with what its
// site (or its company's sites) did about each: `in_force` frames after
// the welcome (and the backlog of a resume), then `in_force_done`; an
// alert a frame carries is signed and checked like a live one. The
// unacknowledged ones join the queue, and the most urgent takes the
// screen. Whatever the desk held as waiting that the list did not name has
// ended meanwhile. While it is open, `in_force_ended` takes an alert out of
// the queue the moment it is cancelled, updated or expires.

import { desk, persist, siteName } from './desk.js';
import { alertText, isStandDown } from './words.js';
import { addAlert, updateHistoryItem } from './items.js';
import { renderBanner, raise } from './banner.js';
import { attachRelay, isNote } from './family.js';
import { takeReplayed, replaceReferenced, checkAlert } from './stream.js';
import { waiting } from './queue.js';

/* The list being received since the welcome. */
const list = {
  ids: new Set(),     // alert ids the broker named as in force
  fresh: [],          // entries that are new to this desk and wait
};

const ENDED_STATUS = { cancelled: 'cancelled', superseded: 'superseded', expired: 'expired' };

function onWelcome() {
  list.ids.clear();
  list.fresh = [];
}

/* What the broker says the site did (site console), or its company's
 * sites (company desk). The broker is the truth for the acknowledgement:
 * another console of the site may have given it. */
function applyState(entry, frame) {
  const r = frame.receipt;
  if (r) {
    if (r.acked_at && entry.status !== 'acked') {
      entry.status = 'acked';
      entry.acked_at = r.acked_at;
      if (r.acked_by && r.acked_by !== desk.user.username) entry.acked_by = r.acked_by;
      desk.ackQueue.delete(entry.alert.id);
    } else if (!r.acked_at && ENDED_STATUS[entry.status]) {
      entry.status = 'new'; // the broker says it is still in force
    }
    if (r.read_at) entry.read_at = r.read_at;
    if (r.answer != null && !entry.answer) entry.answer = { value: r.answer, at: r.answered_at };
    if (r.escalated_at && !r.acked_at) entry.escalated = true;
  }
  if (Array.isArray(frame.sites)) {
    entry.own_sites = frame.sites.map((x) => ({
      site_id: x.site_id, site_name: x.site_name || siteName(x.site_id), delivered_at: x.delivered_at,
      read_at: x.read_at, acked_at: x.acked_at, answer: x.answer ?? null, answered_at: x.answered_at ?? null,
    }));
  }
}

function onInForce(frame) {
  const a = frame.alert || desk.entries.get(frame.alert_id)?.alert;
  if (!a || !Number.isFinite(a.id)) return;
  list.ids.add(a.id);
  const home = attachRelay(a);
  if (home || isNote(a.id)) {
    if (home) updateHistoryItem(home);
    return;
  }
  const [entry, isNew] = addAlert(a);
  if (isNew) replaceReferenced(a);
  applyState(entry, frame);
  if (isNew && entry.status === 'new') list.fresh.push(entry);
  updateHistoryItem(entry);
}

/* The list is complete: what waited here and is not on it has ended; the
 * most urgent of what waits takes the screen. */
function onDone(frame) {
  if (frame.status === 'ok') {
    for (const e of desk.entries.values()) {
      if ((e.status === 'new' || e.status === 'seen') && !list.ids.has(e.alert.id) && !isStandDown(e.alert)) {
        e.status = 'ended';
        desk.ackQueue.delete(e.alert.id);
        updateHistoryItem(e);
      }
    }
  }
  persist();
  renderBanner();
  const fresh = [...new Set([...takeReplayed(), ...list.fresh])].filter((e) => e.status === 'new');
  list.fresh = [];
  const first = waiting()[0];
  if (fresh.length && first) {
    raise(first.alert, `${fresh.length} alert${fresh.length === 1 ? '' : 's'} in force for this desk. ` +
      `Most urgent: ${alertText(first.alert)}`);
  }
}

/* An alert left force while the desk is open. */
function onEnded(frame) {
  const entry = desk.entries.get(frame.alert_id);
  if (!entry) return;
  entry.ended = { reason: frame.reason, by: frame.by ?? null, at: frame.at };
  const wasWaiting = entry.status === 'new' || entry.status === 'seen';
  if (wasWaiting && ENDED_STATUS[frame.reason]) {
    entry.status = ENDED_STATUS[frame.reason];
    desk.ackQueue.delete(entry.alert.id);
  }
  updateHistoryItem(entry);
  persist();
  renderBanner();
}

export function setupInForce() {
  const { session } = desk;
  session.on('welcome', onWelcome);
  session.on('in_force', (frame) => {
    onInForce(frame);
    if (frame.alert) checkAlert(frame); // signed like a live alert (stream.js)
  });
  session.on('in_force_done', onDone);
  session.on('in_force_ended', onEnded);
}
