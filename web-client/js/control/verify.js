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
