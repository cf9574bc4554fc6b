// control/inforce.js: the shared control room (issue 17, item 7): the
// list #sent-alerts holds every alert in force across the force, whoever
// sent it, with its tally, not only what this page sent, so that a shift
// hands over without losing an alert. At every sign-in the broker sends
// the alerts in force (`in_force` frames, then `in_force_done`); while
// the page is open, each new alert, update and relay comes as `in_force`
// too, and `in_force_ended` marks one cancelled, updated or expired, by
// whoever did it. A company's relay shows under the alert it relays.
// Any controller may update or cancel a force alert (cancel.js); an
// analyst its own organisation's.

import { mergeTally, TALLY_COUNTS } from '../session.js';
import { room, MODEL, bufferPut } from './room.js';
import { refreshSent } from './sent-item.js';
import { addSent, addRelay } from './sent.js';
import { checkSent } from './verify.js';

const listed = new Set();   // ids the broker named since the last welcome

/* A record of the sent list for an alert someone else sent. */
function recordOf(a) {
  const rec = {
    alert_id: a.id, seq: a.seq, sent_at: a.sent_at, sender: a.sender, source: a.source, to: '',
    msg_type: a.msg_type || 'alert', references: a.references, images: a.images,
    recipients: 0, delivered: 0, acknowledged: 0, escalations: [],
  };
  for (const k of MODEL) if (a[k] !== undefined && a[k] !== null) rec[k] = a[k];
  rec.body = rec.body || '';
  return rec;
}

function applyTally(rec, t) {
  if (!t) return;
  const merged = mergeTally(rec, t);
  for (const k of TALLY_COUNTS) if (Number.isInteger(t[k])) rec[k] = merged[k];
}

/* A relay in force: a line under the alert it relays. */
function onRelay(a, frame) {
  const n = { relay_id: a.id, by_org_id: a.relay.by_org_id, by_org_name: a.relay.by_org_name,
    note: a.relay.note, at: a.sent_at, sites: undefined, alert: a, signature: frame.signature };
  const orig = room.sent.get(Number(a.relay.of));
  if (!orig) {
    const list = room.relayBuffer.get(a.relay.of) || [];
    list.push(n);
    bufferPut(room.relayBuffer, a.relay.of, list);
    return;
  }
  addRelay(orig, n);
  const r = orig.relays.find((x) => x.relay_id === a.id);
  if (r && frame.tally) r.tally = mergeTally(r.tally, frame.tally);
  refreshSent(orig);
}

function onInForce(frame) {
  const a = frame.alert || null;
  const id = a?.id ?? frame.alert_id;
  if (!Number.isFinite(id)) return;
  listed.add(id);
  if (a?.relay) {
    onRelay(a, frame);
    return;
  }
  let rec = room.sent.get(id);
  if (!rec && a) {
    rec = recordOf(a);
    addSent(rec);
  }
  if (!rec) return;
  rec.in_force = true;
  delete rec.ended;
  if (a) checkSent(rec, frame); // signed like a console's alert
  applyTally(rec, frame.tally);
  if (Number.isInteger(frame.tally?.answered) && !rec.answers && rec.request) {
    rec.answers = { answered: frame.tally.answered, recipients: frame.tally.recipients, by_choice: {}, by_site: [] };
  }
  refreshSent(rec);
}

/* What the list held as in force and the broker no longer names ended
 * while this page was away. */
function onDone(frame) {
  if (frame.status !== 'ok') return;
  for (const rec of room.sent.values()) {
    if (rec.in_force && !listed.has(rec.alert_id)) {
      rec.in_force = false;
      if (!rec.cancelled && !rec.superseded_by) rec.ended = 'ended';
      refreshSent(rec);
    }
  }
}

function onEnded(frame) {
  const rec = room.sent.get(frame.alert_id);
  if (!rec) return;
  rec.in_force = false;
  if (frame.reason === 'cancelled') {
    rec.cancelled = true;
    rec.cancelled_at = rec.cancelled_at || frame.at;
  } else if (frame.reason === 'superseded') {
    rec.superseded_by = rec.superseded_by || frame.by;
    rec.superseded_at = rec.superseded_at || frame.at;
  } else {
    rec.ended = 'expired';
    rec.ended_at = frame.at;
  }
  refreshSent(rec);
}

export function setupInForce() {
  const { session } = room;
  session.on('welcome', () => listed.clear());
  session.on('in_force', onInForce);
  session.on('in_force_done', onDone);
  session.on('in_force_ended', onEnded);
}
