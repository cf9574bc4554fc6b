// console/words.js: what the desk says about an alert, in words: its
// kind, category, relay, question, status, escalations, and the receipts
// of the company desk's sites. Text only, no DOM.
//
// Alerts in full (docs/protocol.md §2b): exercise and test alerts say so
// on every screen; an update or a cancel replaces the alert it references;
// an alert past `expires` is no longer current.

import { formatTime } from '../ui.js';
import { sourceText } from '../source.js';
import {
  SEVERITIES, CATEGORY_LABELS, URGENCY_LABELS, CERTAINTY_LABELS, label, exerciseWord,
} from '../vocab.js';
import { desk, siteName } from './desk.js';

const STATUS_TEXT = {
  new: 'New',
  acked: 'Acknowledged',
  seen: 'Seen',
  failed: 'Not acknowledged',
  cancelled: 'Cancelled',
  superseded: 'Updated',
  expired: 'Expired',
  ended: 'No longer in force',
  closed: 'Stood down',
};

export function exerciseText(a) {
  const w = exerciseWord(a.status);
  return w ? `${w} — not a real incident` : '';
}

export function categoryText(a) {
  const parts = [label(CATEGORY_LABELS, a.category)];
  if (a.urgency && a.urgency !== 'unknown') parts.push(`${label(URGENCY_LABELS, a.urgency)} urgency`);
  if (a.certainty && a.certainty !== 'unknown') parts.push(label(CERTAINTY_LABELS, a.certainty));
  return parts.filter(Boolean).join(' · ');
}

export function relayText(a) {
  const r = a.relay;
  if (!r) return '';
  return `Relayed by ${r.by_org_name || 'your security company'}${r.note ? `: ${r.note}` : ''}`;
}

/* The company's notes on an alert: its own (a relay shown alone), and
 * those of the relays of it that this desk got (shown on the force's
 * alert, not as alerts of their own: family.js). */
export function relayNotes(entry) {
  const own = relayText(entry.alert);
  const attached = (entry.relay_notes || []).map((r) => relayText({ relay: r }));
  return [own, ...attached].filter(Boolean).join(' · ');
}

/* A cancellation: the stand-down, not a new alert. */
export function isStandDown(a) {
  return a.msg_type === 'cancel';
}

/* What a stand-down cancels: "Cancelled: <headline of the alert>". */
export function standDownWhat(a) {
  const ref = Number.isFinite(Number(a.references)) ? desk.entries.get(Number(a.references))?.alert : null;
  return `Cancelled: ${ref?.headline || a.headline || `alert ${a.references}`}`;
}

/* Why, when the controller said more than the alert did: a headline or
 * details of the cancellation's own. */
export function standDownReason(a) {
  const ref = Number.isFinite(Number(a.references)) ? desk.entries.get(Number(a.references))?.alert : null;
  const parts = [];
  if (a.headline && (!ref || a.headline !== ref.headline)) parts.push(a.headline);
  if (a.body && (!ref || a.body !== ref.body)) parts.push(a.body);
  return parts.length ? `Reason: ${parts.join(' — ')}` : '';
}

/* A cancellation asks the site for an answer only when the controller put
 * a question on it (one of its own, not the cancelled alert's). */
export function cancelAsks(a) {
  if (!isStandDown(a) || !a.request) return false;
  const ref = Number.isFinite(Number(a.references)) ? desk.entries.get(Number(a.references))?.alert : null;
  return !ref || JSON.stringify(ref.request) !== JSON.stringify(a.request);
}

/* Whether the site must acknowledge: every alert but a stand-down without
 * a question of its own (no second acknowledgement, issue 17 item 4). */
export function needsAck(entry) {
  return !isStandDown(entry.alert) || cancelAsks(entry.alert);
}

export function handlingText(a) {
  return a.handling ? `Handling: ${a.handling}` : '';
}

export function requestQuestion(rq) {
  if (!rq) return '';
  if (rq.kind === 'choice') return 'The control room asks for an answer:';
  if (rq.kind === 'number') return `The control room asks: ${rq.label || 'a number'} (${rq.min ?? 0} to ${rq.max ?? '…'})`;
  return '';
}

export function answerValue(v) {
  return v === null || v === undefined ? '' : String(v);
}

export function kindText(a, ref) {
  const about = ref ? `: ${ref.headline}` : '';
  if (a.msg_type === 'cancel') return `Cancelled — stand down${about}`;
  if (a.msg_type === 'update') return `Update${about}`;
  return '';
}

export function isExpired(a) {
  const t = a.expires ? Date.parse(a.expires) : NaN;
  return Number.isFinite(t) && t <= Date.now();
}

export function sevOf(alert) {
  return SEVERITIES.includes(alert.severity) ? alert.severity : 'minor';
}

// Who really sent it (../source.js).
export function senderText(alert) {
  return sourceText(alert);
}

export function siteNames(alert) {
  if (!Array.isArray(alert.sites) || !alert.sites.length) return '';
  return alert.sites.map((id) => siteName(id)).join(', ');
}

export function escalationText(entry) {
  const list = entry.escalations || [];
  if (!list.length) return '';
  const names = list.map((x) => `${x.site_name || siteName(x.site_id)} (${formatTime(x.escalated_at)})`);
  return `Not acknowledged in time by: ${names.join(', ')}`;
}

export function statusText(entry) {
  if (entry.status === 'new' && isExpired(entry.alert)) return STATUS_TEXT.expired;
  return STATUS_TEXT[entry.status] || entry.status;
}

export function alertText(a) {
  const ex = exerciseText(a);
  const kind = a.msg_type === 'cancel' ? 'cancellation' : a.msg_type === 'update' ? 'update' : 'alert';
  return `${ex ? `${ex}. ` : ''}${a.severity || ''} ${kind}: ${a.headline || ''}. From ${senderText(a)}.`;
}

/* A company desk may pass this alert on to its sites. */
export function relayable(entry) {
  const a = entry.alert;
  return !desk.canAck && !a.relay && a.msg_type !== 'cancel' && !a.cancelled &&
    entry.status !== 'cancelled' && entry.status !== 'superseded' && !entry.replaced && !isExpired(a) &&
    a.sender?.org_id !== desk.user.org_id;
}

export function relayedText(entry) {
  const list = entry.relays || [];
  if (!list.length) return '';
  return list.map((r) => {
    const t = r.tally;
    const counts = t ? ` — delivered ${t.delivered ?? 0}, acknowledged ${t.acknowledged ?? 0} of ${t.recipients ?? r.recipients}` : '';
    return `Relayed to ${r.recipients} site${r.recipients === 1 ? '' : 's'} at ${formatTime(r.at)}${r.note ? ` (“${r.note}”)` : ''}${counts}`;
  }).join('; ');
}

/* The banner's line for a company desk: how many of its sites that got
 * the alert acknowledged, read and answered it. */
export function ownSitesText(entry) {
  const list = entry.own_sites || [];
  if (!list.length) return '';
  const n = (f) => list.filter(f).length;
  const answered = n((x) => x.answer != null);
  return `Our sites: ${n((x) => x.acked_at)} of ${list.length} acknowledged, ${n((x) => x.read_at)} read` +
    (answered ? `, ${answered} answered` : '');
}

/* A site's receipt state in words: acknowledged / read / delivered / not yet. */
export function receiptState(x) {
  return x.acked_at ? `acknowledged ${formatTime(x.acked_at)}`
    : x.read_at ? `read ${formatTime(x.read_at)}, not acknowledged`
      : x.delivered_at ? `delivered ${formatTime(x.delivered_at)}, not acknowledged` : 'not yet received';
}
