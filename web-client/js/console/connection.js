// console/connection.js: what the desk does when the connection changes or
// the broker refuses something: requests lost with a dropped connection,
// the large offline warning, and every `error` frame sent to the panel
// that caused it (`answer`, `status`, `report`, `relay`, `board` next to
// their form; others to #console-error).

import { formatTime, showError, describeError } from '../ui.js';
import { desk } from './desk.js';
import { renderBanner } from './banner.js';
import { answerLost, onAnswerError } from './answers.js';
import { relayLost, onRelayError } from './relay.js';
import { onReadError } from './read.js';
import { onAckError } from './ack.js';
import { onReceiptsError } from './receipts.js';
import { onBoardError } from './sites.js';

function onLost(requests) {
  for (const r of requests) {
    if (r.type === 'ack') desk.ackInFlight.delete(r.alert_id);
    if (r.type === 'read') desk.readInFlight.delete(r.alert_id);
    if (r.type === 'answer') answerLost(r);
    if (r.type === 'relay') relayLost(r);
  }
  renderBanner();
}

function onError(frame, req) {
  const type = req ? req.type : null;
  switch (type) {
    case 'ping': return;
    case 'read': onReadError(frame, req); return;
    case 'answer': onAnswerError(frame, req); return;
    case 'status': desk.statusForm?.onError(frame); return;
    case 'report':
    case 'crime_report': desk.reportForm?.onError(frame); return;
    case 'relay': onRelayError(frame, req); return;
    case 'board': onBoardError(frame); return;
    case 'site_history': return; // shown in the history dialog (history.js)
    case 'receipts': onReceiptsError(frame); return;
    default: break;
  }
  let kind = 'server';
  if (type === 'ack') {
    kind = 'ack';
    onAckError(frame, req);
  }
  if (type === 'directory') {
    kind = 'directory';
    setTimeout(() => desk.session.request('directory'), 5000);
  }
  const { consoleError } = desk.dom;
  showError(consoleError, `${formatTime(new Date().toISOString())} — ${describeError(frame)}`);
  consoleError.dataset.kind = kind;
}

export function setupConnection() {
  const { session } = desk;
  session.on('lost', onLost);
  // An offline desk must not look calm: say so in large type.
  session.on('state', (state) => {
    document.getElementById('offline-warning').hidden = state !== 'reconnecting';
    renderBanner();
  });
  session.on('error', onError);
}
