// analyst/crime-api.js: the crime picture over HTTP (docs/protocol.md,
// "The crime picture (HTTP)"): POST /api/crime/<view> with the sign-in
// token and the filter as JSON. The database decides what the user may
// see and audits each view as a consultation.

import { getToken } from '../session.js';

/* An Error with the broker's code, field and HTTP status. */
function crimeError(status, body) {
  const e = body?.error || {};
  const err = new Error(e.message || `the crime picture could not be read (HTTP ${status})`);
  err.code = e.code || 'network';
  err.field = e.field || null;
  err.status = status;
  return err;
}

/* view: 'picture' or 'records'; resolves to the answer's JSON. */
export async function crimeView(view, filter, token) {
  let res;
  try {
    res = await fetch(`/api/crime/${view}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${getToken() || token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(filter),
    });
  } catch {
    throw crimeError(0, { error: { code: 'network', message: 'The broker could not be reached.' } });
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) throw crimeError(res.status, body);
  return body;
}
