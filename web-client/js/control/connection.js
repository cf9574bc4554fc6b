// control/connection.js: the control room's session wiring: what it asks
// for on every `welcome` (receipts of recent alerts, the board, the
// inbox), the `directory` (every panel that names sites), requests lost
// with a dropped connection, and every `error` frame shown next to what
// caused it (#compose-error, #preview-result, .entry-error, #board-error,
// #area-totals-error, #report-now-error, #inbox-error). An unknown_type
// error or "not implemented" reads "… is not available on this broker
// yet" and the rest of the page keeps working.

import { describeError } from '../ui.js';
import { room, itemFor } from './room.js';
import { refreshRecent, onReceiptsError } from './receipts.js';
import { renderRelays } from './sent-item.js';
import { onCancelError, cancelLost } from './cancel.js';
import {
  requestBoard, rerenderBoard, onBoardError, onTotalsError, totalsLost,
} from './board-panel.js';
import {
  renderReportNow, renderReportNowArea, onReportNowError, reportNowLost,
} from './reportnow.js';
import { onInboxError, requestInbox, inboxDirectory } from './inbox.js';

let directoryRetry = null;

function onError(frame, req) {
  const { compose } = room;
  const type = req ? req.type : null;
  switch (type) {
    case 'ping':
    case 'site_history': // shown in the history dialog (history.js)
      return;
    case 'receipts':
      onReceiptsError(frame, req);
      return;
    case 'directory':
      compose.showError(`The directory could not be loaded: ${describeError(frame)}. Retrying…`, 'directory');
      clearTimeout(directoryRetry);
      directoryRetry = setTimeout(() => room.session.request('directory'), 5000);
      return;
    case 'publish':
      if (req.msg_type === 'cancel') {
        onCancelError(frame, req);
        return;
      }
      compose.onError(frame, req);
      return;
    case 'preview':
      compose.onError(frame, req);
      return;
    case 'board':
      onBoardError(frame);
      return;
    case 'area_totals':
      onTotalsError(frame);
      return;
    case 'report_now':
      onReportNowError(frame);
      return;
    case 'inbox':
    case 'report_update':
    case 'import_reject':
      onInboxError(frame, req);
      return;
    case 'release_approve':
    case 'release_reject':
      return; // shown on the held alert (releases.js)
    default:
      compose.showError(describeError(frame), 'server');
  }
}

function onLost(requests) {
  room.compose.onLost(requests);
  for (const r of requests) {
    if (r.type === 'directory') clearTimeout(directoryRetry);
    if (r.type === 'publish' && r.msg_type === 'cancel') cancelLost(r);
    if (r.type === 'area_totals') totalsLost();
    if (r.type === 'report_now') reportNowLost();
  }
}

function onDirectory(frame) {
  const { compose, user } = room;
  clearTimeout(directoryRetry);
  if (document.getElementById('compose-error').dataset.kind === 'directory') compose.showError('');
  room.directory = {
    orgs: Array.isArray(frame.orgs) ? frame.orgs : [],
    sites: Array.isArray(frame.sites) ? frame.sites : [],
  };
  const own = room.directory.orgs.find((o) => o.id === user.org_id);
  if (own) document.getElementById('org-name').textContent = own.name;
  compose.setDirectory(room.directory);
  room.composeMap.render();
  rerenderBoard();
  for (const rec of room.sent.values()) {
    const item = itemFor(rec.alert_id);
    if (item && rec.relays?.length) renderRelays(item, rec);
  }
  renderReportNow();
  renderReportNowArea();
  inboxDirectory(room.directory);
}

export function setupConnection() {
  const { session, compose } = room;
  session.on('preview', (frame, req) => compose.onPreview(frame, req));
  session.on('welcome', () => {
    refreshRecent();
    requestBoard();
    requestInbox();
  });
  session.on('error', onError);
  session.on('lost', onLost);
  session.on('directory', onDirectory);
}
