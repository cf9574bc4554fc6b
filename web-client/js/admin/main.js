// admin/main.js: admin.html, administration in the browser (issue 17,
// item 10): sites with a map pin (sites.js), console devices and users
// (people.js), organisations (orgs.js), each change an `admin` frame
// through desk.js, whose one-time passwords password.js shows once. Only
// the admin role comes here (session.js sends the others to their page).

import { Session, requireSession } from '../session.js';
import { setupHeader, bindConnIndicator } from '../ui.js';
import { setupDesk } from './desk.js';
import { setupPassword } from './password.js';
import { setupSites } from './sites.js';
import { setupPeople } from './people.js';
import { setupOrgs } from './orgs.js';

function main({ token, user }) {
  const session = new Session(token);
  setupHeader(user, session);
  bindConnIndicator(session, document.getElementById('conn'));
  document.getElementById('org-name').textContent = user.org_name || '';
  setupDesk(session);
  setupPassword();
  setupSites();
  setupPeople();
  setupOrgs();
  session.start();
}

requireSession(['admin']).then((signedIn) => { if (signedIn) main(signedIn); });
