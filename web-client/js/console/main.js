// console/main.js: console.html, the desk of a guarded building
// (site_console) and of a security company (company_operator). This file
// only starts the desk: the state is desk.js, each panel is a module.
//
// Alerts arrive as `alert` frames, and at every sign-in the alerts in
// force for the desk (`in_force`, inforce.js). The most urgent one still
// waiting fills #alert-banner until it is acknowledged (site consoles) or
// dismissed (company operators, who do not acknowledge); every alert also
// goes into the history #alerts, newest first. A site console tells the broker when
// an alert has been on screen (`read`). The desk keeps its position in the
// alert stream (localStorage, per user) and resumes from it on every
// connection, so alerts sent while it was offline arrive as replays.
//
// The partnership (docs/protocol.md §2b): alerts in full (status,
// category, instruction, area, classification, relay note, images),
// answers to the control room's questions, `site_acked` from another
// console of the site, the building status form and report requests, the
// "Report to police" form; for company operators their sites' board and
// relaying an alert to their sites.
//
// The panels register their frame handlers in this order, which matters
// where two handle one frame (the stream adds an alert before the company
// desk's receipts and map look it up).

import { requireSession } from '../session.js';
import { setupHeader, bindConnIndicator } from '../ui.js';
import { createSound } from '../sound.js';
import { initDesk, announce } from './desk.js';
import { setupBanner, renderPlace, renderBanner } from './banner.js';
import { setupAnswers } from './answers.js';
import { restoreHistory } from './items.js';
import { setupStream } from './stream.js';
import { setupInForce } from './inforce.js';
import { restoreNotes } from './family.js';
import { setupRead } from './read.js';
import { setupAck } from './ack.js';
import { setupRelay } from './relay.js';
import { setupReceipts } from './receipts.js';
import { setupSites } from './sites.js';
import { setupStatusForm } from './statusform.js';
import { setupReportForm } from './reportform.js';
import { setupCrimeUpload } from './crimeupload.js';
import { setupConnection } from './connection.js';

function main({ token, user }) {
  const desk = initDesk({ token, user });
  setupHeader(user, desk.session);
  bindConnIndicator(desk.session, document.getElementById('conn'));
  desk.sound = createSound(document.getElementById('sound'), {
    banner: document.getElementById('sound-blocked'), unblock: document.getElementById('sound-unblock'),
  });
  setupBanner();
  setupAnswers();
  restoreHistory();
  restoreNotes();
  renderPlace();
  renderBanner();
  setupStream();
  setupInForce();
  setupRead();
  setupAck();
  setupRelay();
  setupReceipts();
  setupSites();
  // Building status (site consoles) and reports to police (both).
  desk.statusForm = desk.canAck ? setupStatusForm(desk.session, { announce }) : null;
  desk.reportForm = setupReportForm(desk.session, token, { isConsole: desk.canAck });
  if (!desk.canAck) setupCrimeUpload(token); // a company desk's bulk records
  setupConnection();
  desk.session.start();
}

requireSession(['site_console', 'company_operator']).then((signedIn) => { if (signedIn) main(signedIn); });
