// control/verify.js: the control room checks every alert the broker sends
// it whole (an alert in force, at sign-in or live; an escalation) with the
// consoles' code (signed.js: WebCrypto Ed25519 against GET
// /api/keys/alerts), marks its entry in the sent list verified or
// UNVERIFIED (sent-item.js), and reports a failure to the broker once
// (`alert_unverified`, audited), as a console does. What this page itself
// sent is shown from its own request: it is checked when the broker sends
// it back (the in_force list at the next sign-in).

import { brokerKeys } from '../signed.js';
import { room } from './room.js';
import { refreshSent } from './sent-item.js';

const keys = brokerKeys();

/* Checks frame.alert (with frame.signature) for the record rec shows. */
export function checkSent(rec, frame) {
  const a = frame.alert;
  if (!a || !Number.isFinite(a.id) || rec.signature === 'valid') return;
  keys.verify(a, frame.signature).catch(() => 'unknown_key').then((result) => {
    if (rec.signature === 'valid') return;
    rec.signature = result;
    refreshSent(rec);
    if (result !== 'valid' && !rec.signatureReported) {
      rec.signatureReported = true;
      room.session.request('alert_unverified', { alert_id: a.id, reason: result });
    }
  });
}

/* The relay's members the desk shows, as the signed relay alert n.alert
 * has them: 1 when the notice n says the same. */
function sameAsSigned(n) {
  const a = n.alert;
  const rel = a?.relay || {};
  return a?.id === n.relay_id && (n.alert_id === undefined || rel.of === n.alert_id) &&
    (n.by_org_id ?? null) === (rel.by_org_id ?? null) && (n.note ?? null) === (rel.note ?? null);
}

/* Checks relay r of record rec from a frame n that carries it signed (a
 * relay_notice, or an in_force: n.alert, n.signature). r.signature becomes
 * a word of verify(), 'bad' when the notice's members are not the signed
 * alert's. A failure stays: the relay arrives signed more than once, and
 * an intact copy does not vouch for a note altered in another. Reported
 * once, for the relay. */
export function checkRelay(rec, r, n) {
  if (!n.alert) return;
  keys.verify(n.alert, n.signature).catch(() => 'unknown_key').then((result) => {
    if (r.signature && r.signature !== 'valid') return;
    r.signature = result === 'valid' && !sameAsSigned(n) ? 'bad' : result;
    refreshSent(rec);
    if (r.signature !== 'valid' && !r.signatureReported) {
      r.signatureReported = true;
      room.session.request('alert_unverified', { alert_id: r.relay_id, reason: r.signature });
    }
  });
}
