// control/main.js: control.html, the force control room. Compose and
// publish alerts (compose.js), watch each alert's tally, answers and
// relays, update or cancel it (sent.js, sent-item.js, cancel.js,
// receipts.js); the status board, its map and area totals
// (board-panel.js), report-now (reportnow.js), the inbox of partner
// reports (inbox.js) (docs/protocol.md §2b), the room's sounds
// (chimes.js) and the crime picture (js/analyst/crime-panel.js). This
// file only starts the room: the state is room.js, each panel is a
// module, set up in the order their frame handlers always ran.

import { requireSession } from '../session.js';
import { el, setupHeader, bindConnIndicator } from '../ui.js';
import { initRoom } from './room.js';
import { createCompose } from './compose.js';
import { setupComposeMap } from './composemap.js';
import { TEMPLATES, templateById } from './templates.js';
import { setupSent } from './sent.js';
import { setupInForce } from './inforce.js';
import { setupCancel } from './cancel.js';
import { setupBoardPanel } from './board-panel.js';
import { setupReportNow, renderReportNowArea } from './reportnow.js';
import { setupInbox, linkReport } from './inbox.js';
import { setupConnection } from './connection.js';
import { setupChimes } from './chimes.js';
import { setupReleases } from './releases.js';
import { onHeld } from './compose-send.js';
import { setupCrimePanel } from '../analyst/crime-panel.js';

/* Templates and drawing the area. */
function setupTemplates(room) {
  const templateSel = document.getElementById('template');
  for (const t of TEMPLATES) templateSel.append(el('option', { value: t.id }, t.title));
  document.getElementById('template-apply').addEventListener('click', () => {
    const t = templateById(templateSel.value);
    if (t) room.compose.applyTemplate(t);
  });
  room.composeMap = setupComposeMap({ compose: room.compose, sites: () => room.directory.sites });
}

function main({ token, user }) {
  const room = initRoom({ token, user });
  const { session } = room;
  setupHeader(user, session);
  bindConnIndicator(session, document.getElementById('conn'));
  document.getElementById('org-name').textContent = user.org_name || '';
  room.compose = createCompose({
    session,
    token,
    onAreaChange: () => {
      renderReportNowArea();
      room.composeMap?.render();
    },
    onReportPublished: linkReport,
  });
  setupTemplates(room);
  setupSent();
  setupInForce();
  setupCancel();
  setupBoardPanel();
  setupReportNow();
  setupInbox();
  setupConnection();
  setupChimes();
  setupReleases({ session, user, mayDecide: room.isController, onHeld });
  setupCrimePanel(room);
  session.start();
}

requireSession(['controller', 'analyst']).then((signedIn) => { if (signedIn) main(signedIn); });
