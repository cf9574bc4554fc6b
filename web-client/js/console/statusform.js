// console/statusform.js: a site console's quick status report
// (docs/protocol.md §2b "Building status"): `status` → `status_ok`. When
// the control room asks (`report_request`) the form is highlighted and the
// next status carries `in_reply_to`.

import {
  showError, describeError, formatTime, clock, isUnsupported, unsupportedText, setInvalid,
} from '../ui.js';
import { loadCache, saveCache } from '../session.js';

const NUMBERS = ['people', 'officers', 'trauma_packs', 'first_aid_kits', 'defibrillators'];

export function setupStatusForm(session, { announce } = {}) {
  const $ = (id) => document.getElementById(id);
  const panel = $('status-panel');
  const form = $('status-form');
  const error = $('status-error');
  const result = $('status-result');
  const requestNote = $('status-request');
  const send = $('status-send');
  const inputs = {
    people: $('status-people'),
    officers: $('status-officers'),
    trauma_packs: $('status-trauma-packs'),
    first_aid_kits: $('status-first-aid-kits'),
    defibrillators: $('status-defibrillators'),
    cctv: $('status-cctv'),
    state: $('status-state'),
    note: $('status-note'),
  };
  panel.hidden = false;

  // The last status sent from this tab fills the form again; an
  // unanswered report request survives a reload.
  const saved = loadCache('status', null);
  let lastSent = saved && typeof saved === 'object' ? saved.last : null;
  let request = saved && typeof saved === 'object' ? saved.request : null; // {request_id, by, at}
  let pendingRef = null;

  function persist() {
    saveCache('status', { last: lastSent, request });
  }

  function fill(v) {
    if (!v) return;
    for (const k of NUMBERS) if (Number.isInteger(v[k])) inputs[k].value = String(v[k]);
    if (v.cctv) inputs.cctv.value = v.cctv;
    if (v.state) inputs.state.value = v.state;
    inputs.note.value = v.note || '';
  }

  function fail(message, node) {
    showError(error, message);
    result.hidden = true;
    if (node) {
      setInvalid(node, true);
      node.focus();
    }
  }

  function renderRequest() {
    panel.classList.toggle('requested', Boolean(request));
    requestNote.hidden = !request;
    requestNote.textContent = request
      ? `Police asked for a status report${request.by ? ` (${request.by})` : ''}${request.at ? ` at ${formatTime(request.at)}` : ''}. Check the numbers and send.`
      : '';
    send.textContent = request ? 'Send status to police' : 'Send status';
  }

  for (const n of Object.values(inputs)) n.addEventListener('input', () => setInvalid(n, false));

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (pendingRef) return;
    showError(error, '');
    for (const n of Object.values(inputs)) setInvalid(n, false);
    const frame = {};
    for (const k of NUMBERS) {
      const raw = inputs[k].value.trim();
      const v = Number(raw);
      if (raw === '' || !Number.isInteger(v) || v < 0 || v > 100000) {
        const what = inputs[k].labels?.[0]?.textContent || k;
        return fail(`${what}: enter a whole number from 0 to 100,000.`, inputs[k]);
      }
      frame[k] = v;
    }
    frame.cctv = inputs.cctv.value;
    frame.state = inputs.state.value;
    const note = inputs.note.value.trim();
    if (note.length > 500) return fail('The note is longer than 500 characters.', inputs.note);
    if (note) frame.note = note;
    if (request) frame.in_reply_to = request.request_id;
    const ref = session.request('status', frame);
    if (!ref) return fail('Not connected to the broker: the status was not sent. Send it again when the connection is back.');
    pendingRef = ref;
    send.disabled = true;
    form.setAttribute('aria-busy', 'true');
    return null;
  });

  session.on('status_ok', (frame, req) => {
    if (frame.ref === pendingRef) pendingRef = null;
    send.disabled = false;
    form.setAttribute('aria-busy', 'false');
    showError(error, '');
    if (req) {
      lastSent = { ...req };
      delete lastSent.type;
      delete lastSent.ref;
      delete lastSent.in_reply_to;
      if (req.in_reply_to && request && request.request_id === req.in_reply_to) request = null;
    }
    persist();
    renderRequest();
    result.textContent = `Status sent at ${frame.reported_at ? formatTime(frame.reported_at) : clock(new Date())}${req?.in_reply_to ? ', in answer to the police request' : ''}.`;
    result.hidden = false;
  });

  session.on('report_request', (frame) => {
    request = { request_id: frame.request_id, by: frame.by || '', at: frame.requested_at || new Date().toISOString() };
    persist();
    renderRequest();
    result.hidden = true;
    if (announce) announce(`Police asked for a status report${frame.by ? ` (${frame.by})` : ''}. The status form is below.`);
  });

  session.on('lost', (requests) => {
    if (requests.some((r) => r.ref === pendingRef)) {
      pendingRef = null;
      send.disabled = false;
      form.setAttribute('aria-busy', 'false');
      fail('The connection dropped before the broker confirmed this status: send it again when the connection is back.');
    }
  });

  fill(lastSent);
  renderRequest();

  return {
    onError(frame) {
      pendingRef = null;
      send.disabled = false;
      form.setAttribute('aria-busy', 'false');
      if (isUnsupported(frame)) return fail(unsupportedText('Sending the building status'));
      const f = String(frame.field || '');
      const node = inputs[f.split(/[.[]/)[0]] || (f === 'in_reply_to' ? null : null);
      if (f === 'in_reply_to') {
        // The request is no longer valid: forget it, keep the form.
        request = null;
        persist();
        renderRequest();
      }
      return fail(`The status was not sent: ${describeError(frame)}`, node);
    },
  };
}
