// admin/desk.js: what the admin page's panels share (issue 17, item 10):
// the session, the lists the broker last gave (`admin` op `list`), and
// send(), the one way a panel asks for a change: the `admin` frame, its
// answer or typed error routed back to the form that asked (the input
// named by the error's field is marked), the one-time password shown
// once (password.js), and the lists asked for again after every change.

import {
  el, showError, describeError, setInvalid, isUnsupported, unsupportedText,
} from '../ui.js';
import { showPassword } from './password.js';

export const desk = {
  session: null,
  lists: { orgs: [], sites: [], users: [], sectors: [] },
  pending: new Map(),    // ref -> {form, error, onDone}
  renderers: [],         // panels' render(lists), called when the lists change
  error: null,           // #admin-error
};

/* A panel's render(lists), called now and whenever the lists change. */
export function onLists(render) {
  desk.renderers.push(render);
  render(desk.lists);
}

export function requestLists() {
  if (!desk.session.request('admin', { op: 'list' })) {
    showError(desk.error, 'Not connected: the lists load when the connection is back.');
  }
}

function setBusy(form, on) {
  if (!form) return;
  form.setAttribute('aria-busy', on ? 'true' : 'false');
  for (const b of form.querySelectorAll('button[type="submit"]')) b.disabled = on;
}

/* Asks for op with its members; the answer goes to onDone(frame), an
 * error next to form (in error). Returns false when not connected. */
export function send(op, members, { form = null, error = desk.error, onDone = null } = {}) {
  showError(error, '');
  if (form) for (const n of form.querySelectorAll('[aria-invalid]')) setInvalid(n, false);
  const ref = desk.session.request('admin', { op, ...members });
  if (!ref) {
    showError(error, 'Not connected to the broker: nothing was changed. Try again when the connection is back.');
    return false;
  }
  desk.pending.set(ref, { form, error, onDone });
  setBusy(form, true);
  return true;
}

function onAdmin(frame) {
  const p = desk.pending.get(frame.ref);
  desk.pending.delete(frame.ref);
  setBusy(p?.form, false);
  if (frame.op === 'list') {
    showError(desk.error, '');
    desk.lists = {
      orgs: frame.orgs || [], sites: frame.sites || [], users: frame.users || [], sectors: frame.sectors || [],
    };
    for (const render of desk.renderers) render(desk.lists);
    return;
  }
  p?.onDone?.(frame);
  const row = Array.isArray(frame.rows) ? frame.rows[0] : null;
  if (frame.password && row) showPassword(row.username, frame.password);
  requestLists();
}

/* The form's input for an error's field ("fields.name", "slug"). */
function inputFor(form, field) {
  const name = String(field || '').split('.').pop();
  return name && form ? form.querySelector(`[name="${CSS.escape(name)}"]`) : null;
}

function onError(frame, req) {
  if (req?.type !== 'admin') {
    if (req?.type !== 'ping') showError(desk.error, describeError(frame));
    return;
  }
  const p = desk.pending.get(req.ref) || {};
  desk.pending.delete(req.ref);
  setBusy(p.form, false);
  const text = isUnsupported(frame) ? unsupportedText('Administration in the browser')
    : `${req.op === 'list' ? 'The lists could not be loaded' : 'Not done'}: ${describeError(frame)}`;
  showError(p.error || desk.error, text);
  const node = inputFor(p.form, frame.field);
  if (node) {
    setInvalid(node, true);
    node.focus();
  }
}

function onLost(requests) {
  for (const r of requests) {
    const p = desk.pending.get(r.ref);
    if (!p) continue;
    desk.pending.delete(r.ref);
    setBusy(p.form, false);
    showError(p.error, 'The connection dropped before the broker answered: check the lists before trying again.');
  }
}

/* ---- What the panels' tables and forms have in common */

/* A table cell saying whether the row is disabled. */
export function stateCell(disabled) {
  return el('td', { class: 'state', dataset: { disabled: disabled ? 'true' : 'false' } }, disabled ? 'Disabled' : 'Active');
}

/* A small button in a row: text, its class, what it says to a screen
 * reader, and what it does. */
export function rowButton(text, cls, label, onClick) {
  const b = el('button', { type: 'button', class: `btn btn-small ${cls}`, 'aria-label': label }, text);
  b.addEventListener('click', onClick);
  return b;
}

/* Fills a <select> with [value, text] choices, keeping the one chosen
 * when it is still there. */
export function setOptions(select, choices) {
  const keep = select.value;
  select.replaceChildren(...choices.map(([value, text]) => el('option', { value: String(value) }, text)));
  if (choices.some(([v]) => String(v) === keep)) select.value = keep;
}

/* Whether the person means it (a change that ends sessions). */
export function confirmed(question) {
  return window.confirm(question);
}

export function setupDesk(session) {
  desk.session = session;
  desk.error = document.getElementById('admin-error');
  session.on('welcome', requestLists);
  session.on('admin', onAdmin);
  session.on('error', onError);
  session.on('lost', onLost);
}
