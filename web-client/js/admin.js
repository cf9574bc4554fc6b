// admin.js: admin.html. Administration is done with tocsinctl on the
// broker host; this page only says so, names the user and signs out.

import { requireSession } from './session.js';
import { setupHeader } from './ui.js';

requireSession(['admin']).then((signedIn) => {
  if (!signedIn) return;
  const { user } = signedIn;
  setupHeader(user, null);
  document.getElementById('admin-name').textContent = user.display_name || user.username || '';
  document.getElementById('org-name').textContent = user.org_name || '';
});
