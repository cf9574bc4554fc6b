// console/receipts.js: a company desk's view of who got its alerts, site
// by site. Its relays: who received, read, acknowledged and answered
// (`receipts` of the relay, asked shortly after each tally and on every
// welcome; `answers` live). Its own sites, alert by alert: `receipts`
// (scope own_sites: only its sites, docs/protocol.md) when an alert comes
// and on every welcome, then `site_receipt` frames as its sites read,
// acknowledge and answer. Extra: a refusal never bothers the desk.

import { desk, persist, byAge, bannerShows } from './desk.js';
import { updateHistoryItem } from './items.js';
import { renderBanner } from './banner.js';

// A company desk asks for a relay's per-site receipts this long after a tally.
const RELAY_RECEIPTS_MS = 1500;
// ... and for its own sites' receipts of an alert this long after it came
// (its deliveries are recorded by then); site_receipt frames keep it live.
const OWN_RECEIPTS_MS = 2500;

const relayReceiptTimers = new Map();   // relay id -> timer
const ownReceiptTimers = new Map();     // alert id -> timer
let receiptsUnsupported = false;

function relayOfEntry(relayId) {
  const entry = desk.entries.get(desk.relayOf.get(relayId));
  return [entry, entry?.relays?.find((x) => x.relay_id === relayId)];
}

export function relayReceiptsSoon(relayId) {
  if (desk.canAck || receiptsUnsupported || relayReceiptTimers.has(relayId)) return;
  relayReceiptTimers.set(relayId, setTimeout(() => {
    relayReceiptTimers.delete(relayId);
    desk.session.request('receipts', { alert_id: relayId });
  }, RELAY_RECEIPTS_MS));
}

function ownReceiptsSoon(id) {
  const entry = desk.entries.get(id);
  if (desk.canAck || receiptsUnsupported || ownReceiptTimers.has(id) || !entry ||
      entry.alert.msg_type === 'cancel' || entry.alert.sender?.org_id === desk.user.org_id) return;
  ownReceiptTimers.set(id, setTimeout(() => {
    ownReceiptTimers.delete(id);
    desk.session.request('receipts', { alert_id: id });
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

const recent = () => [...desk.entries.values()].sort(byAge).slice(-20);

/* ---- Relays -------------------------------------------------------------- */

function onRelayReceipts(frame) {
  const [entry, r] = relayOfEntry(frame.alert_id);
  if (!r || !Array.isArray(frame.sites)) return;
  r.sites = frame.sites.map((x) => ({
    site_id: x.site_id, site_name: x.site_name, delivered_at: x.delivered_at, read_at: x.read_at, acked_at: x.acked_at,
  }));
  updateHistoryItem(entry);
  persist();
}

function onRelayAnswers(frame) {
  const [entry, r] = relayOfEntry(frame.alert_id);
  if (!r) return;
  r.answers = Array.isArray(frame.by_site) ? frame.by_site : [];
  updateHistoryItem(entry);
  persist();
}

/* ---- Own sites ------------------------------------------------------------ */

function onOwnReceipts(frame) {
  const entry = desk.entries.get(frame.alert_id);
  if (!entry || !Array.isArray(frame.sites)) return;
  entry.own_sites = frame.sites.map((x) => ({
    site_id: x.site_id, site_name: x.site_name, delivered_at: x.delivered_at, read_at: x.read_at,
    acked_at: x.acked_at, answer: x.answer ?? null, answered_at: x.answered_at ?? null,
  }));
  updateHistoryItem(entry);
  persist();
  if (bannerShows(entry)) renderBanner();
}

function onSiteReceipt(frame) {
  if (!Number.isFinite(frame.site_id)) return;
  const entry = desk.entries.get(frame.alert_id);
  const [relayEntry, r] = entry ? [null, null] : relayOfEntry(frame.alert_id);
  if (entry) {
    entry.own_sites = entry.own_sites || [];
    mergeSite(entry.own_sites, frame);
    updateHistoryItem(entry);
    if (bannerShows(entry)) renderBanner();
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
}

export function setupReceipts() {
  const { session } = desk;
  session.on('receipts', onRelayReceipts);
  session.on('answers', onRelayAnswers);
  if (desk.canAck) return;
  session.on('welcome', () => {
    for (const e of recent()) for (const r of e.relays || []) relayReceiptsSoon(r.relay_id);
  });
  session.on('alert', (frame) => { if (Number.isFinite(frame.alert?.id)) ownReceiptsSoon(frame.alert.id); });
  session.on('welcome', () => {
    for (const e of recent()) ownReceiptsSoon(e.alert.id);
  });
  session.on('receipts', onOwnReceipts);
  session.on('site_receipt', onSiteReceipt);
}

// The per-site views are extra: never bother the desk.
export function onReceiptsError(frame) {
  if (frame.code === 'unknown_type') receiptsUnsupported = true;
}
