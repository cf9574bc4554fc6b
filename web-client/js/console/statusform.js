// console/statusform.js: a site console's quick status report
// (docs/protocol.md §2b "Building status"): `status` → `status_ok`. When
// the control room asks (`report_request`) the form is highlighted and the
// next status carries `in_reply_to`.
//
// The form is filled from the last status sent. While a report-now
// request waits, each number still as it was filled in is stale
// (data-stale="true", a "Still right" button beside it, issue 17 item 8)
// until the person changes it or presses the button; the status then
// names the numbers left stale in `stale`, so the police know which were
// confirmed. first_aiders and where the trauma packs and defibrillators
// are may be left empty.

import {
  el, showError, describeError, formatTime, clock, isUnsupported, unsupportedText, setInvalid,
} from '../ui.js';
import { loadCache, saveCache } from '../session.js';
import { STATUS_COUNTS } from '../vocab.js';

const REQUIRED = STATUS_COUNTS.filter((k) => k !== 'first_aiders');
const WHERE = ['trauma_packs_where', 'defibrillators_where'];
const WHERE_MAX = 200;
const idOf = (k) => `status-${k.replace(/_/g, '-')}`;

/* Marks the counts still as filled in from the last status while a
 * request waits; returns {mark(lastSent), clear(), stale()}. */
function staleMarks(inputs, note) {
  const stale = new Set();
  const buttons = {};

  function render() {
    for (const k of STATUS_COUNTS) {
      inputs[k].dataset.stale = stale.has(k) ? 'true' : 'false';
      buttons[k].hidden = !stale.has(k);
    }
    note.hidden = stale.size === 0;
  }
  function confirm(k) {
    stale.delete(k);
    render();
  }
  for (const k of STATUS_COUNTS) {
    const label = inputs[k].labels?.[0]?.textContent.trim() || k;
    buttons[k] = el('button', { type: 'button', class: 'btn btn-small confirm-count', dataset: { field: k },
      'aria-label': `${label}: still right`, hidden: true }, 'Still right');
    buttons[k].addEventListener('click', () => { confirm(k); inputs[k].focus(); });
    inputs[k].after(el('span', { class: 'stale-mark', 'aria-hidden': 'true' }, 'From the last report'), buttons[k]);
    inputs[k].setAttribute('aria-describedby', note.id);
    inputs[k].addEventListener('input', () => confirm(k));
  }
  render();
  return {
    mark(last) {
      stale.clear();
      for (const k of STATUS_COUNTS) {
        if (Number.isInteger(last?.[k]) && inputs[k].value === String(last[k])) stale.add(k);
      }
      render();
    },
    clear() {
      stale.clear();
      render();
    },
    stale: () => STATUS_COUNTS.filter((k) => stale.has(k)),
  };
}

/* The status frame from the form, or null once fail(message, input)
 * has said what is wrong. */
function readForm(inputs, marks, fail) {
  const frame = {};
  for (const k of STATUS_COUNTS) {
    const raw = inputs[k].value.trim();
    const v = Number(raw);
    if (raw === '' && !REQUIRED.includes(k)) continue;
    if (raw === '' || !Number.isInteger(v) || v < 0 || v > 100000) {
      const what = inputs[k].labels?.[0]?.textContent || k;
      fail(`${what}: enter a whole number from 0 to 100,000.`, inputs[k]);
      return null;
    }
    frame[k] = v;
  }
  for (const k of WHERE) {
    const v = inputs[k].value.trim();
    if (v.length > WHERE_MAX) {
      fail(`${inputs[k].labels?.[0]?.textContent || k}: at most ${WHERE_MAX} characters.`, inputs[k]);
      return null;
    }
    if (v) frame[k] = v;
  }
  frame.cctv = inputs.cctv.value;
  frame.state = inputs.state.value;
  const note = inputs.note.value.trim();
  if (note.length > 500) {
    fail('The note is longer than 500 characters.', inputs.note);
    return null;
  }
  if (note) frame.note = note;
  const stale = marks.stale();
  if (stale.length) frame.stale = stale;
  return frame;
}

export function setupStatusForm(session, { announce } = {}) {
  const $ = (id) => document.getElementById(id);
  const panel = $('status-panel');
  const form = $('status-form');
  const error = $('status-error');
  const result = $('status-result');
  const requestNote = $('status-request');
  const send = $('status-send');
  const inputs = {
    cctv: $('status-cctv'),
    state: $('status-state'),
    note: $('status-note'),
  };
  for (const k of [...STATUS_COUNTS, ...WHERE]) inputs[k] = $(idOf(k));
  panel.hidden = false;
  const marks = staleMarks(inputs, $('status-stale-note'));

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
    for (const k of STATUS_COUNTS) if (Number.isInteger(v[k])) inputs[k].value = String(v[k]);
    for (const k of WHERE) inputs[k].value = v[k] || '';
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
    const frame = readForm(inputs, marks, fail);
    if (!frame) return null;
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
      delete lastSent.stale;
      if (req.in_reply_to && request && request.request_id === req.in_reply_to) request = null;
    }
    persist();
    renderRequest();
    marks.clear();
    result.textContent = `Status sent at ${frame.reported_at ? formatTime(frame.reported_at) : clock(new Date())}${req?.in_reply_to ? ', in answer to the police request' : ''}.`;
    result.hidden = false;
  });

  session.on('report_request', (frame) => {
    request = { request_id: frame.request_id, by: frame.by || '', at: frame.requested_at || new Date().toISOString() };
    persist();
    renderRequest();
    marks.mark(lastSent);
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
  if (request) marks.mark(lastSent);

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
