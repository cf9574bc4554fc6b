// console/ack.js: acknowledging (site consoles) and dismissing (company
// desks; a site console's stand-down is closed, not acknowledged) the
// alert in the banner: `ack` → `acked`, acknowledgements
// clicked offline sent once the connection is back, `site_acked` when
// another console of the site acknowledged first, and ack errors.

import { showError } from '../ui.js';
import { desk, persist, bannerShows, announce, ACK_FINAL_ERRORS } from './desk.js';
import { updateHistoryItem } from './items.js';
import { needsAck } from './words.js';
import { renderBanner, refocusAction } from './banner.js';

/* ack is idempotent (`already` says so): sending it again is safe. */
export function sendAck(id) {
  if (desk.ackInFlight.has(id)) return;
  const ref = desk.session.request('ack', { alert_id: id });
  if (ref) desk.ackInFlight.set(id, ref);
}

function onAction() {
  const id = Number(desk.dom.banner.dataset.alertId);
  const entry = desk.entries.get(id);
  if (!entry || entry.status !== 'new') return;
  if (!desk.canAck || !needsAck(entry)) {
    // a company desk's dismiss, or a stand-down closed: no acknowledgement
    entry.status = desk.canAck ? 'closed' : 'seen';
    updateHistoryItem(entry);
    persist();
    renderBanner();
    refocusAction();
    return;
  }
  desk.ackQueue.add(id);
  sendAck(id);
  renderBanner();
}

function onAcked(frame) {
  const id = frame.alert_id;
  desk.ackQueue.delete(id);
  desk.ackInFlight.delete(id);
  const entry = desk.entries.get(id);
  if (entry) {
    entry.status = 'acked';
    entry.acked_at = frame.acked_at || new Date().toISOString();
    updateHistoryItem(entry);
    persist();
  }
  const { consoleError } = desk.dom;
  if (consoleError.dataset.kind === 'ack') showError(consoleError, '');
  const wasShowing = desk.dom.banner.dataset.alertId === String(id);
  if (wasShowing) desk.sound.stop();
  renderBanner();
  if (wasShowing) refocusAction();
}

// Another console of this site acknowledged first: stop ringing here,
// and say who did.
function onSiteAcked(frame) {
  const id = frame.alert_id;
  const entry = desk.entries.get(id);
  const siteId = desk.user.site_id;
  if (!entry || (siteId && frame.site_id && frame.site_id !== siteId)) return;
  const wasShowing = bannerShows(entry);
  desk.ackQueue.delete(id);
  if (entry.status !== 'acked') {
    entry.status = 'acked';
    entry.acked_at = frame.acked_at || new Date().toISOString();
    entry.acked_by = frame.by || 'another console';
  }
  updateHistoryItem(entry);
  persist();
  if (wasShowing) desk.sound.stop();
  renderBanner();
  announce(`“${entry.alert.headline || 'Alert'}” was acknowledged by ${frame.by || 'another console'} at this site.`);
  if (wasShowing) refocusAction();
}

export function setupAck() {
  desk.dom.actionBtn.addEventListener('click', onAction);
  desk.session.on('acked', onAcked);
  desk.session.on('site_acked', onSiteAcked);
}

/* An ack refused: a final refusal takes the alert out of the queue. */
export function onAckError(frame, req) {
  const id = req.alert_id;
  desk.ackInFlight.delete(id);
  desk.ackQueue.delete(id);
  const entry = desk.entries.get(id);
  if (entry && ACK_FINAL_ERRORS.has(frame.code)) {
    entry.status = 'failed';
    updateHistoryItem(entry);
    persist();
  }
  renderBanner();
}
