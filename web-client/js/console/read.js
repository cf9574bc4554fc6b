// console/read.js: read receipts (site consoles): the alert in the banner,
// on a visible page, has been put before a person; the desk says so once
// with `read`. Best effort: a refusal never bothers the desk.

import { desk, persist, ACK_FINAL_ERRORS } from './desk.js';

let readUnsupported = false;    // the broker answered `read` with unknown_type

export function maybeSendRead() {
  const { banner } = desk.dom;
  if (!desk.canAck || readUnsupported || !desk.session.connected || document.visibilityState !== 'visible') return;
  const id = Number(banner.dataset.alertId);
  const entry = desk.entries.get(id);
  if (!entry || banner.hidden || entry.read_at || desk.readInFlight.has(id)) return;
  if (desk.session.request('read', { alert_id: id })) desk.readInFlight.add(id);
}

export function setupRead() {
  document.addEventListener('visibilitychange', maybeSendRead);
  desk.session.on('read_ok', (frame) => {
    desk.readInFlight.delete(frame.alert_id);
    const entry = desk.entries.get(frame.alert_id);
    if (entry) {
      entry.read_at = frame.read_at || new Date().toISOString();
      persist();
    }
  });
}

// Read receipts are best effort and never bother the desk.
export function onReadError(frame, req) {
  desk.readInFlight.delete(req.alert_id);
  if (frame.code === 'unknown_type') readUnsupported = true;
  else if (ACK_FINAL_ERRORS.has(frame.code)) {
    const entry = desk.entries.get(req.alert_id);
    if (entry) entry.read_at = 'refused';
  }
}
