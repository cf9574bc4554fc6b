// control/cancel.js: a sent entry's Update and Cancel buttons. Update opens
// the compose form on the alert (compose.js, update mode); Cancel asks
// window.confirm(), then publishes `msg_type: "cancel"` with `references`
// only. Errors, and a cancellation lost with the connection, show in the
// entry's .entry-error.

import { showError, describeError } from '../ui.js';
import { exerciseWord } from '../vocab.js';
import { room, itemFor } from './room.js';
import { refreshSent } from './sent-item.js';

function entryError(id, message) {
  const node = itemFor(id)?.querySelector('.entry-error');
  if (node) showError(node, message);
}

function cancelAlert(id) {
  const rec = room.sent.get(id);
  if (!rec) return;
  entryError(id, '');
  const word = exerciseWord(rec.status);
  const ok = window.confirm(`Cancel ${word ? `the ${word.toLowerCase()} ` : ''}alert “${rec.headline}”?\n\n` +
    `Every recipient will be told to stand down. This cannot be undone.`);
  if (!ok) return;
  const ref = room.session.request('publish', { msg_type: 'cancel', references: id });
  if (!ref) {
    entryError(id, 'Not connected to the broker: the cancellation was not sent. Try again when the connection is back.');
    return;
  }
  room.cancelling.set(ref, id);
  refreshSent(rec);
}

/* The buttons of every entry, present and future (sent-item.js makes them). */
export function setupCancel() {
  const { sentList } = room.dom;
  sentList.addEventListener('click', (ev) => {
    const b = ev.target.closest('button.update, button.cancel');
    const li = b && sentList.contains(b) ? b.closest('[data-alert-id]') : null;
    if (!li) return;
    const id = Number(li.dataset.alertId);
    if (b.classList.contains('cancel')) {
      cancelAlert(id);
      return;
    }
    const r = room.sent.get(id);
    if (r) room.compose.startUpdate(r);
  });
}

/* The broker refused a cancellation. */
export function onCancelError(frame, req) {
  const id = room.cancelling.get(req.ref) ?? req.references;
  room.cancelling.delete(req.ref);
  if (room.sent.has(id)) refreshSent(room.sent.get(id));
  entryError(id, `The cancellation was not sent: ${describeError(frame)}`);
}

/* A cancellation on the wire when the connection dropped. */
export function cancelLost(r) {
  const id = room.cancelling.get(r.ref);
  room.cancelling.delete(r.ref);
  if (room.sent.has(id)) refreshSent(room.sent.get(id));
  entryError(id, 'The connection dropped before the broker confirmed the cancellation: check whether it went out before trying again.');
}
