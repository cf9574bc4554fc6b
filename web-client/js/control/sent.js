// control/sent.js: the alerts sent from this page (and colleagues' alerts
// that escalate), as records in room.sent: built on `published`, kept
// current by `tally`, `answers`, `relay_notice`, `escalation` and
// `receipts`. Tallies, answers and relays that arrive before `published`
// (or for an alert not in the list yet) are buffered; `read` and
// `escalated` counts appear once a tally carries them. The list survives
// a reload (sessionStorage, encrypted: js/session.js).

import { loadCache, mergeTally, TALLY_COUNTS } from '../session.js';
import { room, MAX_SENT, MODEL, announce, bufferPut, itemFor } from './room.js';
import { renderSent, refreshSent, persistSent } from './sent-item.js';
import { receiptsAfterTally, fillReceipts } from './receipts.js';
import { checkSent, checkRelay } from './verify.js';

function applyTallyToRecord(rec, t) {
  const merged = mergeTally(rec, t);
  for (const k of TALLY_COUNTS) {
    if (Number.isInteger(t[k])) rec[k] = merged[k];
  }
}

// Newest first; alert ids increase with time.
export function addSent(rec) {
  const { sent, tallyBuffer, answersBuffer, relayBuffer } = room;
  const { sentList, sentEmpty } = room.dom;
  const buffered = tallyBuffer.get(rec.alert_id);
  if (buffered) {
    tallyBuffer.delete(rec.alert_id);
    applyTallyToRecord(rec, buffered);
  }
  if (answersBuffer.has(rec.alert_id)) {
    rec.answers = answersBuffer.get(rec.alert_id);
    answersBuffer.delete(rec.alert_id);
  }
  for (const n of relayBuffer.get(rec.alert_id) || []) addRelay(rec, n);
  relayBuffer.delete(rec.alert_id);
  for (const r of rec.relays || []) room.relayOf.set(r.relay_id, rec.alert_id);
  sent.set(rec.alert_id, rec);
  const old = itemFor(rec.alert_id);
  const item = renderSent(rec);
  if (old) {
    old.replaceWith(item);
  } else {
    const older = [...sentList.children].find((li) => Number(li.dataset.alertId) < rec.alert_id);
    sentList.insertBefore(item, older || null);
  }
  while (sent.size > MAX_SENT) {
    const oldest = [...sent.keys()].sort((a, b) => a - b)[0];
    sent.delete(oldest);
    itemFor(oldest)?.remove();
  }
  sentEmpty.hidden = sent.size > 0;
  persistSent();
}

function onTally(t) {
  const id = t.alert_id;
  const rec = room.sent.get(id);
  if (rec) receiptsAfterTally(id);
  if (rec) {
    applyTallyToRecord(rec, t);
    refreshSent(rec);
    return;
  }
  // A relay of one of our alerts: its counts show under the original.
  const orig = room.sent.get(room.relayOf.get(id));
  const relay = orig?.relays?.find((r) => r.relay_id === id);
  if (relay) {
    relay.tally = mergeTally(relay.tally, t);
    refreshSent(orig);
    return;
  }
  // published not seen yet (or an alert sent by a colleague of the
  // same organisation): keep the latest counts for a while.
  bufferPut(room.tallyBuffer, id, t);
}

/* ---- Answers and relays -------------------------------------------------- */

function onAnswers(frame) {
  const rec = room.sent.get(frame.alert_id);
  if (!rec) {
    bufferPut(room.answersBuffer, frame.alert_id, frame);
    return;
  }
  rec.answers = frame;
  refreshSent(rec);
}

export function addRelay(rec, n) {
  rec.relays = rec.relays || [];
  let r = rec.relays.find((x) => x.relay_id === n.relay_id);
  if (!r) {
    r = { relay_id: n.relay_id, at: n.at === undefined ? new Date().toISOString() : n.at };
    rec.relays.push(r);
  }
  for (const k of ['by_org_id', 'by_org_name', 'sites', 'note']) {
    if (n[k] !== undefined && n[k] !== null) r[k] = n[k];
  }
  checkRelay(rec, r, n); // a notice or an in_force carries the relay signed
  room.relayOf.set(n.relay_id, rec.alert_id);
  const t = room.tallyBuffer.get(n.relay_id);
  if (t) {
    r.tally = t;
    room.tallyBuffer.delete(n.relay_id);
  }
}

function onRelayNotice(frame) {
  const rec = room.sent.get(frame.alert_id);
  if (!rec) {
    const list = room.relayBuffer.get(frame.alert_id) || [];
    list.push(frame);
    bufferPut(room.relayBuffer, frame.alert_id, list);
    return;
  }
  addRelay(rec, frame);
  refreshSent(rec);
  const n = Array.isArray(frame.sites) ? frame.sites.length : 0;
  announce(`${frame.by_org_name || 'A security company'} relayed “${rec.headline}” to ${n} site${n === 1 ? '' : 's'}.`);
}

/* ---- Publishing results ----------------------------------------------- */

/* What this page asked for: an update inherits what it does not change; a
 * cancellation only the marks (its details are the stand-down). */
function fillFromRequest(rec, req, orig) {
  const msgType = rec.msg_type;
  const inherit = msgType === 'cancel' ? ['severity', 'status', 'classification', 'category'] : MODEL;
  if (orig) for (const k of inherit) if (orig[k] !== undefined) rec[k] = orig[k];
  if (orig && !req.images && msgType !== 'cancel') rec.images = orig.images;
  for (const k of MODEL) if (req[k] !== undefined) rec[k] = req[k];
  if (msgType === 'cancel') {
    delete rec.request;
    rec.headline = req.headline || `Cancelled: ${orig ? orig.headline : `alert ${req.references}`}`;
  }
  if (req.images) {
    rec.images = req.images.map((id) => ({ id }));
    rec.image_days = req.image_days;
  }
  rec.references = req.references;
  rec.to = msgType === 'alert' ? room.compose.describeTargets(req.targets)
    : 'the recipients of the alert it replaces';
}

function onPublished(frame, req) {
  const mine = req && req.type === 'publish';
  const msgType = mine ? req.msg_type || 'alert' : 'alert';
  const orig = mine && req.references ? room.sent.get(req.references) : null;
  const rec = {
    alert_id: frame.alert_id,
    seq: frame.seq,
    headline: `Alert ${frame.alert_id}`,
    body: '',
    severity: 'minor',
    msg_type: msgType,
    to: '',
    sent_at: frame.sent_at,
    durable: frame.durable || '',
    recipients: Number.isInteger(frame.recipients) ? frame.recipients : 0,
    delivered: 0,
    acknowledged: 0,
    escalations: [],
    // the broker sends its own in_force to every desk but this one
    in_force: msgType !== 'cancel',
  };
  if (mine) fillFromRequest(rec, req, orig);
  if (mine && req.release_alone) rec.released_alone = true; // break glass: said on the entry
  if (orig) {
    if (msgType === 'cancel') {
      orig.cancelled = true;
      orig.cancelled_at = frame.sent_at;
    } else {
      orig.superseded_by = frame.alert_id;
      orig.superseded_at = frame.sent_at;
    }
    refreshSent(orig);
  }
  if (mine && room.cancelling.has(req.ref)) room.cancelling.delete(req.ref);
  addSent(rec);
  room.compose.onPublished(frame);
}

/* A recipient site has not acknowledged a severe or extreme alert in
 * time. The alert may be a colleague's: the frame carries all of it. */
function onEscalation(frame) {
  let rec = room.sent.get(frame.alert_id);
  if (!rec && frame.alert) {
    const a = frame.alert;
    rec = {
      alert_id: a.id, seq: a.seq, sent_at: a.sent_at, sender: a.sender, source: a.source, to: '',
      msg_type: a.msg_type || 'alert', references: a.references,
      images: a.images, recipients: 0, delivered: 0, acknowledged: 0, escalations: [],
    };
    for (const k of MODEL) if (a[k] !== undefined && a[k] !== null) rec[k] = a[k];
    rec.body = rec.body || '';
    addSent(rec);
  }
  if (!rec) return;
  if (frame.alert) checkSent(rec, frame); // the escalation carries the alert signed
  rec.escalations = rec.escalations || [];
  if (!rec.escalations.some((x) => x.site_id === frame.site_id)) {
    rec.escalations.push({ site_id: frame.site_id, site_name: frame.site_name, escalated_at: frame.escalated_at });
  }
  refreshSent(rec);
  announce(`Escalation: ${frame.site_name || `site ${frame.site_id}`} has not acknowledged “${rec.headline}”.`);
}

/* ---- Per-site receipts ------------------------------------------------- */

function onReceipts(frame) {
  const rec = room.sent.get(frame.alert_id);
  const sites = Array.isArray(frame.sites) ? frame.sites : null;
  if (!rec || !sites) return;
  // The receipts are the current truth: they also repair counts that
  // missed tallies while this page was offline.
  rec.recipients = sites.length;
  rec.delivered = sites.filter((x) => x.delivered_at).length;
  rec.acknowledged = sites.filter((x) => x.acked_at).length;
  if (sites.some((x) => 'read_at' in x)) rec.read = sites.filter((x) => x.read_at).length;
  if (sites.some((x) => 'escalated_at' in x)) rec.escalated = sites.filter((x) => x.escalated_at).length;
  // Relays missed while this page was away (relay_notice is live only).
  for (const r of Array.isArray(frame.relays) ? frame.relays : []) {
    if (Number.isFinite(r.alert_id)) {
      addRelay(rec, { relay_id: r.alert_id, by_org_id: r.by_org_id, sites: r.sites, note: r.note, at: null });
    }
  }
  refreshSent(rec);

  rec.not_acked = sites.filter((x) => !x.acked_at).map((x) => x.site_name || `site ${x.site_id}`)
    .sort((x, y) => x.localeCompare(y));
  refreshSent(rec);
  fillReceipts(frame, sites);
}

/* The frames that change the records. Alerts sent earlier in this tab
 * survive a reload. */
export function setupSent() {
  const { session } = room;
  session.on('answers', onAnswers);
  session.on('relay_notice', onRelayNotice);
  session.on('published', onPublished);
  session.on('tally', onTally);
  session.on('escalation', onEscalation);
  session.on('receipts', onReceipts);
  for (const rec of loadCache('sent', [])) {
    if (rec && Number.isFinite(rec.alert_id)) addSent(rec);
  }
}
