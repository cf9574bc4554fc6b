// inspector/main.js: inspector.html, the duty inspector's page (issue 23).
// A duty inspector sees every alert held for a second person, live, with
// exactly what would be sent, and approves or rejects it (never one they
// wrote); nothing else: the list and its actions are the control room's
// (control/releases.js), and the broker refuses the inspector everything
// but release_approve and release_reject (docs/security.md, the access
// matrix). Only the inspector role comes here (session.js sends the
// others to their page).

import { Session, requireSession } from '../session.js';
import { setupHeader, bindConnIndicator } from '../ui.js';
import { setupReleases } from '../control/releases.js';

function main({ token, user }) {
  const session = new Session(token);
  setupHeader(user, session);
  bindConnIndicator(session, document.getElementById('conn'));
  document.getElementById('org-name').textContent = user.org_name || '';
  setupReleases({ session, user, mayDecide: true });
  session.start();
}

requireSession(['inspector']).then((signedIn) => { if (signedIn) main(signedIn); });
